"""Class 6 — memory is bounded by the screen, not by the trace.

Hostile-but-valid traces play and cast under `prlimit --as` of 1 GB: a small file of 65,536-GPU
telemetry (the player keeps one sample and what the screen shows), millions of rows sharing one
time (beats are cut every MAX_BEAT_LINES lines, so Ctrl-C and --exit-after act within a beat
instead of after the whole pile), and `info` of a ~300 MB trace streams. A malloc that
fails under a smaller limit is one line, not a bug.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from reliability_kit import LLMSIM, Pty, assert_one_line_error, env
from synthetic import config

from llmsim.player import PlayOptions
from llmsim.player.scheduler.playlist import MAX_BEAT_LINES, iter_show
from llmsim.player.views.renderer import RenderOptions
from llmsim.trace import TraceWriter, make_table
from llmsim.trace.config import MAX_GPUS
from llmsim.trace.schema import LIST_COLUMNS, META_CONFIG, META_VERSION, SCHEMA, SCHEMA_VERSION

GB = 1 << 30
LIMIT = ["prlimit", f"--as={GB}"]


def many_gpus(path: Path, samples: int = 8) -> Path:
    """Telemetry of MAX_GPUS GPUs: a file of ~100 kB that holds millions of values."""
    n = MAX_GPUS
    hosts = tuple(f"n{i:05d}" for i in range(n // 8))
    cfg = config(gpus=n, nodes=n // 8, dp=n // 2, hostnames=hosts)
    pattern = (np.arange(samples * n) % 7).reshape(samples, n)  # varied, yet compressible
    with TraceWriter(path, cfg) as writer:
        start = {"t": [0.0], "kind": ["phase"], "phase": ["train"], "text": ["Training"]}
        writer.write(make_table(1, start))
        columns: dict[str, object] = {"t": np.arange(1.0, samples + 1), "kind": "telemetry"}
        for name in sorted(LIST_COLUMNS - {"gpu_health"}):
            columns[name] = (40 + pattern).astype(np.float32)
        columns["gpu_health"] = (pattern == 6).astype(np.int8)
        writer.write(make_table(samples, {"phase": "train", **columns}))
    return path


def one_time(path: Path, rows: int) -> Path:
    """`rows` log rows all at t = 1, then one more at t = 2."""
    with TraceWriter(path, config()) as writer:
        block = make_table(
            1 << 16,
            {"t": 1.0, "kind": "log", "phase": "train", "level": "INFO", "source": "plain"},
        )
        block = block.set_column(7, SCHEMA.field("text"), pa.array(["same time"] * (1 << 16)))
        for _ in range(rows >> 16):
            writer.write(block)
        writer.write(block.slice(0, rows % (1 << 16)))
        writer.write(make_table(1, {"t": 2.0, "kind": "log", "phase": "train", "text": "end"}))
    return path


def big(path: Path, megabytes: int = 260, gpus: int = 1024) -> Path:
    """A trace of incompressible telemetry (~300 MB for 260), written by pyarrow directly."""
    per_row = gpus * (4 * 5 + 1)
    rows = megabytes * 1_000_000 // per_row
    rng = np.random.default_rng(1)
    hosts = tuple(f"n{i:03d}" for i in range(gpus // 8))
    cfg = config(gpus=gpus, nodes=gpus // 8, dp=gpus // 2, hostnames=hosts)
    block_rows = 256
    columns: dict[str, object] = {"t": np.zeros(block_rows), "kind": "telemetry"}
    for name in sorted(LIST_COLUMNS - {"gpu_health"}):
        columns[name] = rng.uniform(0, 99, (block_rows, gpus)).astype(np.float32)
    columns["gpu_health"] = rng.integers(0, 3, (block_rows, gpus)).astype(np.int8)
    block = make_table(block_rows, {"phase": "train", **columns})
    meta = {META_VERSION: SCHEMA_VERSION.encode(), META_CONFIG: cfg.to_json().encode()}
    schema = SCHEMA.with_metadata(meta)
    options = {"compression": "none", "use_dictionary": ["kind", "phase"]}
    with pq.ParquetWriter(str(path), schema, **options) as writer:  # type: ignore[arg-type]
        for start in range(0, rows, block_rows):
            t = pa.array(np.arange(start, start + block_rows, dtype=np.float64))
            writer.write_table(block.set_column(0, SCHEMA.field("t"), t), 16_384)
    return path


class Started:
    """The module's processes, started together (they are CPU-bound; the machine has cores
    to spare while one waits), each test then checks its own."""

    def __init__(self, folder: Path) -> None:
        self.gpus = many_gpus(folder / "gpus.parquet")
        self.pile = one_time(folder / "pile.parquet", 4 << 20)  # 4M rows at one time
        self.big = big(folder / "big.parquet")
        self.pile_out = folder / "pile-out.txt"
        self.started = time.monotonic()
        pile = [*LIMIT, *LLMSIM, "play", "--color", "never", str(self.pile)]
        with self.pile_out.open("wb") as sink:
            self.interrupted = _popen(pile, stdout=sink)
        self.after = _popen([*pile, "--exit-after", "0.5s"], stdout=subprocess.DEVNULL)
        self.cast = _popen([*LIMIT, *LLMSIM, "cast", str(self.gpus), "-o", str(folder / "x.cast")])
        self.roomy = _popen([*LIMIT, *LLMSIM, "info", str(self.big)])
        self.tight = _popen(["prlimit", "--as=400000000", *LLMSIM, "info", str(self.big)])
        # On a terminal: the grid of 65,536 GPUs is laid out for every sample (classic), and
        # tmux's monitor and cluster sweep are drawn from every sample.
        play = ("play", "--once", "--speed", "100")
        self.player = Pty(*play, "--layout", "classic", str(self.gpus), cols=120, rows=40)
        self.tmux = Pty(*play, "--layout", "tmux", str(self.gpus), cols=120, rows=40)

    def stop(self) -> None:
        self.player.kill()
        self.tmux.kill()
        for proc in (self.interrupted, self.after, self.cast, self.roomy, self.tight):
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def _popen(argv: list[str], stdout: Any = subprocess.PIPE) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE, env=env())


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Started]:
    runs = Started(tmp_path_factory.mktemp("memory"))
    try:
        yield runs
    finally:
        runs.stop()


def test_hostile_traces_are_small_files_with_big_contents(started: Started) -> None:
    """Controls: the hostile traces are what they claim."""
    assert started.gpus.stat().st_size < 250_000  # the was 207 kB
    assert pq.ParquetFile(started.gpus).metadata.num_rows == 9
    assert pq.ParquetFile(started.pile).metadata.num_rows == (4 << 20) + 1
    assert started.big.stat().st_size > 280_000_000


def test_ctrl_c_and_exit_after_act_within_a_beat_on_a_pile(started: Started) -> None:
    """Ctrl-C deep in 4M rows at one time stops the player within one beat of lines, not after
    the pile. Measured in lines printed after the signal, which no load on the machine changes:
    the player is frozen (SIGSTOP) while its output is measured and the signal is sent."""
    proc = started.interrupted
    while started.pile_out.stat().st_size < 100_000:  # playing, and deep in the pile
        assert proc.poll() is None
        assert time.monotonic() - started.started < 300, "the pile never started playing"
        time.sleep(0.02)
    proc.send_signal(signal.SIGSTOP)
    printed = started.pile_out.stat().st_size
    proc.send_signal(signal.SIGINT)  # pending until it runs again
    proc.send_signal(signal.SIGCONT)
    assert proc.wait(timeout=120) == 130
    out = started.pile_out.read_bytes()
    after = out[printed:].count(b"\n")
    # at most the beat being formed and the one held for writing (MAX_BEAT_LINES lines each:
    # the runner writes held lines as it stops) and the closing bytes; when one beat held the
    # pile, millions of lines came after the signal
    assert after <= 2 * MAX_BEAT_LINES + 10, after
    assert out.count(b"\n") < 1_000_000  # the pile is 4M lines: it did stop
    assert started.after.wait(timeout=120) == 0  # --exit-after 0.5s ends it too
    assert started.after.communicate()[1] == b""
    assert proc.communicate()[1] == b""


def test_many_gpus_play_and_cast_under_one_gigabyte(started: Started) -> None:
    assert started.player.finish(timeout=60) == 0
    received = bytes(started.player.received)
    assert b"65,536" in received and b"\xe2\x96\xa0" in received  # the grid's cells
    assert started.tmux.finish(timeout=60) == 0
    assert b"Every " in bytes(started.tmux.received)  # watch's title over nvidia-smi
    _, err = started.cast.communicate(timeout=60)
    assert (started.cast.returncode, err) == (0, b"")


def test_info_streams_a_big_trace_and_a_failed_malloc_is_one_line(started: Started) -> None:
    out, err = started.roomy.communicate(timeout=60)
    assert (started.roomy.returncode, err) == (0, b"") and b"(trace v2" in out
    _, err = started.tight.communicate(timeout=60)  # a limit too small for it
    assert started.tight.returncode == 1
    assert_one_line_error(err, "not enough memory")


def test_rows_sharing_one_time_make_bounded_beats(tmp_path: Path) -> None:
    rows = 5 * MAX_BEAT_LINES
    pile = one_time(tmp_path / "pile.parquet", rows)
    options = PlayOptions(once=True)
    sizes = [len(beat.logs) for beat in iter_show([pile], options, RenderOptions())]
    assert max(sizes) <= MAX_BEAT_LINES
    assert sum(sizes) >= rows  # every line still comes out
