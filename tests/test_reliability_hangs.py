"""Class 5 — no hangs.

Anything that is not a regular file (a FIFO, a device, a socket, a folder named like a trace)
is refused before it is opened, alone or inside a folder of good traces, as input and as
output, and `cast` leaves no temp file; what stat() called regular but turns out otherwise
when opened is refused too, without waiting; a terminfo entry that is not a file is passed
over unread. The work of a frame is bounded by the screen, so `cast` time stays linear in the
number of operations a trace leaves open. A start point past every run's end plays the run
from its start. A background generator that stalls never holds off a stop or --exit-after,
and after `stall_s` the runs there are play instead.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from reliability_kit import (
    DONE,
    LLMSIM,
    assert_clean_lines,
    assert_one_line_error,
    call,
    copy_trace,
    env,
    run_in_pty,
)
from synthetic import config, write_trace

from llmsim.bundled import find_bundled
from llmsim.fresh import FreshOptions, FreshRuns
from llmsim.player import PlayOptions, play
from llmsim.player.sinks.terminfo import cursor_addressing
from llmsim.player.views import bars
from llmsim.player.views.renderer import MAX_OPEN_OPS
from llmsim.trace import TraceWriter, make_table, open_trace
from llmsim.trace.errors import TraceError

pytestmark = pytest.mark.timeout(60)  # in-process: a hang would stop the suite here


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Path]]]:
    """Good traces with every kind of non-regular file between them (named *.parquet)."""
    runs = tmp_path_factory.mktemp("runs")
    good = write_trace(runs / "a-good.parquet")
    copy_trace(good, runs, "z-good.parquet")
    odd = {"fifo": runs / "b-fifo.parquet", "folder": runs / "c-folder.parquet"}
    os.mkfifo(odd["fifo"])
    odd["folder"].mkdir()
    odd["device"] = runs / "d-device.parquet"
    odd["device"].symlink_to("/dev/zero")
    odd["socket"] = runs / "e-socket.parquet"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(odd["socket"]))
    server.listen()
    try:
        yield runs, odd
    finally:
        server.close()


NEEDLES = {"fifo": "is a FIFO", "folder": "is a directory", "device": "device", "socket": "socket"}


def test_each_kind_alone_is_refused_unopened(folder: tuple[Path, dict[str, Path]]) -> None:
    _, odd = folder
    for kind, path in [
        *odd.items(),
        ("device", Path("/dev/urandom")),
        ("device", Path("/dev/null")),
    ]:
        for argv in (["info", str(path)], ["play", "--once", str(path)]):
            status, out, err = call(argv)
            assert (status, out) == (1, ""), (kind, argv)
            assert NEEDLES[kind] in assert_clean_lines(err, [str(path)])[0], err


def test_a_folder_of_good_traces_with_them_plays_and_casts(
    folder: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    runs, odd = folder
    names = [str(p) for p in odd.values()]
    status, out, err = call(["play", "--once", "--speed", "1e6", str(runs)])
    assert status == 1 and out.count(DONE) == 2
    assert len(assert_clean_lines(err, names)) == 4
    target = tmp_path / "x.cast"
    status, out, err = call(
        ["cast", str(runs), "-o", str(target), "--rows", "24", "--layout", "classic"]
    )
    assert status == 1 and len(assert_clean_lines(err, names)) == 4
    events = [json.loads(x) for x in target.read_text("utf-8").splitlines()[1:]]
    assert "".join(e[2] for e in events if e[1] == "o").count(DONE) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.cast"]
    status, _, err = call(["cast", str(odd["fifo"]), "-o", str(tmp_path / "y.cast")])
    assert status == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["x.cast"]


def test_a_fifo_that_stat_called_a_file_is_refused_when_opened(
    folder: tuple[Path, dict[str, Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    runs, odd = folder
    regular = os.stat(runs / "a-good.parquet")
    real = pathlib.Path.stat

    def swapped(self: Path, **kwargs: bool) -> os.stat_result:  # as if swapped after stat()
        return regular if self == odd["fifo"] else real(self, **kwargs)

    monkeypatch.setattr(pathlib.Path, "stat", swapped)
    with pytest.raises(TraceError, match="is a FIFO"):
        open_trace(odd["fifo"])  # opened without blocking, refused from fstat()


def test_outputs_that_are_not_regular_files_are_refused_unopened(
    folder: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    runs, odd = folder
    out_fifo = tmp_path / "out.cast"
    os.mkfifo(out_fifo)
    gen_fifo = tmp_path / "run.parquet"
    os.mkfifo(gen_fifo)
    small = ["--seed", "1", "--duration", "2m", "--model", "Llama-3.2-1B", "--gpus", "8"]
    for argv, target in (
        (["cast", str(runs / "a-good.parquet"), "-o", str(out_fifo), "--force"], out_fifo),
        (["cast", str(runs / "a-good.parquet"), "-o", "/dev/null/x.html"], "/dev/null"),
        (["generate", "-o", str(gen_fifo), "--force", *small], gen_fifo),
        (["generate", "-o", str(odd["socket"]), *small], odd["socket"]),
    ):
        status, out, err = call(argv)
        assert (status, out) == (1, ""), argv
        assert_one_line_error(err, str(target))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.cast", "run.parquet"]


def test_cast_time_is_linear_in_open_operations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1,000 operations left open: each frame lays out at most MAX_OPEN_OPS bars (not all
    the open ones, which made the work grow with the square of the trace)."""
    n = 1_000
    trace = tmp_path / "ops.parquet"
    with TraceWriter(trace, config()) as writer:
        columns = {
            "t": np.arange(n) * 0.5,
            "kind": "progress",
            "phase": "train",
            "text": [f"op {i}" for i in range(n)],
            "done": 1,
            "total": 10,
            "unit": "steps",
        }
        writer.write(make_table(n, columns))
    laid_out = [0]
    real = bars.progress_row

    def counted(*args: object, **kwargs: object) -> object:
        laid_out[0] += 1
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(bars, "progress_row", counted)
    status, out, err = call(["cast", str(trace), "-o", "-", "--rows", "500", "--layout", "classic"])
    assert (status, err) == (0, "")
    frames = sum(1 for line in out.splitlines()[1:] if json.loads(line)[1] == "o")
    assert frames >= n  # one per operation that started...
    assert laid_out[0] <= MAX_OPEN_OPS * frames  # ...each laying out a bounded number
    assert laid_out[0] >= n  # (control: the bars are drawn)


# --- terminfo entries that are not files ----------------------------------------------------------


def test_terminfo_entries_that_are_not_files_are_passed_over(tmp_path: Path) -> None:
    """The issue's example: a terminfo entry that is a FIFO blocked `play` before its first
    frame. Also a device, a socket and a folder, in TERMINFO and in ~/.terminfo: each is
    passed over unread (the name then counts: `xodd` is no ANSI family, so line mode)."""
    entries = tmp_path / "terminfo" / "x"
    entries.mkdir(parents=True)
    os.mkfifo(entries / "xfifo")
    (entries / "xdevice").symlink_to("/dev/zero")
    (entries / "xfolder").mkdir()
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(entries / "xsocket"))
    home = tmp_path / "home"
    (home / ".terminfo").mkdir(parents=True)
    (home / ".terminfo" / "x").symlink_to(entries)
    try:
        for term in ("xfifo", "xdevice", "xfolder", "xsocket"):
            for where in ({"TERMINFO": str(tmp_path / "terminfo")}, {"HOME": str(home)}):
                assert not cursor_addressing({**where, "TERM": term}), (term, where)
        # The example, a player on a terminal: it plays, in line mode.
        status, out = run_in_pty(
            "play", "--once", "--speed", "1e6", "llama-3-8b-sft",
            TERMINFO=str(tmp_path / "terminfo"), TERM="xfifo",
        )  # fmt: skip
        assert status == 0 and DONE.encode() in out and b"\x1b[" not in out
    finally:
        server.close()


def test_a_start_point_past_every_end_plays_on_a_terminal_too() -> None:
    """`--start-at "<300 sevens>:00"`, past the end of any run: each run plays from its start,
    on a terminal as on a pipe (no sleep towards a point that never comes)."""
    status, out = run_in_pty(
        "play", "--once", "--speed", "1e6", "--layout", "classic",
        "--start-at", "7" * 300 + ":00", "llama-3-8b-sft",
    )  # fmt: skip
    assert status == 0 and DONE.encode() in out


# --- a background generator that stalls ------------------------------------------------------------


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _stop_generator(player: subprocess.Popen[bytes]) -> int:
    """SIGSTOP the `llmsim generate` the player started (as soon as it is there); its pid."""
    deadline = time.monotonic() + 30
    while not (children := _children(player.pid)) or not _generating(children[0]):
        assert player.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    os.kill(children[0], signal.SIGSTOP)
    return children[0]


def _generating(pid: int) -> bool:
    """True once the child runs `llmsim generate` (stopped between fork and exec, it would
    hold the player's Popen call instead: no generator does that)."""
    try:
        return b"generate" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


STALLED = [(signal.SIGTERM, [], 143), (None, ["--exit-after", "6s"], 0)]


def test_a_stalled_generator_never_holds_off_a_stop(tmp_path: Path) -> None:
    """The issue's example: endless `play` waiting for a stalled background generator ignored
    SIGTERM, SIGINT, SIGHUP and --exit-after for 20 s and more (here: forever, the generator
    is stopped). SIGTERM and --exit-after end it now, and the generator is not left behind
    (the other signals: in-process below)."""
    players = []
    for i, (_, extra, _) in enumerate(STALLED):
        argv = [*LLMSIM, "play", "--models", "invented", "--speed", "1e6", "--seed", str(i)]
        cache = {"XDG_CACHE_HOME": str(tmp_path / f"cache{i}")}
        players.append(
            subprocess.Popen(
                [*argv, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(**cache)
            )
        )
    try:
        generators = [_stop_generator(player) for player in players]
        for player in players:  # the bundled run played: now it waits for the fresh one
            assert DONE.encode() in _read_until(player, DONE)
        time.sleep(0.3)
        for player, (sig, _, _) in zip(players, STALLED, strict=True):
            if sig is not None:
                player.send_signal(sig)
        for player, generator, (sig, _, status) in zip(players, generators, STALLED, strict=True):
            assert player.wait(timeout=20) == status, sig
            assert player.communicate()[1] == b"", sig
            assert not Path(f"/proc/{generator}").exists()  # stopped, and reaped
    finally:
        for player in players:
            if player.poll() is None:
                player.kill()
                player.wait()


def _read_until(proc: subprocess.Popen[bytes], needle: str) -> bytes:
    assert proc.stdout is not None
    got = b""
    while needle.encode() not in got:
        line = proc.stdout.readline()
        assert line, got[-300:]
        got += line
    return got


def test_a_stalled_generator_gives_way_to_the_runs_there_are(tmp_path: Path) -> None:
    """After `stall_s` seconds of waiting, the generator is given up (ended), the user told
    once, and the runs there are play; until then the iterator says "not yet" (None)."""
    reports: list[str] = []
    fallback = [find_bundled("llama-3-8b-sft"), find_bundled("stochastic-parrot-3b-sft")]
    options = FreshOptions(seed=3, stall_s=1.0)
    with FreshRuns(tmp_path, options, reports.append, fallback=fallback) as fresh:  # type: ignore[arg-type]
        job = fresh._job
        assert job is not None and job.proc is not None
        os.kill(job.proc.pid, signal.SIGSTOP)
        waits = 0
        while (path := next(fresh)) is None:
            waits += 1
        assert waits >= 2 and path == fallback[0]
        assert [next(fresh) for _ in range(3)] == [fallback[1], fallback[0], fallback[1]]
        assert job.proc.poll() is not None  # ended, not left stopped
    assert reports == [
        "no fresh run could be made (llmsim generate made no run in 1 s); playing the runs "
        "there are"
    ]


class _NeverReady:
    """Fresh runs that are never ready (a stalled generator): None, every time it is asked, with
    `sig` delivered to this process after a few times."""

    def __init__(self, sig: int) -> None:
        self.sig, self.asked = sig, 0

    def __iter__(self) -> _NeverReady:
        return self

    def __next__(self) -> None:
        self.asked += 1
        if self.asked == 5:
            signal.raise_signal(self.sig)  # play's handler only sets a flag
        time.sleep(0.01)
        return None


@pytest.mark.parametrize(
    ("sig", "status"),
    [(signal.SIGINT, 130), (signal.SIGHUP, 129), (signal.SIGUSR1, 138), (signal.SIGQUIT, 131)],
)
def test_every_stop_signal_acts_while_waiting_for_a_fresh_run(
    sig: int, status: int, tmp_path: Path
) -> None:
    """The other signals of the issue's example, in this process: waiting for a run that never
    comes, play looks at the stop flag each time it is told "not yet"."""
    trace = find_bundled("stochastic-parrot-3b-sft")
    assert trace is not None
    fresh = _NeverReady(sig)
    with (tmp_path / "out").open("wb") as out:
        got = play([trace], PlayOptions(speed=1e6), fresh=fresh, report=print, fd=out.fileno())
    assert got == status and fresh.asked >= 5
