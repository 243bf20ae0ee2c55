"""Writes are atomic: `generate` and `cast` never leave a half-written file under the final name.

Interrupted (Ctrl-C, SIGTERM, SIGHUP) they remove their temp file and exit quietly with 128+n;
killed (SIGKILL) they can leave only a hidden `.NAME.*.tmp`, which nothing reads and nothing
trips over; a full disk or a file-size limit is one line naming the file; an existing output
is never replaced without --force, not even one that appears while the file is being written.
"""

from __future__ import annotations

import resource
import signal
import subprocess
import time
from pathlib import Path

import pytest
from reliability_kit import LLMSIM, assert_one_line_error, env, run
from synthetic import config, write_trace

from llmsim.errors import InputError
from llmsim.player import CastOptions, export_cast
from llmsim.trace import TraceError, TraceWriter, make_table, open_trace
from llmsim.trace import writer as writer_module

BIG_RUN = ["--steps-per-epoch", "2000000", "--gpus", "1024", "--seed", "1"]  # minutes of work


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_trace(tmp_path_factory.mktemp("trace") / "synthetic.parquet")


def _start(args: list[str], folder: Path) -> subprocess.Popen[bytes]:
    """Start `llmsim ARGS` and return once its temp file exists in `folder` (mid-write)."""
    proc = subprocess.Popen(
        [*LLMSIM, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env()
    )
    deadline = time.monotonic() + 60
    while not list(folder.glob(".*.tmp")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no temp file appeared"
        time.sleep(0.02)
    time.sleep(0.3)  # well inside the write
    return proc


def _big_cast_args(trace: Path, out: Path) -> list[str]:
    return ["cast", *[str(trace)] * 400, "-o", str(out)]  # ~15 s of rendering


@pytest.mark.parametrize(
    ("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]
)
def test_interrupted_generate_leaves_nothing(
    tmp_path: Path, sig: signal.Signals, status: int
) -> None:
    proc = _start(["generate", "-o", str(tmp_path / "big.parquet"), *BIG_RUN], tmp_path)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status
    assert err == b""  # quiet: no traceback, no warning
    assert list(tmp_path.iterdir()) == []  # neither the trace nor its temp file


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_cast_leaves_nothing(
    tmp_path: Path, trace: Path, sig: signal.Signals, status: int
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = _start(_big_cast_args(trace, out_dir / "demo.cast"), out_dir)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status and err == b""
    assert list(out_dir.iterdir()) == []


def test_killed_generate_leaves_only_a_hidden_temp_file(tmp_path: Path, trace: Path) -> None:
    target = tmp_path / "big.parquet"
    proc = _start(["generate", "-o", str(target), *BIG_RUN], tmp_path)
    proc.kill()
    proc.wait(timeout=30)
    left = [p.name for p in tmp_path.iterdir()]
    assert not target.exists()
    assert len(left) == 1 and left[0].startswith(".big.parquet.") and left[0].endswith(".tmp")
    # Nothing reads it: the folder still holds no trace for play...
    proc2 = run("play", "--once", str(tmp_path))
    assert proc2.returncode == 1 and b"no *.parquet traces" in proc2.stderr
    # ...and it does not block writing the trace again.
    small = run("generate", "-o", str(target), "--seed", "1", "--steps-per-epoch", "5")
    assert small.returncode == 0, small.stderr
    assert open_trace(target).config.seed == 1


def test_killed_cast_leaves_only_a_hidden_temp_file(tmp_path: Path, trace: Path) -> None:
    proc = _start(_big_cast_args(trace, tmp_path / "demo.cast"), tmp_path)
    proc.kill()
    proc.wait(timeout=30)
    (left,) = [p.name for p in tmp_path.iterdir()]
    assert left.startswith(".demo.cast.") and left.endswith(".tmp")


def _limited(max_bytes: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # so write() fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))


@pytest.mark.parametrize("name", ["run.parquet", "run.cast", "run.html"])
def test_file_size_limit_is_one_line_and_no_file(tmp_path: Path, trace: Path, name: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    target = out / name
    if name.endswith(".parquet"):
        args = ["generate", "-o", str(target), "--seed", "1"]
    else:
        args = ["cast", str(trace), "-o", str(target)]
    proc = subprocess.run(
        [*LLMSIM, *args],
        capture_output=True,
        timeout=120,
        env=env(),
        preexec_fn=lambda: _limited(20_000),
        check=False,
    )
    assert proc.returncode == 1
    assert_one_line_error(proc.stderr, f"cannot write {target}: File too large")
    assert list(out.iterdir()) == []  # the temp file was removed too


@pytest.mark.parametrize(
    "args",
    [
        ["cast", "-o", "-"],
        ["play", "--once", "--speed", "1e6"],
        ["info"],
    ],
)
def test_full_stdout_is_one_line(trace: Path, args: list[str]) -> None:
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(
            [*LLMSIM, *args, str(trace)],
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=120,
            env=env(),
            check=False,
        )
    assert proc.returncode == 1
    assert_one_line_error(proc.stderr, "No space left on device")


def test_unwritable_places_are_one_line(tmp_path: Path, trace: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    proc = run("generate", "-o", str(blocker / "x.parquet"), "--seed", "1")
    assert proc.returncode == 1
    assert_one_line_error(proc.stderr, f"cannot write to {blocker}")
    proc = run("cast", str(trace), "-o", str(blocker / "x.cast"))
    assert proc.returncode == 1
    assert_one_line_error(proc.stderr, f"cannot write {blocker / 'x.cast'}")
    assert blocker.read_text() == "x"


def test_generate_never_overwrites_a_named_file_without_force(tmp_path: Path) -> None:
    target = tmp_path / "precious.parquet"
    target.write_bytes(b"precious")
    proc = run("generate", "-o", str(target), "--seed", "1", "--steps-per-epoch", "5")
    assert proc.returncode == 1
    assert_one_line_error(proc.stderr, str(target), "exists (use --force to overwrite)")
    assert target.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["precious.parquet"]


def test_trace_that_appears_mid_write_is_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "t.parquet"
    table = make_table(1, {"t": [0.0], "kind": ["phase"], "phase": ["init"], "text": ["x"]})
    with pytest.raises(TraceError, match="exists"), TraceWriter(target, config()) as writer:
        writer.write(table)
        target.write_bytes(b"someone else's")  # appears after the writer's own check
    assert target.read_bytes() == b"someone else's"
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]
    with TraceWriter(target, config(), overwrite=True) as writer:  # --force replaces it
        writer.write(table)
    assert open_trace(target).num_rows == 1


def test_cast_that_appears_mid_write_is_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "x.cast"
    good = write_trace(tmp_path / "good.parquet")
    bad = tmp_path / "bad.parquet"
    bad.write_text("not a trace")

    def meanwhile(message: str) -> None:  # called while the cast is being written
        target.write_text("someone else's")

    with pytest.raises(InputError, match="exists"):
        export_cast([bad, good], str(target), CastOptions(), report=meanwhile)
    assert target.read_text() == "someone else's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.parquet", "good.parquet", "x.cast"]
    export_cast([good], str(target), CastOptions(overwrite=True), report=meanwhile)
    assert target.read_text().startswith('{"version": 2')


def test_writer_that_cannot_start_removes_its_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer_module.pq, "ParquetWriter", refuse)
    with pytest.raises(TraceError, match="No space left on device"):
        TraceWriter(tmp_path / "t.parquet", config()).__enter__()
    assert list(tmp_path.iterdir()) == []


def test_no_hard_links_falls_back_to_a_checked_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: object, dst: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(writer_module.os, "link", no_links)
    table = make_table(1, {"t": [0.0], "kind": ["phase"], "phase": ["init"], "text": ["x"]})
    target = tmp_path / "t.parquet"
    with TraceWriter(target, config()) as writer:
        writer.write(table)
    assert open_trace(target).num_rows == 1
    target.unlink()
    with pytest.raises(TraceError, match="exists"), TraceWriter(target, config()) as writer:
        writer.write(table)
        target.write_bytes(b"x")  # appears mid-write: the fallback rename is checked too
    assert target.read_bytes() == b"x"
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]
