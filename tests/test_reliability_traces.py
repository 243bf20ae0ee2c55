"""Bad traces through the real CLI: one line naming the file and the fault, a non-zero exit,
no traceback, nothing written; in a playlist a bad trace is reported once and skipped.

The reader's unit tests (test_trace_format.py) prove each refusal in-process; these prove what
the user sees from `llmsim play`, `llmsim cast` and `llmsim info` for every kind of bad file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyte
import pytest
from reliability_kit import (
    assert_one_line_error,
    bad_midway,
    bad_traces,
    run,
)

from llmsim.cli import main

BAD_KINDS = (
    "missing",
    "empty_folder",
    "not_parquet",
    "truncated",
    "foreign_schema",
    "missing_column",
    "future_version",
    "unknown_version",
    "empty_trace",
    "unsorted_t",
    "negative_t",
    "nan",
    "inf",
    "nan_in_list",
    "null_in_list",
    "absurd_loss",
    "absurd_gpus",
    "huge_text",
    "huge_source",
    "huge_config_string",
    "huge_config",
)
DONE = b"Training completed successfully!"


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    return bad_traces(tmp_path_factory.mktemp("bad"))


@pytest.fixture(scope="module")
def midway(cases: dict[str, tuple[Path, str]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bad_midway(tmp_path_factory.mktemp("mid") / "midway.parquet", cases["good"][0])


def test_the_kit_covers_every_kind(cases: dict[str, tuple[Path, str]]) -> None:
    assert set(cases) == {"good", *BAD_KINDS}


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_info_reports_each_bad_kind_in_one_line(
    cases: dict[str, tuple[Path, str]], kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path, needle = cases[kind]
    assert main(["info", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert_one_line_error(captured.err.encode(), f"llmsim: error: {path}: ", needle)


def _lines_naming(stderr: bytes, path: Path) -> list[str]:
    return [x for x in stderr.decode().splitlines() if f"{path}: " in x]


def test_play_reports_every_bad_kind_and_exits_1(cases: dict[str, tuple[Path, str]]) -> None:
    paths = [cases[k][0] for k in BAD_KINDS]
    proc = run("play", "--once", "--speed", "1e6", "--color", "never", *map(str, paths))
    assert proc.returncode == 1
    assert proc.stdout == b""  # nothing was played, not even a half run
    err = proc.stderr.decode()
    assert "Traceback" not in err and len(err.splitlines()) == len(BAD_KINDS), err
    for kind in BAD_KINDS:
        path, needle = cases[kind]
        (line,) = _lines_naming(proc.stderr, path)
        assert line.startswith("llmsim: ") and needle in line, (kind, line)


def test_cast_reports_every_bad_kind_and_writes_nothing(
    cases: dict[str, tuple[Path, str]], tmp_path: Path
) -> None:
    paths = [cases[k][0] for k in BAD_KINDS]
    out = tmp_path / "out.cast"
    proc = run("cast", *map(str, paths), "-o", str(out))
    assert proc.returncode == 1
    lines = proc.stderr.decode().splitlines()
    assert lines[-1] == "llmsim: error: none of the traces could be played"
    assert len(lines) == len(BAD_KINDS) + 1 and "Traceback" not in proc.stderr.decode()
    for kind in BAD_KINDS:
        path, needle = cases[kind]
        (line,) = _lines_naming(proc.stderr, path)
        assert line.startswith("llmsim: warning: ") and needle in line, (kind, line)
    assert list(tmp_path.iterdir()) == []  # no cast, no temp file


@pytest.mark.parametrize("kind", ["future_version", "nan"])  # refused at open / while reading
def test_a_single_bad_trace_is_an_error_for_play_and_cast(
    cases: dict[str, tuple[Path, str]], kind: str, tmp_path: Path
) -> None:
    path, needle = cases[kind]
    proc = run("play", "--once", "--speed", "1e6", str(path))
    assert proc.returncode == 1 and proc.stdout == b""
    assert_one_line_error(proc.stderr, str(path), needle)
    proc = run("cast", str(path), "-o", str(tmp_path / "x.cast"))
    assert proc.returncode == 1 and list(tmp_path.iterdir()) == []


def test_playlist_skips_bad_traces_and_plays_the_rest(
    cases: dict[str, tuple[Path, str]], midway: Path, tmp_path: Path
) -> None:
    good, broken = cases["good"][0], cases["not_parquet"][0]
    playlist = [str(p) for p in (good, broken, midway, good)]
    proc = run("play", "--once", "--speed", "1e6", "--color", "never", *playlist)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count(DONE) == 2
    err = proc.stderr.decode().splitlines()
    assert len(err) == 2 and "Traceback" not in proc.stderr.decode()
    assert f"{broken}: not a readable Parquet file" in err[0]
    assert f"{midway}: NaN in column 'loss'" in err[1]
    # The cast of the same playlist: the same two lines, a cast holding both good runs.
    out = tmp_path / "list.cast"
    proc = run("cast", *playlist, "-o", str(out), "--cols", "100", "--rows", "30")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stderr.decode().splitlines()) == 2
    events = [json.loads(x) for x in out.read_text("utf-8").splitlines()[1:]]
    output = "".join(e[2] for e in events if e[1] == "o")
    assert output.count(DONE.decode()) == 2
    screen = pyte.Screen(100, 30)
    pyte.Stream(screen).feed(output)
    assert DONE.decode() in "\n".join(screen.display)


def test_a_bad_trace_is_reported_once_while_looping(
    cases: dict[str, tuple[Path, str]], midway: Path
) -> None:
    good = cases["good"][0]
    proc = run(
        "play", "--speed", "1e6", "--exit-after", "1.5s", "--color", "never", str(good), str(midway)
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count(DONE) >= 2  # it looped...
    assert len(proc.stderr.decode().splitlines()) == 1  # ...and said it once


def test_looping_playlist_of_only_bad_traces_ends_with_1(
    cases: dict[str, tuple[Path, str]], midway: Path
) -> None:
    proc = run("play", "--speed", "1e6", str(cases["truncated"][0]), str(midway), timeout=60)
    assert proc.returncode == 1
    assert len(proc.stderr.decode().splitlines()) == 2


def test_an_empty_folder_is_named(cases: dict[str, tuple[Path, str]], tmp_path: Path) -> None:
    folder = cases["empty_folder"][0]
    proc = run("play", "--once", str(folder))
    assert proc.returncode == 1
    assert_one_line_error(proc.stderr, str(folder), "no *.parquet traces")
    proc = run("cast", str(folder), "-o", str(tmp_path / "x.cast"))
    assert proc.returncode == 1 and str(folder) in proc.stderr.decode()


def test_hostile_file_names_do_not_reach_the_terminal(tmp_path: Path) -> None:
    evil = tmp_path / "\x1b]0;PWNED\x07\x1b[2J\u202e.parquet"
    evil.write_text("not parquet")
    for args in (["play", "--once"], ["info"], ["cast", "-o", str(tmp_path / "x.cast")]):
        proc = run(*args, str(evil))
        assert proc.returncode == 1
        err = proc.stderr.decode("utf-8")
        assert "\x1b" not in err and "\x07" not in err and "\u202e" not in err, repr(err)
        assert "PWNED" in err  # the name is still shown, inert
