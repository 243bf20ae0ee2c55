"""Class 10 — messages that don't mislead.

A refusal names the real limit; a path is said to be what it is (a symlink loop, a dangling
link, a device, not a folder) rather than "no such file" or "File exists"; `-o -` writes to
stdout where that makes sense and is refused in one line where it does not (never a folder
named `-`); an empty name is an error, not the current folder; a failed malloc is "not enough
memory", not "corrupt"; an environment variable that nothing reads any more changes nothing.
Sizes are said in units that show them; a broken cache folder is said as what it is; a name
of up to 255 bytes is written (its temp file's name fits too); a seed out of range is said at
once, as typed; a bundled run is found from a working folder that cannot be searched; the
limits of `--start-at N%` are the real ones.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from reliability_kit import (
    DONE,
    LLMSIM,
    NOBODY,
    assert_one_line_error,
    call,
    env,
    reachable_by_nobody,
)
from synthetic import write_trace

import llmsim.generator
from llmsim.fresh import FreshOptions, FreshRuns
from llmsim.generator.plan.make import MAX_SEED
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


def test_the_space_a_batch_needs_is_said_in_units_that_show_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's example: "the traces need about 0.0 GB, 0.0 GB are free"."""

    def almost_full(path: Any) -> Any:
        return shutil._ntuple_diskusage(10**9, 10**9 - 12_345, 12_345)

    monkeypatch.setattr(shutil, "disk_usage", almost_full)
    status, _, err = call(["generate", "-o", str(tmp_path), "--seed", "1", "--duration", "2m"])
    assert status == 1
    line = assert_one_line_error(err, "not enough space in", "12.3 kB are free")
    assert "0.0 GB" not in line and " kB," in line


def test_a_broken_cache_folder_is_said_as_what_it_is(tmp_path: Path) -> None:
    """The issue's example: a dangling-symlink or looping cache folder was "File exists"."""
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "gone")
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for folder, needle in (
        (dangling / "runs", f"{dangling} is a symbolic link to nothing"),
        (loop / "runs", f"{loop} is a loop of symbolic links"),
        (a_file / "llmsim" / "runs", f"{a_file} is not a folder"),
    ):
        said: list[str] = []
        with FreshRuns(folder, FreshOptions(seed=1), said.append) as fresh:
            assert next(fresh, None) is None  # no runs to fall back on
        assert len(said) == 1 and needle in said[0] and "File exists" not in said[0], said


@pytest.mark.parametrize("length", [242, 250, 255])
def test_output_names_up_to_255_bytes_are_written(trace: Path, tmp_path: Path, length: int) -> None:
    """The issue's example: names of 242 to 255 bytes were refused as too long (the temp name
    added 14). One of 256 is refused by the OS, in one line; multi-byte names count bytes."""
    for suffix in (".cast", ".html"):
        name = "r" * (length - len(suffix)) + suffix
        status, _, err = call(["cast", str(trace), "-o", str(tmp_path / name)])
        assert (status, err) == (0, ""), (length, suffix)
    name = "t" * (length - len(".parquet")) + ".parquet"
    argv = ["generate", "-o", str(tmp_path / name), "--seed", "1", "--duration", "2m"]
    assert call([*argv, "--model", "Llama-3.2-1B", "--gpus", "8"])[:1] == (0,)
    wide = "é" * ((length - 5) // 2) + "e" * ((length - 5) % 2) + ".cast"  # 2 bytes each
    assert len(os.fsencode(wide)) == length
    assert call(["cast", str(trace), "-o", str(tmp_path / wide)])[0] == 0
    assert sorted(len(os.fsencode(n)) for n in os.listdir(tmp_path)) == [length] * 4


def test_a_name_too_long_for_the_folder_is_one_line(trace: Path, tmp_path: Path) -> None:
    status, _, err = call(["cast", str(trace), "-o", str(tmp_path / ("r" * 251 + ".cast"))])
    assert status == 1
    assert_one_line_error(err, "File name too long")
    assert list(tmp_path.iterdir()) == []


def test_a_seed_out_of_range_for_the_batch_is_said_at_once_as_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's example: `--seed` near the maximum with `--count` named a seed the user did
    not type (seed + 1), after 6.9 s of planning. Now before any run is planned."""

    def no_planning(options: object) -> None:
        raise AssertionError("a run was planned")

    monkeypatch.setattr(llmsim.generator, "plan_run", no_planning)
    for seed, count in ((MAX_SEED, 2), (MAX_SEED - 1, 3)):
        status, _, err = call(
            ["generate", "-o", str(tmp_path), "--seed", str(seed), "--count", str(count)]
        )
        assert status == 2
        assert_one_line_error(err, f"--seed {seed} with --count {count}", str(MAX_SEED))
    status, _, err = call(["generate", "-o", str(tmp_path), "--seed", str(MAX_SEED + 1)])
    assert status == 2
    assert_one_line_error(err, f"not {MAX_SEED + 1}")
    assert list(tmp_path.iterdir()) == []


def test_a_bundled_run_from_a_folder_that_cannot_be_searched(tmp_path: Path) -> None:
    """The issue's example: a bundled run named from a working folder that cannot be read
    (run as an unprivileged user) was "permission denied"; the run plays."""
    closed = tmp_path / "closed"
    closed.mkdir()
    closed.chmod(0o000)
    try:
        with reachable_by_nobody():
            proc = _run_as_nobody(["info", "llama-3-8b-sft"], cwd=closed)
    finally:
        closed.chmod(0o700)
    assert (proc.returncode, proc.stderr) == (0, b""), proc.stderr
    assert b"llama-3-8b-sft" in proc.stdout


def _run_as_nobody(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*NOBODY, *LLMSIM, *argv], capture_output=True, env=env(), cwd=cwd, timeout=60, check=False
    )


@pytest.mark.parametrize("value", ["100%", "100.0%", "1e3%", "-1%"])
def test_the_limits_of_a_share_of_the_run_are_the_real_ones(value: str) -> None:
    """The issue's example: `--start-at 100%` said "0%..99%" while 99.5% is accepted."""
    status, _, err = call(["play", "--start-at", value, "llama-3-8b-sft"])
    assert status == 2
    line = assert_one_line_error(err, "at least 0% and below 100%")
    assert "99%" not in line
    status, out, err = call(
        ["play", "--once", "--speed", "1e6", "--start-at", "99.5%", "llama-3-8b-sft"]
    )
    assert (status, err) == (0, "") and DONE in out
