"""Class 3 — the terminal is never left broken.

Ctrl-Z restores the terminal (region erased, colours reset, cursor shown) before the process
stops, and `fg` draws the live region again; every stop signal (Ctrl-C, SIGTERM, SIGHUP,
Ctrl-\\) restores it and ends with 128 + n, also while the output is suspended (Ctrl-S) or
written to a pipe nobody reads (within about a second); a closed pipe ends quietly; terminals
without cursor addressing get line mode; tiny terminals, live resizes and non-UTF-8 locales
never break it. tmux is the real terminal (with bash's real job control), a pty the quick one,
pyte reads the screens.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyte
import pytest
from playback import Recording, play_on_pty, record, tmux_running
from reliability_kit import (
    DONE,
    LLMSIM,
    UNICODE_TEXT,
    Pty,
    call,
    env,
    hostile_trace,
)
from reliability_kit import MORE_STOPS as KIT_STOPS
from synthetic import write_trace

from llmsim.player import PlayOptions, StartAt
from llmsim.player.live.control import CODES, Op
from llmsim.player.play import resolve_ascii
from llmsim.player.sinks.terminfo import cursor_addressing

SHOW, HIDE, RESET = CODES[Op.SHOW_CURSOR], CODES[Op.HIDE_CURSOR], CODES[Op.RESET]
needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("terminal")
    return {
        "plain": write_trace(folder / "plain.parquet"),
        "hostile": hostile_trace(folder / "hostile.parquet", UNICODE_TEXT),
        "unicode": write_trace(folder / "unicode.parquet", inject=UNICODE_TEXT),
    }


class Early:
    """The module's processes that need no interaction, started as the module starts so that
    they run while the interactive tests wait on theirs."""

    def __init__(self, traces: dict[str, Path], folder: Path) -> None:
        plain, unicode = str(traces["plain"]), str(traces["unicode"])
        self.folder = folder
        # Writing to pipes nobody reads.
        unread = [
            [*LLMSIM, "play", "--speed", "1e6", plain],
            [*LLMSIM, "cast", plain, plain, "-o", "-"],
            [*LLMSIM, "play", "--speed", "1e6", "--exit-after", "0.8s", plain],
        ]
        self.pipes = [os.pipe() for _ in unread]
        self.unread = [
            subprocess.Popen(argv, stdout=w, stderr=subprocess.PIPE, env=env())
            for argv, (_, w) in zip(unread, self.pipes, strict=True)
        ]
        for _, w in self.pipes:
            os.close(w)
        # Pipes whose reader goes away.
        scripts = []
        for name, args in (("play", ["play", "--speed", "1e6"]), ("cast", ["cast", "-o", "-"])):
            command = shlex.join([*LLMSIM, *args, plain])
            scripts.append(f"{command} 2>{name}.err | head -5; echo ${{PIPESTATUS[0]}} >{name}.st")
        self.closed = [
            subprocess.Popen(
                ["bash", "-c", f"cd {shlex.quote(str(folder))}; {script}"],
                stdout=subprocess.PIPE,
                env=env(),
            )
            for script in scripts
        ]
        # Locales.
        play_argv = [*LLMSIM, "play", "--once", "--speed", "1e6", unicode]
        self.locales = [
            subprocess.Popen(
                play_argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(**v)
            )
            for v in LOCALES
        ]
        code = "import sys; from llmsim.player.play import resolve_ascii as r; print(r(None))"
        self.resolve = [
            subprocess.Popen(
                [sys.executable, "-c", code], stdout=subprocess.PIPE, env=env(**variables)
            )
            for variables, _ in RESOLVE
        ]
        hostile = str(traces["hostile"])
        self.c_terminal = Pty(
            "play", "--once", "--speed", "1e6", "--layout", "classic", hostile, LC_ALL="C"
        )

    def stop(self) -> None:
        self.c_terminal.kill()
        for proc in (*self.unread, *self.closed, *self.locales, *self.resolve):
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for r, _ in self.pipes:
            os.close(r)


LOCALES = [{"LANG": "POSIX"}, {"LANG": "C.UTF-8"}]
RESOLVE = [
    ({"LANG": "C.UTF-8"}, "False"),
    ({"LC_ALL": "C", "PYTHONUTF8": "0"}, "True"),
    ({"LANG": "xx_YY.ISO-8859-1"}, "True"),  # unknown locale: Python falls back to C
]


@pytest.fixture(scope="module", autouse=True)
def early(traces: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Early]:
    started = Early(traces, tmp_path_factory.mktemp("early"))
    try:
        yield started
    finally:
        started.stop()


def _restored(data: bytes, cols: int = 100, rows: int = 30) -> pyte.Screen:
    """The screen after `data`, which must end restored: colours reset, then cursor shown."""
    tail = data[-40:].decode("utf-8", "replace")
    assert tail.endswith(SHOW) and RESET in tail, repr(tail)
    assert data.rfind(SHOW.encode()) > data.rfind(HIDE.encode())
    screen = pyte.Screen(cols, rows)
    pyte.ByteStream(screen).feed(data)
    assert not screen.cursor.hidden
    return screen


# --- Ctrl-Z and fg, with bash's job control in a real terminal ---------------------------------


def _has(needle: str) -> Callable[[list[str]], bool]:
    return lambda lines: any(needle in line for line in lines)


@needs_tmux
def test_ctrl_z_restores_the_terminal_and_fg_draws_the_region_again(
    traces: dict[str, Path],
) -> None:
    shell = ["bash", "--norc", "--noprofile", "-i"]
    with tmux_running(shell, 100, 30) as tmux:
        argv = [*LLMSIM, "play", str(traces["hostile"]), "--speed", "4", "--start-at", "train"]
        argv += ["--layout", "classic"]
        tmux("send-keys", "-t", "play", shlex.join(argv), "Enter")
        tmux.wait_for("the training bars", _has("Epoch 1/2"))
        tmux("send-keys", "-t", "play", "C-z")
        lines = tmux.wait_for("bash's Stopped line", _has("Stopped"))
        assert _state(_child(tmux)) == "T"  # really stopped, after restoring:
        assert tmux("display", "-p", "-t", "play", "#{cursor_flag}").strip() == "1"
        stopped = next(i for i, x in enumerate(lines) if "Stopped" in x)
        # The region was erased before stopping: no stale bars or grid left in the log.
        assert not any(x.startswith(("Epoch ", "Training ", "GPUs ")) for x in lines)
        styled = tmux("capture-pane", "-p", "-e", "-t", "play").splitlines()
        assert "\x1b[" not in styled[stopped].replace("\x1b[39m", "").replace("\x1b[0m", "")
        tmux("send-keys", "-t", "play", "fg", "Enter")

        def redrawn(lines: list[str]) -> bool:
            below = lines[stopped + 1 :]
            return any(x.startswith("Epoch 1/2") for x in below)

        tmux.wait_for("the region drawn again below fg", redrawn)
        assert tmux("display", "-p", "-t", "play", "#{cursor_flag}").strip() == "0"
        tmux("send-keys", "-t", "play", "C-c")
        tmux("send-keys", "-t", "play", "echo STATUS=$?", "Enter")
        tmux.wait_for("the exit status", _has("STATUS=130"))
        assert tmux("display", "-p", "-t", "play", "#{cursor_flag}").strip() == "1"
        title = tmux("display", "-p", "-t", "play", "#{pane_title}")
        assert "PWNED" not in title and "MODEL" not in title  # no OSC from the trace obeyed
        assert tmux("list-buffers").strip() == ""  # nor OSC 52 (the clipboard)


def _child(tmux: Any) -> int:
    """The pid of the llmsim process under the pane's shells."""
    pids = [int(tmux("display", "-p", "-t", "play", "#{pane_pid}").strip())]
    while pids:
        pid = pids.pop()
        if b"llmsim" in Path(f"/proc/{pid}/cmdline").read_bytes():
            return pid
        pids += map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
    raise AssertionError("no llmsim process in the pane")


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


# --- stop signals: always restored, also with the output suspended or unread -------------------


STOPS: list[tuple[int, int]] = [
    (signal.SIGTERM, 143),
    (signal.SIGHUP, 129),
    (signal.SIGQUIT, 131),
    (signal.SIGINT, 130),
]


def _players(traces: dict[str, Path], count: int, speed: str) -> list[Pty]:
    """`count` players on ptys of their own, each showing its training bars."""
    players = [
        Pty(
            "play",
            str(traces["plain"]),
            "--speed",
            speed,
            "--start-at",
            "train",
            "--layout",
            "classic",
        )
        for _ in range(count)
    ]
    for player in players:
        player.read_until(b"Epoch 1/2")
    return players


# The issue's other stop signals (SIGUSR1, SIGUSR2, SIGPWR, SIGVTALRM ended play with the cursor
# hidden) take the same path in this process; SIGALRM, which pytest-timeout holds here, and
# SIGXCPU are sent to real processes below.
ISSUE_STOPS = [
    (sig, status)
    for sig, status in KIT_STOPS
    if sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGPWR, signal.SIGVTALRM)
]


@pytest.mark.parametrize(
    ("sig", "status"),
    STOPS + ISSUE_STOPS,
    ids=[signal.Signals(s).name for s, _ in STOPS + ISSUE_STOPS],
)
def test_stop_signals_restore_the_terminal(
    sig: int, status: int, traces: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM, SIGHUP, Ctrl-\\ (SIGQUIT), Ctrl-C and the issue's SIGUSR1, SIGUSR2, SIGPWR,
    SIGVTALRM, delivered to play() on a pty in this process once the region is up: 128 + n, the
    terminal restored, the region left in place."""
    monkeypatch.setenv("TERM", "xterm-256color")
    frames = [0]

    def stop(at: float, late: float) -> None:
        frames[0] += 1
        if frames[0] == 3:
            signal.raise_signal(sig)  # play's own handler is installed: it only sets a flag

    options = PlayOptions(speed=50, start_at=StartAt(point="train"), layout="classic")
    got, data = _play_on_a_pty(traces["plain"], options, on_frame=stop)
    assert got == status
    screen = _restored(data, 100, 30)
    assert any(line.startswith("Epoch 1/2") for line in screen.display)


def test_an_alarm_restores_the_terminal(traces: dict[str, Path]) -> None:
    """SIGALRM from outside (it ended play with the cursor hidden): 142, restored."""
    player = _players(traces, 1, "4")[0]
    try:
        os.kill(player.proc.pid, signal.SIGALRM)
        assert player.finish() == 142
        screen = _restored(bytes(player.received))
        assert any(line.startswith("Epoch 1/2") for line in screen.display)  # left in place
    finally:
        player.kill()


def test_a_cpu_limit_restores_the_terminal(traces: dict[str, Path]) -> None:
    """SIGXCPU, from `ulimit -t` (prlimit here): 152, the terminal restored before the hard
    limit's SIGKILL."""
    plain = str(traces["plain"])
    argv = ["--cpu=1:30", *LLMSIM, "play", "--speed", "1e6", plain]
    master, slave = os.openpty()
    proc = subprocess.Popen(["prlimit", *argv], stdin=slave, stdout=slave, stderr=slave, env=env())
    os.close(slave)
    player = Pty.__new__(Pty)
    player.master, player.proc, player.received = master, proc, bytearray()
    try:
        assert player.finish(timeout=60) == 152
        _restored(bytes(player.received), 80, 24)
    finally:
        player.kill()


def test_a_closed_terminal_ends_with_129_not_an_error(traces: dict[str, Path]) -> None:
    """The issue's example: the terminal window is closed (the pty's other end goes away, every
    write fails with EIO). Was `Input/output error`, exit 1; now 129, as the hang-up it is.
    Also `info` writing to that terminal."""
    plain = str(traces["plain"])
    commands = [
        ("play", plain, "--speed", "4"),
        ("info", *[plain] * 100),  # (cast -o - writes through the same stdout as info)
    ]
    terminals = [Pty(*argv) for argv in commands]
    try:
        for terminal in terminals:
            # It is writing (unread, the terminal's buffer soon fills): close the terminal.
            assert select.select([terminal.master], [], [], 30)[0], terminal.proc.args
            os.close(terminal.master)
        for terminal, argv in zip(terminals, commands, strict=True):
            assert terminal.proc.wait(timeout=30) == 129, argv
    finally:
        for terminal in terminals:
            if terminal.proc.poll() is None:
                terminal.proc.kill()
                terminal.proc.wait()


def test_stop_signals_act_while_the_terminal_is_suspended(traces: dict[str, Path]) -> None:
    """Ctrl-S stops the terminal's output and the player blocks in a write: a stop signal
    still ends it within about a second, output resumed and the terminal restored."""
    stops = [(signal.SIGTERM, 143)]  # (SIGINT takes the same path: the stop flag)
    players = _players(traces, len(stops), "20")
    try:
        for player in players:
            os.write(player.master, b"\x13")  # Ctrl-S: the terminal takes no more output
        time.sleep(0.3)
        for player in players:
            player.read(0.02)  # what was on its way; then the player blocks in a write
        before = [len(player.received) for player in players]
        time.sleep(0.2)
        for player, size in zip(players, before, strict=True):
            player.read(0.02)
            assert len(player.received) == size  # really suspended
        start = time.monotonic()
        for player, (sig, _) in zip(players, stops, strict=True):
            os.kill(player.proc.pid, sig)
        for player, (sig, status) in zip(players, stops, strict=True):
            while player.proc.poll() is None:
                assert time.monotonic() - start < 5, "a blocked write held the signal off"
                time.sleep(0.02)
            assert player.finish() == status, sig.name
            _restored(bytes(player.received))  # output resumed and the closing bytes went out
    finally:
        for player in players:
            player.kill()


def test_stop_signals_act_while_nobody_reads_the_pipe(early: Early) -> None:
    """`play` and `cast -o -` blocked on a full pipe: SIGTERM ends them within seconds,
    quietly; --exit-after ends a blocked play too."""
    for (r, _), proc in zip(early.pipes[:2], early.unread[:2], strict=True):  # until full
        deadline, seen = time.monotonic() + 20, -1
        while seen != (seen := _unread(r)) or seen < 4096:
            assert proc.poll() is None, proc.args
            assert time.monotonic() < deadline, (proc.args, seen)
            time.sleep(0.15)
    for proc in early.unread[:2]:
        assert proc.poll() is None, proc.args
        proc.send_signal(signal.SIGTERM)
    start = time.monotonic()
    for proc in early.unread[:2]:
        assert proc.wait(timeout=10) == 143
        assert proc.communicate()[1] == b""
    assert time.monotonic() - start < 5
    # --exit-after is kept too while the output takes nothing.
    after = early.unread[2]
    assert after.wait(timeout=10) == 0 and after.communicate()[1] == b""


def _unread(fd: int) -> int:
    """Bytes waiting in a pipe."""
    return int(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0])


def test_closed_pipe_ends_quietly(early: Early) -> None:
    """`llmsim play | head`, `llmsim cast -o - | head`: 141, nothing on stderr."""
    for name, proc in zip(("play", "cast"), early.closed, strict=True):
        out, _ = proc.communicate(timeout=60)
        assert len(out.splitlines()) == 5
        assert int((early.folder / f"{name}.st").read_text()) == 141
        assert (early.folder / f"{name}.err").read_bytes() == b""  # no traceback, no message


# --- terminals without cursor addressing --------------------------------------------------------


def test_cursor_addressing_comes_from_terminfo(tmp_path: Path) -> None:
    home = {"HOME": str(tmp_path)}
    for term in ("xterm", "xterm-256color", "screen", "tmux-256color", "linux", "vt100", "ansi"):
        assert cursor_addressing({**home, "TERM": term}), term
    # No entry, but a family that speaks ANSI (a kitty user over ssh); and no TERM at all.
    assert cursor_addressing({**home, "TERM": "xterm-kitty-missing"})
    assert cursor_addressing(home)
    for term in ("dumb", "unknown", "dumb-emacs-ansi", "vt52", "no-such-terminal", "../x"):
        assert not cursor_addressing({**home, "TERM": term}), term
    # An entry of our own without the erase: what it says counts, not its name.
    entry = (Path("/lib/terminfo") / "x" / "xterm").read_bytes()
    own = tmp_path / ".terminfo" / "x" / "xterm-no-ed"
    own.parent.mkdir(parents=True)
    own.write_bytes(entry.replace(b"\x1b[J", b"\x1bJJ", 1))
    assert not cursor_addressing({**home, "TERM": "xterm-no-ed"})
    own.write_bytes(b"garbage")
    assert not cursor_addressing({**home, "TERM": "xterm-no-ed"})


def _play_on_a_pty(
    trace: Path,
    options: PlayOptions | None = None,
    on_frame: Callable[[float, float], None] | None = None,
) -> tuple[int, bytes]:
    return play_on_pty([trace], options or PlayOptions(once=True, speed=1e6), on_frame=on_frame)


@pytest.mark.parametrize("term", ["dumb", "unknown", "vt52", "no-such-terminal", "xterm"])
def test_terminals_without_cursor_addressing_get_line_mode(
    term: str, traces: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERM", term)
    status, out = _play_on_a_pty(traces["plain"])
    assert status == 0
    if term == "xterm":  # control: a terminal that can gets tmux's screen, drawn by position
        assert HIDE.encode() in out and b"\x1b[1;1H" in out
    else:
        assert DONE.encode() in out  # the job's lines, as on a pipe
        assert b"\x1b" not in out  # no cursor moves, and no colour either


# --- tiny terminals, resizes, locales -------------------------------------------------------------


def test_twenty_by_five_and_one_by_one_screens_fit(traces: dict[str, Path]) -> None:
    for cols, rows in ((20, 5), (1, 1)):

        def check(rec: Recording, frame: object, cols: int = cols, rows: int = rows) -> None:
            assert len(rec.region) <= max(0, min(2, rows - 2))
            assert all(len(re.sub(r"\x1b\[[0-9;]*m", "", x)) <= cols - 1 for x in rec.region)

        record([traces["hostile"]], cols, rows, color=True, on_frame=check)
    status, out, err = call(
        [
            "cast",
            str(traces["hostile"]),
            "-o",
            "-",
            "--cols",
            "20",
            "--rows",
            "5",
            "--layout",
            "classic",
        ]
    )
    assert (status, err) == (0, "")
    screen = pyte.Screen(20, 5)
    stream = pyte.Stream(screen)
    for line in out.splitlines()[1:]:
        event = json.loads(line)
        if event[1] == "o":
            stream.feed(event[2])
    assert "successfully!" in "\n".join(screen.display)  # the last line, wrapped at 20
    assert not screen.cursor.hidden


def _is_ascii(data: bytes) -> bool:
    return all(b < 0x80 for b in data)


def test_locales(early: Early) -> None:
    """A non-UTF-8 locale gets ASCII glyphs and folded text (pipe and terminal); UTF-8 keeps
    them; resolve_ascii asks the locale Python really set."""
    done = [proc.communicate(timeout=60) for proc in early.locales]
    out, err = done[0]
    assert early.locales[0].returncode == 0 and _is_ascii(out), err
    text = out.decode("ascii")
    assert f"+ {DONE}" in text and "+--" in text  # ASCII check mark and summary box
    assert "na?ve caf? ??? ? ? ? ? e" in text  # trace text folded, one '?' per character
    text = done[1][0].decode("utf-8")
    assert f"✔ {DONE}" in text and UNICODE_TEXT in text and "╭" in text
    for (variables, expected), proc in zip(RESOLVE, early.resolve, strict=True):
        assert proc.communicate(timeout=60)[0].decode().strip() == expected, variables
    assert resolve_ascii(True) is True and resolve_ascii(False) is False
    terminal = early.c_terminal
    assert terminal.finish() == 0
    assert _is_ascii(bytes(terminal.received))
    screen = pyte.Screen(100, 30)
    pyte.ByteStream(screen).feed(bytes(terminal.received))
    assert f"+ {DONE}" in "\n".join(screen.display)
