"""The small parsers behind the options: durations (genact's spellings too), clock positions,
--start-at, error statuses, and the POSIX-only signals guarded at import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from llmsim.cli import params, report
from llmsim.errors import InputError, UsageError
from llmsim.player.options import StartAt
from llmsim.trace.errors import TraceError
from llmsim.units import (
    format_duration,
    format_params,
    format_size,
    parse_clock,
    parse_duration,
    sparkline,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("2.5", 2.5),
        ("90s", 90.0),
        ("250ms", 0.25),
        ("20m", 1200.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        ("2h10min", 7800.0),  # genact's example spelling
        ("1hour 12min 5s", 4325.0),  # humantime's long units
        (" 2 hours ", 7200.0),
        ("1d", 86400.0),
        ("10M", 600.0),  # case does not matter
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "5 10m", "1h30", "0", "0s", "1x", "-5", "h", "1e3"])
def test_bad_durations_say_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|unit"):
        parse_duration(text)


def test_clock_positions_and_short_durations() -> None:
    assert parse_clock("12:30") == 750.0
    assert parse_clock("1:02:03") == 3723.0
    assert parse_clock("0:05.5") == 5.5
    assert parse_clock("5") is None and parse_clock("1:2") is None
    assert [format_duration(s) for s in (5, 65, 599, 600, 1380, 3900, 90000)] == [
        "5s", "1m05s", "9m59s", "10m", "23m", "1h05m", "1d01h",
    ]  # fmt: skip


def test_one_formatter_each_at_the_precision_asked() -> None:
    full = [format_duration(s, full=True) for s in (42.34, 725, 3733)]
    assert full == ["42.3s", "12m 05s", "1h 02m 13s"]
    sizes = [format_size(b) for b in (512, 850_000, 10_600_000_000)]
    assert sizes == ["512 B", "850 kB", "10.6 GB"]
    assert format_size(16_060_000_000, decimals=2) == "16.06 GB"
    assert format_size(999.9, decimals=2) == "999 B"  # a kilobyte starts at 1,000
    assert format_size(123_000_000, decimals=2, unit="GB") == "0.12 GB"
    params = [format_params(n) for n in (360_000_000, 8_030_261_248, 70_553_706_496)]
    assert params == ["360M", "8.03B", "70.6B"]


def test_sparklines_scale_from_the_lowest_value_to_the_highest() -> None:
    assert sparkline([1.0, 2.0, 3.0], "abc") == "abc"
    assert sparkline([5.0, 5.0], "abc") == "aa"
    assert sparkline([5.0, 5.0], "abc", flat=1) == "bb"
    assert sparkline([], "abc") == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("train", StartAt(point="train")),
        ("Export", StartAt(point="export")),
        ("25%", StartAt(fraction=0.25)),
        ("0%", StartAt(fraction=0.0)),
        ("12:30", StartAt(seconds=750.0)),
        ("1:00:00", StartAt(seconds=3600.0)),
    ],
)
def test_start_at(text: str, expected: StartAt) -> None:
    assert params.start_at(text) == expected


@pytest.mark.parametrize("text", ["lunch", "100%", "-5%", "x%", "12", "1:2"])
def test_bad_start_at_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="--start-at"):
        params.start_at(text)


def test_statuses_of_exceptions() -> None:
    assert report.status_of(UsageError("x")) == 2
    assert report.status_of(InputError("x")) == 1
    assert report.status_of(TraceError("x")) == 1
    assert report.status_of(FileNotFoundError(2, "No such file", "/x")) == 1
    for bug in (ValueError("x"), KeyError("x"), AssertionError(), TypeError("x")):
        assert report.status_of(bug) == 70


def test_importing_llmsim_needs_no_posix_only_signals() -> None:
    # As on Windows: of the signals llmsim handles, only SIGINT and SIGTERM. The command line
    # and the player must import and run.
    code = (
        "import signal\n"
        "for name in ('SIGHUP', 'SIGQUIT', 'SIGWINCH', 'SIGPIPE', 'SIGTSTP', 'SIGCONT',\n"
        "             'SIGALRM', 'setitimer', 'SIGUSR1', 'SIGUSR2', 'SIGSTKFLT', 'SIGXCPU',\n"
        "             'SIGVTALRM', 'SIGPROF', 'SIGIO', 'SIGPWR', 'SIGRTMIN', 'SIGRTMAX'):\n"
        "    if hasattr(signal, name):\n"
        "        delattr(signal, name)\n"
        "import llmsim, llmsim.cli, llmsim.fresh, llmsim.info, llmsim.units, llmsim.player\n"
        "from llmsim.cli.signals import terminate_as_interrupt\n"
        "from llmsim.errors import stop_signals\n"
        "assert stop_signals() == (signal.SIGINT, signal.SIGTERM), stop_signals()\n"
        "with terminate_as_interrupt():\n"
        "    pass\n"
        "raise SystemExit(llmsim.cli.main(['list', '--stacks']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "megatron" in proc.stdout
