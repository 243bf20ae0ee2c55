"""Class 6 — memory is bounded by the screen, not by the trace.

Hostile-but-valid traces play and cast under `prlimit --as` of 1 GB: a small file of 65,536-GPU
telemetry (the player keeps one sample and what the screen shows), millions of rows sharing one
time (beats are cut every MAX_BEAT_LINES lines, so Ctrl-C and --exit-after act within about a
second instead of after the whole pile), and `info` of a ~300 MB trace streams. A malloc that
fails under a smaller limit is one line, not a bug.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from reliability_kit import LLMSIM, Pty, assert_one_line_error, env, run_all
from synthetic import config

from llmsim.player import PlayOptions
from llmsim.player.scheduler.playlist import MAX_BEAT_LINES, iter_show
from llmsim.player.views.renderer import RenderOptions
from llmsim.trace import TraceWriter, make_table
from llmsim.trace.config import MAX_GPUS
from llmsim.trace.schema import LIST_COLUMNS, META_CONFIG, META_VERSION, SCHEMA, SCHEMA_VERSION

GB = 1 << 30
LIMIT = ["prlimit", f"--as={GB}"]


def many_gpus(path: Path, samples: int = 20) -> Path:
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


@pytest.fixture(scope="module")
def gpus_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return many_gpus(tmp_path_factory.mktemp("gpus") / "gpus.parquet")


def test_hostile_traces_are_small_files(gpus_trace: Path, tmp_path: Path) -> None:
    """Controls: the hostile traces are what they claim (small files, huge contents)."""
    assert gpus_trace.stat().st_size < 250_000  # the was 207 kB
    assert pq.ParquetFile(gpus_trace).metadata.num_rows == 21
    pile = one_time(tmp_path / "pile.parquet", 70_000)
    assert pq.ParquetFile(pile).metadata.num_rows == 70_001


def test_many_gpus_play_and_cast_under_one_gigabyte(gpus_trace: Path, tmp_path: Path) -> None:
    commands = [
        [*LIMIT, *LLMSIM, "cast", str(gpus_trace), "-o", str(tmp_path / "x.cast")],
        [*LIMIT, *LLMSIM, "info", str(gpus_trace)],
    ]
    procs = [
        subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())
        for c in commands
    ]
    # On a terminal: the grid of 65,536 GPUs is laid out for every sample.
    player = Pty("play", "--once", "--speed", "100", str(gpus_trace), cols=120, rows=40)
    try:
        assert player.finish(timeout=60) == 0
        assert b"65,536" in player.received and b"\xe2\x96\xa0" in player.received  # ■ cells
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            assert (proc.returncode, err) == (0, b""), proc.args
    finally:
        player.kill()
        for proc in procs:
            proc.kill()


def test_rows_sharing_one_time_make_bounded_beats(tmp_path: Path) -> None:
    rows = 5 * MAX_BEAT_LINES
    pile = one_time(tmp_path / "pile.parquet", rows)
    options = PlayOptions(once=True)
    sizes = [len(beat.logs) for beat in iter_show([pile], options, RenderOptions())]
    assert max(sizes) <= MAX_BEAT_LINES
    assert sum(sizes) >= rows  # every line still comes out


def test_ctrl_c_and_exit_after_act_within_a_second_on_a_pile(tmp_path: Path) -> None:
    pile = one_time(tmp_path / "pile.parquet", 4 << 20)  # 4M rows at one time
    argv = [*LIMIT, *LLMSIM, "play", "--color", "never", str(pile)]
    started = time.monotonic()
    after = subprocess.Popen(
        [*argv, "--exit-after", "1s"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env()
    )
    interrupted = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env()
    )
    try:
        time.sleep(1.5)
        interrupted.send_signal(signal.SIGINT)
        stopped = time.monotonic()
        assert interrupted.wait(timeout=30) == 130
        assert time.monotonic() - stopped < 3  # (it took ~30 s when one beat held the pile)
        assert after.wait(timeout=30) == 0
        assert time.monotonic() - started < 6
        assert after.communicate()[1] == b"" and interrupted.communicate()[1] == b""
    finally:
        after.kill()
        interrupted.kill()


def test_info_streams_a_big_trace_and_a_failed_malloc_is_one_line(tmp_path: Path) -> None:
    trace = big(tmp_path / "big.parquet")
    assert trace.stat().st_size > 280_000_000
    roomy, tight = run_all(
        [
            [*LIMIT, *LLMSIM, "info", str(trace)],
            ["prlimit", "--as=400000000", *LLMSIM, "info", str(trace)],  # too little for it
        ]
    )
    assert roomy.returncode == 0, roomy.stderr
    assert b"telemetry" not in roomy.stderr and b"(trace v2" in roomy.stdout
    assert tight.returncode == 1, tight
    assert_one_line_error(tight.stderr, "not enough memory")
