"""Class 8 — one bad trace never aborts the playlist.

Whatever is wrong with one file (its name, its bytes, its metadata, its permissions, where
its symlink points, an unreadable last row group a start point needs, memory running out while
its rows are read) and whatever state stderr is in: one line naming the file, the file
skipped, the rest played, and exit status 1 at the end. `info` shows the others too; `cast`
records them. Nothing played, nothing recorded: exit 1. The reader's unit tests
(test_trace_format.py) prove each refusal in-process; these prove what each command does.
Endless play goes on too: players sharing the cache use each other's runs, a generator that
cannot start gives way to the runs there are, a file under a fresh run's name that is not
that run is skipped, never played.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
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
    env,
    reachable_by_nobody,
    run_all,
    with_metadata,
)
from synthetic import write_trace

import llmsim.trace.reader
from llmsim.errors import os_reason
from llmsim.fresh import FreshOptions, FreshRuns, is_fresh_run
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


# --- endless play: the fresh-run cache and its generator -------------------------------------------


def test_two_players_share_the_cache(tmp_path: Path) -> None:
    """The issue's example: two `play --seed 100` sharing the cache; one gave up fresh runs
    ("...exists (use --force to overwrite)", an option play does not have). Both now play the
    same fresh runs, whichever wrote each first."""
    argv = [*LLMSIM, "play", "--seed", "100", "--models", "invented", "--speed", "1e6"]
    players = run_all(
        [[*argv, "--exit-after-runs", "3"]] * 2, envs=[env(XDG_CACHE_HOME=str(tmp_path))] * 2
    )
    for proc in players:
        assert (proc.returncode, proc.stderr) == (0, b"")
        assert proc.stdout.decode().count(DONE) == 3
    runs = sorted((tmp_path / "llmsim" / "runs").glob("fresh-*.parquet"))
    assert {"fresh-100-invented.parquet", "fresh-101-invented.parquet"} <= {p.name for p in runs}
    assert all(is_fresh_run(p) for p in runs)


def _no_statistics_last_group_corrupt(path: Path, good: Path) -> Path:
    """`good` rewritten without statistics (so its duration is read from its last row group's
    `t` column), that column's bytes then overwritten."""
    table = pq.read_table(good)
    half = table.num_rows // 2
    with pq.ParquetWriter(str(path), table.schema, write_statistics=False) as writer:
        writer.write_table(table.slice(0, half))
        writer.write_table(table.slice(half))
    meta = pq.ParquetFile(path).metadata
    chunk = meta.row_group(meta.num_row_groups - 1).column(0)
    data = bytearray(path.read_bytes())
    start = chunk.data_page_offset
    data[start : start + chunk.total_compressed_size] = b"\xff" * chunk.total_compressed_size
    path.write_bytes(bytes(data))
    return path


def test_a_share_of_a_run_with_an_unreadable_last_row_group(tmp_path: Path, good: Path) -> None:
    """The issue's example: `--start-at N%` needs the run's length from its last row group;
    unreadable, it aborted the whole playlist. Now one line and the rest plays / is recorded."""
    bad = _no_statistics_last_group_corrupt(tmp_path / "bad-end.parquet", good)
    for argv in (
        ["play", "--once", "--speed", "1e6", "--start-at", "50%"],
        ["cast", "-o", "-", "--layout", "classic", "--start-at", "50%"],
        ["play", "--speed", "1e6", "--start-at", "0%", "--exit-after-runs", "2"],
    ):
        status, out, err = call([*argv, str(bad), str(good)])
        assert status == 1, argv
        assert_one_line_error(err, "bad-end.parquet", "corrupt or truncated")
        assert DONE in out, argv


def test_memory_running_out_while_rows_become_events(
    tmp_path: Path, good: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's example: a MemoryError while a trace's rows become events ended the
    playlist. Now that trace is one line (`not enough memory`), the rest plays."""
    first = copy_trace(good, tmp_path, "first.parquet")
    real = llmsim.trace.reader._slices
    calls = [0]

    def out_of_memory(rb: pa.RecordBatch, gpus: int) -> Iterator[pa.RecordBatch]:
        calls[0] += 1
        if calls[0] == 1:  # the first trace's first rows: as a failed malloc would
            raise MemoryError
        return real(rb, gpus)

    monkeypatch.setattr(llmsim.trace.reader, "_slices", out_of_memory)
    for argv in (["play", "--once", "--speed", "1e6"], ["cast", "-o", "-", "--layout", "classic"]):
        calls[0] = 0
        status, out, err = call([*argv, str(first), str(good)])
        assert status == 1, argv
        assert_one_line_error(err, "first.parquet", "not enough memory to read the trace")
        assert out.count(DONE) == 1


IMPOSSIBLE = [  # (why, when: the how-many-th generator fails to start)
    (BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable"), 1),  # a process limit
    (FileNotFoundError(errno.ENOENT, "No such file or directory", "/usr/bin/python3"), 2),
    (OSError(errno.ENOMEM, "Cannot allocate memory"), 2),
]


@pytest.mark.parametrize(
    ("failure", "when"),
    IMPOSSIBLE,
    ids=["nproc-at-start", "interpreter-removed-while-playing", "nomem-while-playing"],
)
def test_a_generator_that_cannot_start_gives_way_to_the_runs_there_are(
    failure: OSError, when: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's examples: a background generator that cannot start (a process limit, the
    interpreter removed while playing) ended endless play. Now it is said once and the runs
    there are play on (bundled and cached)."""
    real = subprocess.Popen
    calls = [0]

    def popen(*args: object, **kwargs: object) -> object:
        calls[0] += 1
        if calls[0] >= when:
            raise failure
        return real(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("llmsim.fresh.subprocess.Popen", popen)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    argv = ["play", "--models", "invented", "--speed", "1e6", "--exit-after-runs", "4"]
    status, out, err = call([*argv, "--seed", "7"])
    assert status == 0
    line = assert_one_line_error(err.replace("warning", "error"), "cannot start llmsim generate")
    assert "no fresh run could be made" in line and os_reason(failure) in line
    assert out.count(DONE) == 4


def test_a_file_under_a_fresh_runs_name_that_is_not_that_run_is_skipped(tmp_path: Path) -> None:
    """The issue's example: a corrupt file under a fresh run's name was reused by every later
    play. It is neither played nor removed: its seed is skipped."""
    options = FreshOptions(seed=50, generate_args=("--duration", "2m", "--gpus", "8"))
    probe = FreshRuns.__new__(FreshRuns)
    probe.folder, probe.options = tmp_path, options
    corrupt = probe._file_for(50)
    corrupt.write_bytes(b"PAR1 this was a trace once")
    other = probe._file_for(51)
    other.symlink_to(corrupt)  # a link is not a run we made either
    with FreshRuns(tmp_path, options, print) as fresh:
        while (path := next(fresh)) is None:
            pass
    assert path == probe._file_for(52) and is_fresh_run(path)
    assert corrupt.read_bytes() == b"PAR1 this was a trace once" and other.is_symlink()
