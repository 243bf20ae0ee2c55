"""Class 10 — messages that don't mislead.

A refusal names the real limit; a path is said to be what it is (a symlink loop, a dangling
link, a device, not a folder) rather than "no such file" or "File exists"; `-o -` writes to
stdout where that makes sense and is refused in one line where it does not (never a folder
named `-`); an empty name is an error, not the current folder; a failed malloc is "not enough
memory", not "corrupt"; an environment variable that nothing reads any more changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from reliability_kit import DONE, assert_one_line_error, call
from synthetic import write_trace

from llmsim.player.options import MAX_SPEED, MIN_SPEED


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_trace(tmp_path_factory.mktemp("messages") / "synthetic.parquet")


@pytest.mark.parametrize(
    ("value", "shown"),
    [("1000001", "1000001"), ("0.0009", "0.0009"), ("5e-324", "5e-324"), ("-2", "-2")],
)
def test_speed_limits_are_the_real_ones(value: str, shown: str) -> None:
    for command in (["play"], ["cast", "-o", "-"]):
        status, _, err = call([*command, "--speed", value, "llama-3-8b-sft"])
        assert status == 2
        assert_one_line_error(
            err, f"--speed must be from {MIN_SPEED:g} to {MAX_SPEED:,.0f}", f"not {shown}"
        )


def test_paths_are_said_to_be_what_they_are(trace: Path, tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)  # a bare name: must not become "no such bundled run"
    looped = tmp_path / "looped.parquet"
    looped.symlink_to(looped)
    dangling = tmp_path / "dangling.parquet"
    dangling.symlink_to(tmp_path / "gone.parquet")
    cases = [
        (loop, "too many levels of symbolic links"),
        (looped, "too many levels of symbolic links"),
        (dangling, "a symbolic link to nothing"),
        (tmp_path / "never.parquet", "no such file"),
    ]
    for path, needle in cases:
        for argv in (["info", str(path)], ["play", "--once", str(path)]):
            status, _, err = call(argv, cwd=tmp_path)
            assert status == 1, argv
            assert_one_line_error(err, str(path), needle)
    status, _, err = call(["info", "loop"], cwd=tmp_path)  # relative, as typed
    assert status == 1 and "loop: too many levels of symbolic links" in err


@pytest.mark.parametrize("output", ["/dev/stdout", "/dev/null", "/dev/zero"])
def test_generate_to_a_device_is_not_file_exists(output: str) -> None:
    status, out, err = call(["generate", "-o", output, "--seed", "1"])
    assert (status, out) == (1, "")
    line = assert_one_line_error(err, output, "not a folder")
    assert "exists (use --force" not in line


def test_dash_is_stdout_for_cast_and_refused_for_generate(trace: Path, tmp_path: Path) -> None:
    status, out, err = call(["cast", str(trace), "-o", "-"], cwd=tmp_path)
    assert (status, err) == (0, "") and out.startswith('{"version": 2')
    status, out, err = call(["generate", "-o", "-", "--seed", "1"], cwd=tmp_path)
    assert (status, out) == (2, "")
    assert_one_line_error(err, "-o -", "not a stream")
    assert list(tmp_path.iterdir()) == []  # no folder named "-", nothing at all


@pytest.mark.parametrize(
    "argv",
    [
        ["play", ""],
        ["play", "  "],
        ["info", ""],
        ["cast", "", "-o", "-"],
        ["play", "llama-3-8b-sft", ""],
        ["generate", "-o", ""],
    ],
)
def test_an_empty_name_is_an_error_not_the_current_folder(
    argv: list[str], trace: Path, tmp_path: Path
) -> None:
    (tmp_path / "here.parquet").write_bytes(trace.read_bytes())  # what "." would have played
    status, out, err = call(argv, cwd=tmp_path)
    assert (status, out) == (2, "")
    assert_one_line_error(err, "''" if "" in argv else "' '")
    assert [p.name for p in tmp_path.iterdir()] == ["here.parquet"]


def test_a_failed_malloc_is_not_enough_memory_not_corrupt(
    trace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    def no_memory(*args: object, **kwargs: object) -> None:
        raise pa.ArrowMemoryError("malloc of size 4096 failed")  # is an ArrowException too

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", no_memory)
    status, _, err = call(["info", str(trace)])
    assert status == 1
    line = assert_one_line_error(err, str(trace), "not enough memory")
    assert "corrupt" not in line
    monkeypatch.setattr(pq, "ParquetFile", no_memory)
    status, _, err = call(["play", "--once", str(trace)])
    assert status == 1
    assert "not enough memory to open" in err and "not a readable" not in err


def test_an_unwritable_player_timing_file_changes_nothing(trace: Path, tmp_path: Path) -> None:
    """LLMSIM_PLAYER_TIMING once made a good play exit 1; nothing reads it any more."""
    for value in ("/proc/nope/timing.txt", str(tmp_path), "\x1b[2J"):
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("LLMSIM_PLAYER_TIMING", value)
            status, out, err = call(["play", "--once", "--speed", "1e6", str(trace)])
        assert (status, err) == (0, "") and out.count(DONE) == 1


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["play", "--exit-after", "9" * 400], "too long"),
        (["generate", "--duration", "9" * 400 + "h"], "too long"),
        (["play", "--exit-after", "0s"], "more than zero"),
        (["cast", "-o", "x.mp4"], ".cast or .html or .gif"),
        (["play", "no-such-run"], "llmsim list"),
    ],
    ids=["exit-after-huge", "duration-huge", "exit-after-zero", "cast-suffix", "no-run"],
)
def test_other_refusals_say_what_is_wrong(argv: list[str], needle: str) -> None:
    status, _, err = call(argv)
    assert status in (1, 2)
    assert_one_line_error(err, needle)
