"""Class 5 — no hangs.

Anything that is not a regular file (a FIFO, a device, a socket, a folder named like a trace)
is refused before it is opened, alone or inside a folder of good traces, as input and as
output, and `cast` leaves no temp file; what stat() called regular but turns out otherwise
when opened is refused too, without waiting. The work of a frame is bounded by the screen, so
`cast` time stays linear in the number of operations a trace leaves open.
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from reliability_kit import DONE, assert_clean_lines, assert_one_line_error, call, copy_trace
from synthetic import config, write_trace

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
