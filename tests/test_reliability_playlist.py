"""Class 8 — one bad trace never aborts the playlist.

Whatever is wrong with one file (its name, its bytes, its metadata, its permissions, where
its symlink points) and whatever state stderr is in: one line naming the file, the file
skipped, the rest played, and exit status 1 at the end. `info` shows the others too; `cast`
records them. Nothing played, nothing recorded: exit 1. The reader's unit tests
(test_trace_format.py) prove each refusal in-process; these prove what each command does.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from reliability_kit import (
    DONE,
    LLMSIM,
    NOBODY,
    assert_clean_lines,
    assert_one_line_error,
    bad_midway,
    bad_traces,
    call,
    copy_trace,
    reachable_by_nobody,
    run_all,
    with_metadata,
)
from synthetic import write_trace

from llmsim.trace.schema import META_VERSION

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


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    return bad_traces(tmp_path_factory.mktemp("bad"))


@pytest.fixture(scope="module")
def good(cases: dict[str, tuple[Path, str]]) -> Path:
    return cases["good"][0]


def _odd_files(folder: Path, good: Path) -> dict[str, tuple[Path, str]]:
    """The issue's kinds beyond the kit's: odd names, bytes, metadata and links."""
    folder.mkdir()
    data = good.read_bytes()
    out: dict[str, tuple[Path, str]] = {}
    latin1 = Path(os.fsdecode(bytes(folder) + b"/caf\xe9-\xff.parquet"))  # not UTF-8
    out["non_utf8_name"] = (copy_trace(good, folder, latin1.name), "")
    out["invalid_utf8_text"] = (invalid_utf8(folder / "bad-utf8.parquet", good), "not UTF-8")
    footer = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    name = data.index(b"loss", footer)  # the schema's column name, in the (plain) footer
    flipped = data[:name] + b"lo\xf3s" + data[name + 4 :]  # one bit: not UTF-8 any more
    (folder / "footer.parquet").write_bytes(flipped)
    out["flipped_footer_name"] = (folder / "footer.parquet", "column name is not UTF-8")
    version = with_metadata(folder / "sup2.parquet", good, {META_VERSION: "².0".encode()})
    out["superscript_version"] = (version, "not supported")
    loop = folder / "loop.parquet"
    loop.symlink_to(loop)
    out["symlink_loop"] = (loop, "too many levels of symbolic links")
    dangling = folder / "dangling.parquet"
    dangling.symlink_to(folder / "nowhere.parquet")
    out["dangling_symlink"] = (dangling, "symbolic link to nothing")
    fifo = folder / "fifo.parquet"
    os.mkfifo(fifo)
    out["fifo"] = (fifo, "is a FIFO")
    return out


def invalid_utf8(path: Path, good: Path) -> Path:
    """`good` with one log text holding a byte that is not UTF-8 (the writer does not check)."""
    table = pq.read_table(good)
    texts = [None if v is None else v.encode() for v in table.column("text").to_pylist()]
    texts[1] = b"Starting \xff worker group"
    column = pa.array(texts, pa.binary()).view(pa.string())  # no validation on the way
    index = table.schema.get_field_index("text")
    pq.write_table(table.set_column(index, table.schema.field("text"), column), path)
    return path


@pytest.fixture(scope="module")
def odd(good: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    return _odd_files(tmp_path_factory.mktemp("odd") / "files", good)


def test_the_odd_files_are_what_they_claim(odd: dict[str, tuple[Path, str]], good: Path) -> None:
    """Controls: each variant really is broken the way its name says."""
    assert b"\xff" in os.fsencode(odd["non_utf8_name"][0])
    with open(odd["non_utf8_name"][0], "rb") as fh:  # pyarrow itself cannot open it by name
        assert pq.ParquetFile(fh).metadata.num_rows > 0
    texts = pq.read_table(odd["invalid_utf8_text"][0], columns=["text"]).column(0)
    assert b"\xff" in texts.cast(pa.binary())[1].as_py()
    assert b"lo\xf3s" in odd["flipped_footer_name"][0].read_bytes()
    assert stat.S_ISFIFO(odd["fifo"][0].lstat().st_mode)


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_info_names_each_bad_kind_in_one_line(
    cases: dict[str, tuple[Path, str]], kind: str
) -> None:
    path, needle = cases[kind]
    status, out, err = call(["info", str(path)])
    assert (status, out) == (1, "")
    assert_one_line_error(err, f"llmsim: error: {path}: ", needle)


def test_play_skips_every_bad_kind_plays_the_good_one_and_ends_with_1(
    cases: dict[str, tuple[Path, str]], odd: dict[str, tuple[Path, str]], good: Path
) -> None:
    bad = [cases[k] for k in BAD_KINDS] + [v for k, v in odd.items() if k != "non_utf8_name"]
    names = [str(p) for p, _ in bad]
    status, out, err = call(["play", "--once", "--speed", "1e6", *names, str(good)])
    assert status == 1
    assert out.count(DONE) == 1  # the good one played, after all the bad ones
    lines = assert_clean_lines(err, names)
    assert len(lines) == len(bad)
    for (path, needle), line in zip(bad, lines, strict=True):
        assert f"{path}: " in line and needle in line, line


def test_cast_skips_every_bad_kind_and_records_the_good_one(
    cases: dict[str, tuple[Path, str]], odd: dict[str, tuple[Path, str]], good: Path, tmp_path: Path
) -> None:
    bad = [cases[k] for k in BAD_KINDS] + [v for k, v in odd.items() if k != "non_utf8_name"]
    names = [str(p) for p, _ in bad]
    target = tmp_path / "out.cast"
    argv = ["cast", *names, str(good), "-o", str(target), "--rows", "24", "--layout", "classic"]
    status, _, err = call(argv)
    assert status == 1
    assert len(assert_clean_lines(err, names)) == len(bad)
    events = [json.loads(x) for x in target.read_text("utf-8").splitlines()[1:]]
    assert "".join(e[2] for e in events if e[1] == "o").count(DONE) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.cast"]  # no temp file


def test_nothing_playable_is_1_with_one_line_per_file_and_nothing_written(
    cases: dict[str, tuple[Path, str]], tmp_path: Path
) -> None:
    names = [str(cases[k][0]) for k in ("not_parquet", "nan", "future_version")]
    status, out, err = call(["play", "--once", *names])
    assert (status, out) == (1, "")
    assert len(assert_clean_lines(err, names)) == 3
    status, out, err = call(["cast", *names, "-o", str(tmp_path / "x.cast")])
    assert status == 1 and list(tmp_path.iterdir()) == []
    assert assert_clean_lines(err, names)[-1] == "llmsim: error: none of the traces could be played"


def test_odd_names_and_bytes_in_info_and_play(odd: dict[str, tuple[Path, str]], good: Path) -> None:
    """A non-UTF-8 name plays like any trace; invalid UTF-8 text and a flipped footer byte
    are one line each, for info too (never a silent exit 0), and the good one is still shown."""
    name = odd["non_utf8_name"][0]
    status, out, err = call(["info", str(name)])
    assert status == 0 and err == "" and "caf\ufffd-\ufffd.parquet" in out  # shown inert
    for kind in ("invalid_utf8_text", "flipped_footer_name", "superscript_version"):
        path, needle = odd[kind]
        status, out, err = call(["info", str(path), str(good)])
        assert status == 1 and "llama-3.2-1b" in out.lower(), kind  # the good one is shown
        assert needle in assert_one_line_error(err, f"{path}: "), kind
    status, out, err = call(["play", "--once", "--speed", "1e6", str(name), str(good)])
    assert status == 0 and out.count(DONE) == 2 and err == ""


def test_a_trace_bad_part_way_is_cut_there_and_reported_once_while_looping(
    good: Path, tmp_path: Path
) -> None:
    midway = bad_midway(tmp_path / "midway.parquet", good)
    status, out, err = call(
        ["play", "--exit-after-runs", "3", "--speed", "1e6", str(good), str(midway)]
    )
    assert status == 1
    assert out.count(DONE) == 3  # it looped over the good one...
    (line,) = assert_clean_lines(err, [str(midway)])  # ...and said it once
    assert "NaN in column 'loss'" in line
    status, _, err = call(["play", "--speed", "1e6", str(midway), str(tmp_path / "gone.parquet")])
    assert status == 1 and len(assert_clean_lines(err)) == 2  # only bad ones, looping: ends


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Path]:
    """A folder an unprivileged user can reach (pytest's own are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="llmsim-rel-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in (folder, *folder.rglob("*")):
            if not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(folder)


def test_unreadable_files_and_folders_as_an_unprivileged_user(good: Path, world: Path) -> None:
    """Permissions root would bypass: run as nobody (setpriv), never skipped as root."""
    shared, secret, out = world / "shared", world / "secret", world / "out"
    good_copy = copy_trace(good, shared, "good.parquet")
    locked = copy_trace(good, shared, "locked.parquet")
    copy_trace(good, secret, "hidden.parquet")
    link = shared / "into-secret.parquet"
    link.symlink_to(secret / "hidden.parquet")
    out.mkdir()
    for path, mode in ((shared, 0o755), (locked, 0o000), (secret, 0o000), (out, 0o777)):
        path.chmod(mode)  # secret: neither listable nor searchable
    bad = [str(locked), str(link), str(secret)]
    cmd = [*NOBODY, *LLMSIM]
    with reachable_by_nobody():
        done = run_all(
            [
                [*cmd, "play", "--once", "--speed", "1e6", *bad, str(good_copy)],
                [*cmd, "info", *bad, str(good_copy)],
                [*cmd, "cast", *bad, str(good_copy), "-o", str(out / "x.cast")],
                [*cmd, "play", "--once", "--speed", "1e6", str(shared)],  # they are in a folder
            ]
        )
    for proc, named in zip(done, [bad, bad, bad, bad[:2]], strict=True):
        assert proc.returncode == 1, proc
        lines = assert_clean_lines(proc.stderr, named)
        assert len(lines) == len(named) and all("permission denied" in x for x in lines), lines
    assert done[0].stdout.decode().count(DONE) == 1
    assert done[1].stdout.decode().count("(trace v") == 1
    assert done[3].stdout.decode().count(DONE) == 1
    assert [p.name for p in out.iterdir()] == ["x.cast"]


def test_a_closed_stderr_still_plays_the_rest_and_ends_with_1(
    cases: dict[str, tuple[Path, str]], good: Path
) -> None:
    bad = str(cases["not_parquet"][0])
    status, out, _ = call(["play", "--once", "--speed", "1e6", bad, str(good)], closed=(2,))
    assert status == 1 and out.count(DONE) == 1
    status, out, _ = call(["info", bad, str(good)], closed=(2,))
    assert status == 1 and "(trace v" in out


def test_an_empty_folder_and_a_folder_of_bad_ones(
    cases: dict[str, tuple[Path, str]], tmp_path: Path
) -> None:
    folder = cases["empty_folder"][0]
    status, _, err = call(["play", "--once", str(folder)])
    assert status == 1
    assert_one_line_error(err, str(folder), "no *.parquet traces")
    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copy(cases["nan"][0], runs / "a.parquet")
    write_trace(runs / "b.parquet")
    status, out, err = call(["play", "--once", "--speed", "1e6", str(runs)])
    assert status == 1 and out.count(DONE) == 1
    assert_clean_lines(err, [str(runs / "a.parquet")])
