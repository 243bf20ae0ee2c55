"""Class 6 — memory is bounded by the screen, not by the trace.

Hostile-but-valid traces play and cast under `prlimit --as` of 1 GB: a small file of 65,536-GPU
telemetry (the player keeps one sample and what the screen shows), millions of rows sharing one
time (beats are cut every MAX_BEAT_LINES lines, so Ctrl-C and --exit-after act within a beat
instead of after the whole pile), and `info` of a ~300 MB trace streams. A malloc that
fails under a smaller limit is one line, not a bug. Text is bounded in total: a 79 kB trace of
20,000 rows of 65,000-character text (3.7 GB for `play`) stays small in play, info and every
kind of cast, measured as each process's peak resident memory (wait4); a beat, a frame and the
lines held back while behind hold a bounded amount of text; an HTML page is written as the
recording is made, never held whole.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
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

from llmsim.bundled import find_bundled
from llmsim.player import CastOptions, PlayOptions
from llmsim.player.cast import export_cast
from llmsim.player.scheduler.clock import Clock
from llmsim.player.scheduler.playlist import MAX_BEAT_LINES, MAX_BEAT_TEXT, iter_show, text_size
from llmsim.player.scheduler.runner import MAX_PENDING_TEXT, Runner
from llmsim.player.sinks import Frame
from llmsim.player.sinks.cast import CastSink
from llmsim.player.views.renderer import RenderOptions
from llmsim.trace import TraceWriter, make_table
from llmsim.trace.config import MAX_GPUS
from llmsim.trace.reader import MAX_GROUP_TEXT, MAX_TEXT
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


# --- text bounded in total ------------------------------------------------------------------------

MB = 1 << 20
RESIDENT_LIMIT = 500 * MB  # the bound for play, info and cast of any accepted trace


def long_lines(path: Path, rows: int, kind: str = "phase", column: str = "text") -> Path:
    """`rows` rows of `kind` whose `column` holds the same 65,000 characters: a file of tens
    of kB (one dictionary entry) that holds `rows` x 65 kB of text."""
    line = ("x" * 63 + " ") * (65_000 // 64) + "y" * (65_000 % 64)
    extra = {"level": "INFO", "source": "plain"} if kind == "log" else {}
    with TraceWriter(path, config()) as writer:
        for start in range(0, rows, 4000):  # a row group at a time: this process stays small
            n = min(4000, rows - start)
            t = (start + np.arange(n)) * 0.001
            columns = {"t": t, "kind": kind, "phase": "train", column: line, **extra}
            writer.write(make_table(n, columns))
    return path


# A process's peak resident memory, as its parent sees it (wait4). Measured from a small
# launcher: Linux carries the high-water mark of the memory a process was forked with across
# exec, so a child of this (big) test process would report this process's size.
LAUNCH = (
    "import resource, subprocess, sys\n"
    "status = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
    "print(status, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def _peak(argv: list[str]) -> tuple[int, int, bytes]:
    """Run `llmsim ARGV` to its end: (status, peak resident bytes, stderr)."""
    proc = subprocess.run(
        [sys.executable, "-c", LAUNCH, *LLMSIM, *argv],
        capture_output=True,
        env=env(),
        check=True,
        timeout=300,
    )
    status, kib = proc.stdout.split()
    return int(status), int(kib) * 1024, proc.stderr


def test_a_small_trace_of_long_lines_stays_small(tmp_path: Path) -> None:
    """The issue's example: 20,000 rows of 65,000 characters in a file of tens of kB (play 3.7
    GB, info 2.4 GB, the `path` variant 4.75 GB). Each command's peak resident memory stays
    under 500 MB: the text columns are read as dictionaries, Events share their strings."""
    text = long_lines(tmp_path / "text.parquet", 20_000)
    path = long_lines(tmp_path / "path.parquet", 20_000, column="path")
    assert text.stat().st_size < 120_000 and path.stat().st_size < 120_000
    commands = [
        ["play", "--once", "--speed", "1e6", str(text)],
        ["info", "--json", str(text)],
        ["cast", str(text), "-o", "-"],
        ["play", "--once", "--speed", "1e6", str(path)],
    ]
    for argv in commands:
        status, peak, err = _peak(argv)
        assert (status, err) == (0, b""), argv
        assert peak < RESIDENT_LIMIT, (argv, peak // MB)


def test_a_row_group_of_too_much_text_is_refused_in_one_line(tmp_path: Path) -> None:
    """Distinct long strings cannot share a dictionary entry: a row group with more than
    MAX_GROUP_TEXT bytes of text is refused, by its footer, before it is read; the other traces
    of the playlist play."""
    rows = MAX_GROUP_TEXT // 60_000 + 10
    texts = [f"{i:06d}" + "z" * 59_994 for i in range(rows)]  # compresses, yet all distinct
    heavy = tmp_path / "heavy.parquet"
    with TraceWriter(heavy, config()) as writer:
        columns = {"t": np.arange(rows) * 1.0, "kind": "phase", "phase": "train", "text": texts}
        writer.write(make_table(rows, columns))
    assert heavy.stat().st_size < 2_000_000
    good = tmp_path / "good.parquet"
    long_lines(good, 10, kind="log")
    status, peak, err = _peak(["play", "--once", "--speed", "1e6", str(heavy), str(good)])
    assert status == 1 and peak < RESIDENT_LIMIT
    assert_one_line_error(err, "heavy.parquet", "row group 0 holds", "bytes of text")


def test_beats_and_frames_hold_bounded_text(tmp_path: Path) -> None:
    """Lines of up to 64 KiB are shown whole (MAX_TEXT), so beats are cut by text as well as by
    lines, and the lines held back while behind are written once they are MAX_PENDING_TEXT."""
    rows = 200  # 13 MB of text, all at (nearly) one time
    trace = long_lines(tmp_path / "long.parquet", rows, kind="log")
    options = PlayOptions(once=True, layout="plain")  # the job's lines, whole
    beats = list(iter_show([trace], options, RenderOptions(verbatim=True)))
    sizes = [text_size(beat.logs) for beat in beats]
    assert max(sizes) <= MAX_BEAT_TEXT + 2 * MAX_TEXT
    assert sum(sizes) >= rows * 65_000  # every line, whole

    class Behind(Clock):
        def due(self, at: float) -> bool:  # always late: every beat's lines are held back
            return True

    frames: list[int] = []

    class Sink:
        def start(self) -> None: ...
        def prepare(self, view: object) -> None: ...
        def resize(self) -> None: ...
        def suspend(self) -> None: ...
        def resume(self) -> None: ...
        def notice(self, message: str) -> None: ...
        def close(self, at: float) -> None: ...
        def show(self, frame: Frame) -> None:
            frames.append(text_size(frame.logs))

    Runner(Sink(), Behind.virtual()).run(iter(beats))
    assert sum(frames) == sum(sizes)
    assert max(frames) <= MAX_PENDING_TEXT + MAX_BEAT_TEXT + 2 * MAX_TEXT


def test_html_is_written_as_it_is_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's example: the HTML export held the whole recording (1.65 GB for four 3.2 MB
    traces; 6.05 GB for four 9.9 MB ones, measured), and wrote the page only at the end. Now the
    page grows on disk while the runs are recorded, and embeds the cast file's bytes."""
    trace = find_bundled("llama-3-8b-sft")
    assert trace is not None
    html, cast = tmp_path / "r.html", tmp_path / "r.cast"
    written: list[int] = []
    real = CastSink.show

    def show(self: CastSink, frame: Frame) -> None:
        real(self, frame)
        temp = [p for p in tmp_path.iterdir() if p.name.startswith(".r.html.")]
        written.append(temp[0].stat().st_size if temp else 0)

    monkeypatch.setattr(CastSink, "show", show)
    assert export_cast([trace, trace], str(html), CastOptions(), report=print) == 0
    monkeypatch.undo()
    assert export_cast([trace, trace], str(cast), CastOptions(), report=print) == 0
    page = html.read_text("utf-8")
    assert written[len(written) // 2] > len(page) // 3  # half-way, a third of the page is out
    start = page.index('var cast = "') + len("var cast = ")
    end = page.index('";\n', start) + 1
    assert json.loads(page[start:end]) == cast.read_text("utf-8")


def test_a_row_group_read_in_many_batches_converts_its_text_once(
    synthetic_trace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row group cut into many batches (wide telemetry) shares one dictionary of text: its
    values are made once, not once per batch (a 32 MiB dictionary per one-row batch would be a
    hang), and every row still gets its own text."""
    import llmsim.trace.reader as reader_module
    from llmsim.trace import open_trace

    whole = [
        (ev.t, ev.kind, ev.text, ev.path, ev.gpu_util)
        for ev in open_trace(synthetic_trace).events()
    ]
    monkeypatch.setattr(reader_module, "MAX_BATCH_VALUES", 16 * 6)  # one row of lists a batch
    made: list[int] = []
    real = reader_module._words

    def spy(dictionary: Any, held: Any, column: int) -> list[Any]:
        before = held.get(column)
        words = real(dictionary, held, column)
        made.append(int(before is None or before[1] is not words))
        return words

    monkeypatch.setattr(reader_module, "_words", spy)
    trace = open_trace(synthetic_trace)
    cut = [(ev.t, ev.kind, ev.text, ev.path, ev.gpu_util) for ev in trace.events()]
    assert cut == whole
    batches = len(made) // 9  # the nine dictionary columns
    assert batches > 10 * trace._pf.num_row_groups  # many batches...
    assert sum(made) <= 9 * trace._pf.num_row_groups  # ...one conversion per group and column
