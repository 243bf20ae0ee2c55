"""Line mode: what a pipe, a file or a terminal without cursor addressing gets; colour rules."""

from __future__ import annotations

import os
import pty
import re
import shutil
from pathlib import Path

import pytest

from llmsim.player import PlayOptions, play
from llmsim.player.play import resolve_color
from llmsim.player.scheduler.clock import Clock


def _play(paths: list[Path], fd: int, **options: object) -> tuple[int, list[str]]:
    said: list[str] = []
    opts = PlayOptions(once=True, speed=1e6, **options)  # type: ignore[arg-type]
    return play(paths, opts, fd=fd, clock=Clock.virtual(), report=said.append), said


def _to_file(tmp_path: Path, paths: list[Path], **options: object) -> tuple[int, str, list[str]]:
    out = tmp_path / "out.txt"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        status, said = _play(paths, fd, **options)
    finally:
        os.close(fd)
    return status, out.read_text("utf-8"), said


def test_a_file_gets_plain_whole_lines(tmp_path: Path, synthetic_trace: Path) -> None:
    status, out, said = _to_file(tmp_path, [synthetic_trace], color="never")
    assert status == 0 and said == []
    assert "\x1b" not in out and "\r" not in out
    lines = out.splitlines()
    assert "Training summary" in out and "✔ Training completed successfully!" in lines
    assert any(x.endswith("Saved: model-00001-of-00004.safetensors (4.98 GB)") for x in lines)
    assert any(x.startswith("Loading checkpoint shards: 100%|") for x in lines)  # bars kept
    # Lines are never wrapped in line mode: the long NCCL line is one line.
    assert any(
        x.startswith("node-a01:1796:1796 [0] NCCL INFO Channel 00/24")
        and x.endswith("Init timings 0.812345s")
        for x in lines
    )


def test_colour_always_forces_sgr_but_no_cursor_control(
    tmp_path: Path, synthetic_trace: Path
) -> None:
    _, out, _ = _to_file(tmp_path, [synthetic_trace], color="always")
    assert re.search("\x1b\\[32mI\\d{4} ", out)  # a coloured torchrun stamp (wall clock)
    assert "\x1b[1;32m✔ Training completed successfully!" in out
    assert "\x1b[J" not in out and "\x1b[?25l" not in out and "\x1b[K" not in out


def test_a_dumb_terminal_gets_line_mode(
    synthetic_trace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERM", "dumb")
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    try:
        status, _ = _play([synthetic_trace], slave, color="auto")
        out = b""
        while True:
            try:
                chunk = os.read(master, 1 << 16)
            except BlockingIOError:
                break
            out += chunk
    finally:
        os.close(slave)
        os.close(master)
    assert status == 0 and b"Training completed successfully!" in out
    assert b"\x1b" not in out  # no cursor moves, and auto colour is off on a dumb terminal


def test_auto_colour_rules() -> None:
    assert resolve_color("auto", True, {}) is True
    assert resolve_color("auto", True, {"NO_COLOR": "1"}) is False
    assert resolve_color("auto", True, {"TERM": "dumb"}) is False
    assert resolve_color("auto", False, {}) is False
    assert resolve_color("always", False, {"NO_COLOR": "1"}) is True
    assert resolve_color("never", True, {}) is False


def test_a_folder_plays_its_traces_and_skips_bad_ones(
    tmp_path: Path, synthetic_trace: Path
) -> None:
    folder = tmp_path / "runs"
    folder.mkdir()
    shutil.copy(synthetic_trace, folder / "b.parquet")
    (folder / "a.parquet").write_bytes(b"not parquet at all")
    status, out, said = _to_file(tmp_path, [folder], color="never")
    # The good one plays; the status says one was skipped (docs/reliability.md).
    assert status == 1 and out.count("Training completed successfully!") == 1
    assert len(said) == 1 and "a.parquet" in said[0]


def test_nothing_playable_is_status_1_with_one_line_per_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 nope")
    status, out, said = _to_file(tmp_path, [bad, tmp_path / "missing.parquet"])
    assert status == 1 and out == ""
    assert len(said) == 2 and "bad.parquet" in said[0] and "missing.parquet" in said[1]
