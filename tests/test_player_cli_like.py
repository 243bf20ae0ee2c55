"""The player as a process writing to a pipe: line mode, colour rules, errors, signals, EPIPE."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llmsim.player.play import resolve_color

PLAYER = [sys.executable, "-m", "llmsim.player"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "LLMSIM_PLAYER_TIMING")}
    env.update(extra)
    return env


def _run(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*PLAYER, *args], capture_output=True, timeout=timeout, env=_env(**env), check=False
    )


def test_pipe_gets_plain_lines_without_escapes(synthetic_trace: Path) -> None:
    proc = _run(str(synthetic_trace), "--once", "--speed", "1e6", "--color", "never")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode("utf-8")
    assert "\x1b" not in out and "\r" not in out
    assert "Training summary" in out
    assert "✔ Training completed successfully!" in out
    assert "Saved: model-00001-of-00004.safetensors (4.98 GB)" in out
    assert "Loading checkpoint shards 100%|" in out  # finished bars are kept as lines
    assert "| step 60/60 |" in out
    assert proc.stderr == b""


def test_color_always_forces_sgr_in_line_mode(synthetic_trace: Path) -> None:
    proc = _run(str(synthetic_trace), "--once", "--speed", "1e6", "--color", "always")
    assert proc.returncode == 0
    out = proc.stdout.decode("utf-8")
    assert "\x1b[32mINFO" in out  # coloured level
    assert "\x1b[1;32m✔ Training completed successfully!" in out
    assert "\x1b[J" not in out and "\x1b[?25l" not in out  # still no cursor control


def test_auto_colour_rules() -> None:
    assert resolve_color("auto", True, {}) is True
    assert resolve_color("auto", True, {"NO_COLOR": "1"}) is False
    assert resolve_color("auto", True, {"TERM": "dumb"}) is False
    assert resolve_color("auto", False, {}) is False
    assert resolve_color("always", False, {"NO_COLOR": "1"}) is True
    assert resolve_color("never", True, {}) is False


def test_folder_expands_and_bad_traces_are_skipped(synthetic_trace: Path, tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    folder.mkdir()
    shutil.copy(synthetic_trace, folder / "b.parquet")
    (folder / "a.parquet").write_bytes(b"not parquet at all")
    proc = _run(str(folder), "--once", "--speed", "1e6", "--color", "never")
    assert proc.returncode == 0
    err = proc.stderr.decode().strip().splitlines()
    assert len(err) == 1 and "a.parquet" in err[0] and "Traceback" not in err[0]
    assert proc.stdout.decode().count("Training completed successfully!") == 1


def test_all_bad_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 nope")
    proc = _run(str(bad), str(tmp_path / "missing.parquet"), "--once", "--speed", "1e6")
    assert proc.returncode == 1
    err = proc.stderr.decode().strip().splitlines()
    assert len(err) == 2 and "Traceback" not in proc.stderr.decode()


def test_loops_with_transition_and_closed_pipe_is_quiet(synthetic_trace: Path) -> None:
    proc = subprocess.Popen(
        [*PLAYER, str(synthetic_trace), "--speed", "1e6", "--color", "never"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    assert proc.stdout is not None and proc.stderr is not None
    seen = b""
    deadline = time.monotonic() + 60
    while seen.count(b"Starting new training run...") < 2 and time.monotonic() < deadline:
        seen += proc.stdout.read1(65536)
    assert seen.count(b"Starting new training run...") >= 2  # loops forever by default
    proc.stdout.close()  # the reader goes away: EPIPE
    assert proc.wait(timeout=30) == 141
    assert proc.stderr.read() == b""  # no traceback, no message


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_stop_signals_end_cleanly(synthetic_trace: Path, sig: signal.Signals, status: int) -> None:
    proc = subprocess.Popen(
        [*PLAYER, str(synthetic_trace), "--speed", "1", "--color", "never"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # playing has started
    assert b"torchrun" in first
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == status
    assert err == b""


def test_exit_after_stops_with_status_zero(synthetic_trace: Path) -> None:
    start = time.monotonic()
    proc = _run(str(synthetic_trace), "--speed", "1", "--exit-after", "1.5", "--color", "never")
    assert proc.returncode == 0
    assert time.monotonic() - start < 60
    out = proc.stdout.decode()
    assert "torchrun" in out and "Training completed" not in out
