"""Class 9 — every output file is strictly valid, or the option is refused.

Cast headers and events, the HTML page's embedded cast and options, `info --json` and
`list --json` hold no NaN or Infinity (which Python's json would print and every strict reader
refuses); cast times are finite, never decrease and print exactly; the real `asciinema` reads
the casts at the speed and idle-limit extremes. Options that cannot give a valid file are
usage errors that write nothing. What goes to stdout is whole or the command fails loudly: into
a pipe another process made non-blocking, with or without PYTHONUNBUFFERED=1, every byte
arrives (it used to be cut short with exit 0, or end with 120 and Python's three lines); under
a file-size limit it is `cannot write to stdout: File too large`, exit 1.
"""

from __future__ import annotations

import json
import os
import re
import resource
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import LLMSIM, assert_one_line_error, call, env, hostile_trace, strict_json
from synthetic import write_trace

from llmsim.player.options import MAX_SPEED, MIN_SPEED

ASCIINEMA = str(Path(sys.executable).parent / "asciinema")


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_trace(tmp_path_factory.mktemp("files") / "synthetic.parquet")


def _cast(text: str) -> tuple[dict[str, Any], list[list[Any]]]:
    lines = text.split("\n")  # JSON lines end at LF only
    assert lines[-1] == ""
    return strict_json(lines[0]), [strict_json(line) for line in lines[1:-1]]


@pytest.mark.parametrize(
    "options",
    [
        [],
        ["--format", "v3"],
        ["-i", "0.001"],
        ["-i", "1000000"],
        ["--speed", str(MIN_SPEED)],
        ["--speed", str(MAX_SPEED), "--format", "v3"],
        ["--title", "\x1b]0;t\x07 \u2028 \x85 \u2029 \x1c"],
    ],
    ids=["v2", "v3", "tiny-idle", "huge-idle", "slowest", "fastest", "odd-title"],
)
def test_casts_are_strict_json_and_asciinema_reads_them(
    trace: Path, tmp_path: Path, options: list[str]
) -> None:
    target = tmp_path / "x.cast"
    status, _, err = call(["cast", str(trace), "-o", str(target), *options])
    assert (status, err) == (0, "")
    raw = target.read_text("utf-8")
    assert len(raw.splitlines()) == raw.count("\n")  # no line breaks but LF, even Unicode ones
    header, events = _cast(raw)
    assert header["version"] in (2, 3)
    limit = header.get("idle_time_limit")
    assert limit is None or limit > 0
    times = [e[0] for e in events]
    assert all(isinstance(t, float) and t >= 0 for t in times)
    if header["version"] == 2:
        assert times == sorted(times)
    if options in ([], ["--speed", str(MIN_SPEED)]):  # the real reader (2.4 reads v2 only)
        proc = subprocess.run([ASCIINEMA, "cat", str(target)], capture_output=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.decode("utf-8") == "".join(e[2] for e in events if e[1] == "o")


def test_stdout_and_file_casts_are_the_same_bytes(trace: Path, tmp_path: Path) -> None:
    target = tmp_path / "x.cast"
    assert call(["cast", str(trace), "-o", str(target)])[0] == 0
    status, out, _ = call(["cast", str(trace), "-o", "-"])
    assert status == 0 and out == target.read_text("utf-8")


@pytest.mark.parametrize(
    "options",
    [
        ["-i", "inf"],
        ["-i", "nan"],
        ["-i", "0"],
        ["-i", "-1"],
        ["-i", "1e-400"],
        ["--speed", "5e-324"],
        ["--speed", "inf"],
        ["--speed", "nan"],
        ["--cols", "0"],
        ["--rows", "100000"],
    ],
    ids=lambda o: " ".join(o),
)
def test_options_that_cannot_give_a_valid_file_are_refused(
    trace: Path, tmp_path: Path, options: list[str]
) -> None:
    for name in ("x.cast", "x.html"):
        status, out, err = call(["cast", str(trace), "-o", str(tmp_path / name), *options])
        assert (status, out) == (2, "")
        assert_one_line_error(err)
    assert list(tmp_path.iterdir()) == []


def _page_parts(page: str) -> tuple[str, dict[str, Any]]:
    cast = re.search(r"var cast = (\".*?\");\n", page)
    options = re.search(r"document\.getElementById\(\"player\"\),\n    (\{.*?\})\n  \);", page)
    assert cast is not None and options is not None
    return strict_json(cast.group(1)), strict_json(options.group(1))


@pytest.mark.parametrize(
    "options",
    [[], ["-i", "2.5", "--loop", "--theme", "dracula"], ["--format", "v3", "-i", "250ms"]],
)
def test_html_pages_embed_a_valid_cast_and_valid_options(
    trace: Path, tmp_path: Path, options: list[str]
) -> None:
    page = tmp_path / "x.html"
    status, _, err = call(["cast", str(trace), "-o", str(page), "--cols", "90", *options])
    assert (status, err) == (0, "")
    cast, player = _page_parts(page.read_text("utf-8"))
    _, events = _cast(cast)
    assert events and player["cols"] == 90 and player["rows"] == 36
    assert player.get("idleTimeLimit", 1) > 0
    assert player["loop"] == ("--loop" in options)


def test_json_documents_are_strict(trace: Path, tmp_path: Path) -> None:
    hostile = hostile_trace(tmp_path / "hostile.parquet")
    for argv in (
        ["info", "--json", str(trace), str(hostile)],
        ["info", "--json", "llama-3-8b-sft", "llama-3.1-405b-pretrain"],
        ["list", "--json"],
        ["list", "--json", "--models", "--gpus", "--stacks"],
    ):
        status, out, err = call(argv)
        assert (status, err) == (0, ""), argv
        doc = strict_json(out)
        assert isinstance(doc["format"], int)
    status, out, _ = call(["info", "--json", str(tmp_path / "missing.parquet"), str(trace)])
    assert status == 1 and len(strict_json(out)["traces"]) == 1  # the good one, still JSON
    json.dumps(doc)


# --- stdout: whole, or a loud failure -------------------------------------------------------------


def _into_nonblocking_pipe(argv: list[str], unbuffered: bool) -> tuple[int, bytes, bytes]:
    """`llmsim ARGV` writing into a pipe whose write end is non-blocking (as a Node.js reader
    leaves it), read slowly: (status, what arrived, stderr)."""
    r, w = os.pipe()
    os.set_blocking(w, False)
    extra = {"PYTHONUNBUFFERED": "1"} if unbuffered else {}
    proc = subprocess.Popen([*LLMSIM, *argv], stdout=w, stderr=subprocess.PIPE, env=env(**extra))
    os.close(w)
    got = bytearray()
    try:
        time.sleep(0.5)  # the pipe fills: writes would block
        while chunk := os.read(r, 16384):
            got += chunk
            select.select([], [], [], 0.001)  # a slow reader
        _, err = proc.communicate(timeout=120)
    finally:
        os.close(r)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, bytes(got), err


def test_stdout_into_a_nonblocking_pipe_is_whole() -> None:
    """The issue's example: `cast -o -` and `info --json` into a non-blocking pipe (58,693 of
    686,061 bytes with exit 0; without PYTHONUNBUFFERED exit 120)."""
    trace = "llama-3-8b-sft"
    for argv in (["cast", trace, "-o", "-"], ["info", "--json", *[trace] * 15]):
        status, whole, _ = call(argv)
        assert status == 0 and len(whole) > 65_536  # more than the pipe holds
        for unbuffered in (True, False):
            status, got, err = _into_nonblocking_pipe(argv, unbuffered)
            assert (status, err) == (0, b""), (argv[0], unbuffered, err[-300:])
            assert got == whole.encode(), (argv[0], unbuffered, len(got), len(whole))


def _limit_file_size(limit: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # as Python itself has it
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.parametrize("unbuffered", [True, False], ids=["unbuffered", "buffered"])
def test_stdout_under_a_file_size_limit_fails_loudly(tmp_path: Path, unbuffered: bool) -> None:
    """`cast -o -`, `info --json` and `play` redirected to a file, under a file-size limit: one
    line naming stdout, exit 1 (never a cut file with exit 0, nor Python's own message)."""
    extra = {"PYTHONUNBUFFERED": "1"} if unbuffered else {}
    trace = "llama-3-8b-sft"
    commands = [["cast", trace, "-o", "-"]]
    if not unbuffered:  # (play writes its own bytes: Python's buffering is not in its way)
        commands += [["info", "--json", *[trace] * 15], ["play", "--once", "--speed", "1e6", trace]]
    for i, argv in enumerate(commands):
        with (tmp_path / f"out{i}").open("wb") as out:
            proc = subprocess.run(
                [*LLMSIM, *argv],
                stdout=out,
                stderr=subprocess.PIPE,
                env=env(**extra),
                preexec_fn=lambda: _limit_file_size(20_000),
                timeout=120,
                check=False,
            )
        assert proc.returncode == 1, argv
        assert_one_line_error(proc.stderr, "cannot write to stdout: File too large")
        assert (tmp_path / f"out{i}").stat().st_size == 20_000


def test_stdout_that_is_dev_full_is_named() -> None:
    """The issue's example: /dev/full as stdout was `No space left on device`, not naming
    stdout. Every command that prints says it before doing any work."""
    for argv in (  # (list and generate check stdout as info does)
        ["cast", "llama-3-8b-sft", "-o", "-"],
        ["play", "--once", "--speed", "1e6", "llama-3-8b-sft"],
        ["info", "llama-3-8b-sft"],
    ):
        with open("/dev/full", "wb") as full:
            proc = subprocess.run(
                [*LLMSIM, *argv], stdout=full, stderr=subprocess.PIPE, env=env(), check=False
            )
        assert proc.returncode == 1, argv
        assert_one_line_error(proc.stderr, "cannot write to stdout: No space left on device")
