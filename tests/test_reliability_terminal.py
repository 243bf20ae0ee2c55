"""Signals and terminals: SIGTERM, SIGHUP, Ctrl-C and SIGPIPE end cleanly with the terminal
restored; tiny terminals and live resizes never crash; a non-UTF-8 locale gets ASCII glyphs.

tmux gives a real terminal (own socket per test, killed afterwards); pyte checks screens fed
from a pty or a cast; shell pipelines check SIGPIPE.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pyte
import pytest
from playback import Recording, record
from reliability_kit import LLMSIM, REPO, UNICODE_TEXT, env, hostile_trace, run, run_in_pty
from synthetic import write_trace

from llmsim.player.play import resolve_ascii

DONE = "Training completed successfully!"
needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("terminal")
    return {
        "plain": write_trace(folder / "plain.parquet"),
        "hostile": hostile_trace(folder / "hostile.parquet", UNICODE_TEXT),
        "unicode": write_trace(folder / "unicode.parquet", inject=UNICODE_TEXT),
    }


class Tmux:
    """One tmux server on its own socket, one session `play` running a shell script."""

    def __init__(self, tmp: Path) -> None:
        self.socket = f"llmsim-rel-{uuid.uuid4().hex[:8]}"
        self.conf = tmp / "tmux.conf"
        self.conf.write_text("set -g set-clipboard on\nset -g history-limit 5000\n")

    def __call__(self, *args: str) -> str:
        proc = subprocess.run(
            ["tmux", "-L", self.socket, "-f", str(self.conf), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return proc.stdout

    def start(self, script: str, cols: int, rows: int, name: str = "play", **extra: str) -> None:
        variables = {"LANG": "C.UTF-8", "TERM": "screen-256color", **extra}
        self(
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            str(cols),
            "-y",
            str(rows),
            "-c",
            str(REPO),
            *(x for k, v in variables.items() for x in ("-e", f"{k}={v}")),
            "bash",
            "-c",
            script,
        )

    def lines(self, *flags: str) -> list[str]:
        return self("capture-pane", "-p", *flags, "-t", "play").splitlines()

    def wait_for(
        self, what: str, check: Callable[[list[str]], bool], timeout: float = 60
    ) -> list[str]:
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        while time.monotonic() < deadline:
            lines = self.lines()
            if check(lines):
                return lines
            time.sleep(0.1)
        pytest.fail(f"timed out waiting for {what}; pane:\n" + "\n".join(lines))

    def player_pid(self) -> int:
        shell = int(self("display", "-p", "-t", "play", "#{pane_pid}").strip())
        children = Path(f"/proc/{shell}/task/{shell}/children")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            pids = children.read_text().split()
            if pids:
                return int(pids[0])
            time.sleep(0.05)
        pytest.fail("the player process did not start")

    def kill_server(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, check=False)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    t = Tmux(tmp_path)
    try:
        yield t
    finally:
        t.kill_server()


def _play_script(*args: str) -> str:
    return shlex.join([*LLMSIM, "play", *args]) + "; echo EXIT=$?; sleep 600"


def _exited(lines: list[str]) -> bool:
    return any("EXIT=" in x for x in lines)


def _sgr_params(line: str) -> set[str]:
    return {p for seq in re.findall(r"\x1b\[([0-9;]*)m", line) for p in seq.split(";")}


RESETS = {"", "0", "39", "49", "22", "23", "24", "25", "27", "28", "29"}


@needs_tmux
@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_stop_signals_restore_the_terminal(
    tmux: Tmux, traces: dict[str, Path], sig: signal.Signals, status: int
) -> None:
    tmux.start(_play_script(str(traces["plain"]), "--speed", "4"), 100, 30)
    tmux.wait_for("the training bars", lambda ls: any(x.startswith("Epoch ") for x in ls))
    os.kill(tmux.player_pid(), sig)
    lines = tmux.wait_for("the exit status", _exited)
    assert f"EXIT={status}" in "\n".join(lines)
    assert tmux("display", "-p", "-t", "play", "#{cursor_flag}").strip() == "1"  # cursor shown
    coloured = tmux.lines("-e")
    exit_line = next(x for x in coloured if "EXIT=" in x)
    assert _sgr_params(exit_line) <= RESETS, repr(exit_line)  # colours were reset
    row = next(i for i, x in enumerate(lines) if "EXIT=" in x)
    assert any(x.startswith("Epoch ") for x in lines[:row])  # the region was left, not cut


@needs_tmux
def test_tiny_terminal_live_resizes_and_hostile_text(tmux: Tmux, traces: dict[str, Path]) -> None:
    tmux.start(_play_script(str(traces["hostile"]), "--speed", "8"), 20, 5)
    tmux.wait_for("output", lambda ls: any(x.strip() for x in ls))
    sizes = [(12, 3), (80, 24), (20, 5), (5, 2), (1, 1), (200, 60), (20, 5), (33, 7), (20, 5)]
    for _ in range(3):
        for cols, rows in sizes:
            tmux("resize-window", "-t", "play", "-x", str(cols), "-y", str(rows))
            time.sleep(0.12)
    assert not _exited(tmux.lines())  # still playing: no crash at any size
    tmux("resize-window", "-t", "play", "-x", "20", "-y", "5")
    tmux("send-keys", "-t", "play", "C-c")
    tmux.wait_for("the exit status", _exited)
    tmux("resize-window", "-t", "play", "-x", "100", "-y", "30")
    history = "\n".join(tmux.lines("-S", "-", "-J"))
    assert "EXIT=130" in history and "Traceback" not in history
    assert tmux("display", "-p", "-t", "play", "#{cursor_flag}").strip() == "1"
    # The trace's OSC sequences changed neither the title nor the clipboard...
    title = tmux("display", "-p", "-t", "play", "#{pane_title}")
    assert "PWNED" not in title and "MODEL" not in title
    assert tmux("list-buffers").strip() == ""
    # ...although this tmux does obey them when a program really sends them (control).
    tmux.start("printf '\\033]52;c;aGVsbG8=\\007\\033]2;PWNED\\007'; sleep 600", 20, 5, "control")
    deadline = time.monotonic() + 10
    while tmux("list-buffers").strip() == "" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "hello" in tmux("list-buffers")
    assert "PWNED" in tmux("display", "-p", "-t", "control", "#{pane_title}")


@pytest.mark.parametrize(
    ("args", "statuses"),
    [(["play", "--speed", "1e6", "--color", "never"], {141}), (["cast", "-o", "-"], {141})],
)
def test_closed_pipe_ends_quietly(
    tmp_path: Path, traces: dict[str, Path], args: list[str], statuses: set[int]
) -> None:
    command = shlex.join([*LLMSIM, *args, str(traces["plain"])])
    script = f"{command} 2>err | head -5; echo ${{PIPESTATUS[0]}} >status"
    proc = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, capture_output=True, timeout=60, env=env()
    )
    assert len(proc.stdout.splitlines()) == 5
    assert int((tmp_path / "status").read_text()) in statuses
    assert (tmp_path / "err").read_bytes() == b""  # no traceback, no message


def _is_ascii(data: bytes) -> bool:
    return all(b < 0x80 for b in data)


@pytest.mark.parametrize("locale", [{"LC_ALL": "C"}, {"LANG": "C"}, {"LANG": "POSIX"}])
def test_non_utf8_locale_gets_ascii_on_a_pipe(
    traces: dict[str, Path], locale: dict[str, str]
) -> None:
    proc = run("play", "--once", "--speed", "1e6", str(traces["unicode"]), **locale)
    assert proc.returncode == 0, proc.stderr
    assert _is_ascii(proc.stdout), sorted({chr(b) for b in proc.stdout if b >= 0x80})
    out = proc.stdout.decode("ascii")
    assert f"+ {DONE}" in out and "+--" in out  # ASCII check mark and summary box
    assert "na?ve caf? ??? ? ? ? ? e" in out  # trace text folded, one '?' per character


def test_utf8_locale_keeps_unicode_glyphs(traces: dict[str, Path]) -> None:
    proc = run("play", "--once", "--speed", "1e6", str(traces["unicode"]), LANG="C.UTF-8")
    assert proc.returncode == 0
    out = proc.stdout.decode("utf-8")
    assert f"✔ {DONE}" in out and UNICODE_TEXT in out and "╭" in out


def test_non_utf8_locale_gets_ascii_on_a_terminal(traces: dict[str, Path]) -> None:
    status, out = run_in_pty(
        "play", "--once", "--speed", "1e6", str(traces["hostile"]), cols=80, rows=24, LC_ALL="C"
    )
    assert status == 0
    assert _is_ascii(out), sorted({chr(b) for b in out if b >= 0x80})[:20]
    screen = pyte.Screen(80, 24)
    pyte.ByteStream(screen).feed(out)
    assert f"+ {DONE}" in "\n".join(screen.display)


def test_resolve_ascii_reads_the_locale() -> None:
    assert resolve_ascii(True) is True and resolve_ascii(False) is False
    code = (
        "import sys; from llmsim.player.play import resolve_ascii; "
        "sys.stdout.write(str(resolve_ascii(None)))"
    )
    cases = [
        ({"LANG": "C.UTF-8"}, "False"),
        ({"LC_ALL": "C.UTF-8", "LANG": "C"}, "False"),
        ({"LANG": "C"}, "True"),
        ({"LC_ALL": "C"}, "True"),
        ({"LC_ALL": "C", "PYTHONUTF8": "0"}, "True"),
        ({"LANG": "xx_YY.ISO-8859-1"}, "True"),  # unknown locale: Python falls back to C
    ]
    for variables, expected in cases:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=env(**variables),
            timeout=60,
            check=True,
        )
        assert proc.stdout == expected, (variables, proc.stdout)


def test_twenty_by_five_screens_fit(traces: dict[str, Path]) -> None:
    """Every frame at 20x5 (and 1x1): the region fits width-1 and 2 rows, nothing raises."""
    for cols, rows in ((20, 5), (1, 1)):

        def check(rec: Recording, frame: object, cols: int = cols, rows: int = rows) -> None:
            assert len(rec.region) <= max(0, min(2, rows - 2))
            assert all(len(re.sub(r"\x1b\[[0-9;]*m", "", x)) <= cols - 1 for x in rec.region)

        record([traces["hostile"]], cols, rows, color=True, on_frame=check)


def test_twenty_by_five_cast_plays_to_the_end(tmp_path: Path, traces: dict[str, Path]) -> None:
    out = tmp_path / "tiny.cast"
    proc = run("cast", str(traces["hostile"]), "-o", str(out), "--cols", "20", "--rows", "5")
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text("utf-8").splitlines()
    assert json.loads(lines[0])["width"] == 20
    screen = pyte.Screen(20, 5)
    stream = pyte.Stream(screen)
    for line in lines[1:]:
        event = json.loads(line)
        if event[1] == "o":
            stream.feed(event[2])
    assert "successfully!" in "\n".join(screen.display)  # the last line, wrapped at 20
    assert not screen.cursor.hidden
