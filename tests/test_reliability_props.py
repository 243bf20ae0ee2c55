"""Property tests: any schema-valid trace plays, casts and is described without an exception and
without a raw control character from its text; any command line ends in success or one clean
error line, never a traceback or an "internal error".

Traces are drawn at random within the reader's bounds: random configs (names, hostnames, cluster
shapes, start times), random rows of every kind with random-but-valid numbers, per-GPU lists
and text mixing arbitrary Unicode (no surrogates) with escape sequences and bidi controls.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_kit import HOSTILE, assert_inert
from synthetic import config as base_config

from llmsim.cli import main
from llmsim.info import describe, to_text
from llmsim.player import CastOptions, PlayOptions, play
from llmsim.player.cast import write_cast
from llmsim.player.scheduler.clock import Clock
from llmsim.player.sinks.asciicast import CastHeader
from llmsim.trace import RunConfig, TraceWriter, make_table, open_trace
from llmsim.trace.reader import BOUNDS
from llmsim.trace.schema import KINDS, LIST_COLUMNS, PHASES, SCHEMA

# Modest by default so the suite stays fast; LLMSIM_FUZZ_EXAMPLES=2000 for a deep run.
EXAMPLES = int(os.environ.get("LLMSIM_FUZZ_EXAMPLES", "0")) or None
FRAGMENTS = [
    HOSTILE,
    "\x1b[31m",
    "\x1b]0;title\x07",
    "\x1b]52;c;eA==\x1b\\",
    "\x1bP1$r\x1b\\",
    "\x9b2J",
    "\x9d8;;x\x9c",
    "\u202e",
    "\u2066",
    "\x00",
    "\r\n",
    "\t",
    "\u2028",
    "😀",
    "日本",
    "e\u0301",
    "\ufeff",
    "</script>",
]
TEXT = st.lists(
    st.one_of(
        st.text(st.characters(exclude_categories=("Cs",)), max_size=20),
        st.sampled_from(FRAGMENTS),
    ),
    max_size=5,
).map("".join)
DICT_VALUES = {
    "level": ["INFO", "WARNING", "ERROR", "DEBUG"],
    "source": ["torchrun", "nccl", "trainer"],
    "op": ["load_checkpoint", "eval", "checkpoint", "write_shards", "serialize"],
    "unit": ["B", "steps", "shards"],
}


def _number(name: str) -> st.SearchStrategy[Any]:
    """Any value the reader accepts in this column (or in one item of its per-GPU lists)."""
    lo, hi = BOUNDS[name]
    typ = SCHEMA.field(name).type
    if pa.types.is_list(typ):
        typ = typ.value_type
    if pa.types.is_integer(typ):
        return st.integers(int(lo), int(hi))
    width = 32 if pa.types.is_float32(typ) else 64
    return st.floats(float(lo), float(hi), allow_nan=False, width=width)


@st.composite
def configs(draw: st.DrawFn) -> RunConfig:
    nodes = draw(st.integers(1, 4))
    per_node = draw(st.sampled_from([1, 2, 8]))
    gpus = nodes * per_node
    epochs = draw(st.integers(1, 3))
    steps_per_epoch = draw(st.integers(1, 200))
    return replace(
        base_config(),
        name=draw(TEXT),
        model=draw(TEXT),
        gpu_short=draw(TEXT),
        gpu=draw(TEXT),
        hostnames=tuple(draw(st.lists(TEXT, min_size=nodes, max_size=nodes))),
        nodes=nodes,
        gpus_per_node=per_node,
        gpus=gpus,
        tp=1,
        pp=1,
        dp=gpus,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        total_steps=epochs * steps_per_epoch,
        log_interval=draw(st.integers(1, 50)),
        start_time=draw(st.floats(0, 4e9)),
    )


@st.composite
def traces(draw: st.DrawFn) -> tuple[RunConfig, dict[str, list[Any]], int]:
    cfg = draw(configs())
    n = draw(st.integers(1, 25))
    times = sorted(draw(st.lists(st.floats(0, 5e3), min_size=n, max_size=n)))
    columns: dict[str, list[Any]] = {
        "t": times,
        "kind": draw(st.lists(st.sampled_from(KINDS), min_size=n, max_size=n)),
        "phase": draw(st.lists(st.sampled_from(PHASES), min_size=n, max_size=n)),
    }
    for f in SCHEMA:
        if f.name in columns or not draw(st.booleans()):
            continue  # an absent column is all-null
        if f.name in ("text", "path"):
            value: st.SearchStrategy[Any] = TEXT
        elif f.name in DICT_VALUES:
            value = st.one_of(st.sampled_from(DICT_VALUES[f.name]), TEXT)
        elif f.name in LIST_COLUMNS:
            value = st.lists(_number(f.name), min_size=cfg.gpus, max_size=cfg.gpus)
        else:
            value = _number(f.name)
        columns[f.name] = draw(st.lists(st.one_of(st.none(), value), min_size=n, max_size=n))
    return cfg, columns, n


@contextlib.contextmanager
def _trace_file(cfg: RunConfig, columns: dict[str, list[Any]], n: int) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "random.parquet"
        with TraceWriter(path, cfg) as writer:
            writer.write(make_table(n, columns))
        yield path


SIZES = st.sampled_from([(20, 5), (1, 1), (80, 24), (120, 40), (33, 7), (200, 3)])


@settings(max_examples=EXAMPLES or 50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(traces(), SIZES, st.booleans(), st.booleans())
def test_any_valid_trace_plays_and_casts_inertly(
    trace: tuple[RunConfig, dict[str, list[Any]], int],
    size: tuple[int, int],
    color: bool,
    ascii_only: bool,
) -> None:
    cfg, columns, n = trace
    cols, rows = size
    with _trace_file(cfg, columns, n) as path:
        opened = open_trace(path)  # valid by construction: the reader must accept it
        assert sum(1 for _ in opened.events()) == n
        # The cast of it: the frames a terminal of that size gets (test_cast.py proves it).
        cast = CastOptions(cols=cols, rows=rows, color=color, ascii=ascii_only)
        lines: list[str] = []
        errors: list[str] = []
        write_cast([path], CastHeader(2, cols, rows), cast, lines.append, errors.append)
        assert errors == []
        events = [json.loads(line) for line in lines[1:]]
        text = "".join(e[2] for e in events if e[1] == "o")
        assert_inert(text, tty=True, color=color)
        if ascii_only:
            assert text.isascii()
        for marker in (e[2] for e in events if e[1] == "m"):
            assert_inert(marker, tty=False, color=False)
        # Line mode through play(), on a file descriptor that is not a terminal.
        assert_inert(_play_lines(path), tty=False, color=False)
        # `llmsim info`'s report.
        assert_inert(to_text(describe(path)), tty=False, color=False)


def _play_lines(path: Path) -> str:
    now = [0.0]

    def sleep(seconds: float) -> bool:
        now[0] += seconds
        return False

    with tempfile.TemporaryFile() as sink:
        options = PlayOptions(once=True, color="never", timestamps="trace")
        status = play(
            [path],
            options,
            fd=sink.fileno(),
            clock=Clock(lambda: now[0], sleep),
            report=lambda m: None,
        )
        assert status == 0
        sink.seek(0)
        return sink.read().decode("utf-8")


# --- the command line, fuzzed ----------------------------------------------------------------

EDGE = [
    "",
    " ",
    "-1",
    "0",
    "1e-320",
    "nan",
    "inf",
    "-inf",
    "1e309",
    "99999999999999999999",
    "0x10",
    "1_0",
    "٣",
    "\x1b[2J",
    "\u202eevil",
    "-",
    "--",
    "--help-me",
]


def _not_a_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return True
    return False


WORDS = st.text(st.characters(exclude_categories=("Cs",)), max_size=12).filter(_not_a_number)
GARBAGE = st.one_of(st.sampled_from(EDGE), WORDS)


def _slow(value: str) -> bool:  # a valid speed that would make a --once run take long
    try:
        return 0 < float(value) < 0.5
    except ValueError:
        return False


def _options(pairs: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[list[str]]:
    def flatten(chosen: dict[str, str]) -> list[str]:
        return [x for option, value in chosen.items() for x in (option, value)]

    return st.fixed_dictionaries({}, optional=pairs).map(flatten)


def _argv(work: Path, trace: Path) -> st.SearchStrategy[list[str]]:
    # `folder` holds only the tiny trace: fuzzed `generate -o ""` writes into `work` itself.
    folder = trace.parent
    paths = st.sampled_from([str(trace), str(work / "nope.parquet"), str(folder), "\x1b]0;x\x07"])
    speed = st.one_of(GARBAGE, st.floats(0.5, 2e6).map(repr)).filter(lambda v: not _slow(v))
    flag = st.sampled_from([[], ["--shuffle"], ["--json"], ["--force"], ["--once"]])
    play = st.tuples(
        st.just(["play", "--once"]),
        _options(
            {
                "--speed": speed,
                "--exit-after": st.one_of(GARBAGE, st.sampled_from(["1ms", "0.2s", "0s", "1h"])),
                "--color": st.one_of(GARBAGE, st.sampled_from(["auto", "always", "never"])),
                "--timestamps": st.one_of(GARBAGE, st.sampled_from(["wall", "trace"])),
            }
        ),
        paths.map(lambda p: [p]),
    )
    outputs = ["-", "out.cast", "out.html", "out.txt", "", "no/such/dir/out.cast", "\x1b.cast"]
    cast = st.tuples(
        st.just(["cast"]),
        _options(
            {
                "-o": st.sampled_from(outputs),
                "--cols": st.one_of(GARBAGE, st.integers(-5, 2000).map(str)),
                "--rows": st.one_of(GARBAGE, st.integers(-5, 600).map(str)),
                "--speed": st.one_of(GARBAGE, st.floats(0.5, 2e6).map(repr)),
                "--format": st.one_of(GARBAGE, st.sampled_from(["v2", "v3"])),
                "--idle-time-limit": st.one_of(GARBAGE, st.floats(-1, 1e9).map(repr)),
                "--title": st.one_of(GARBAGE, st.just(HOSTILE)),
            }
        ),
        paths.map(lambda p: [p]),
    )
    small = st.one_of(GARBAGE, st.integers(-2, 20).map(str))
    generate = st.tuples(
        st.just(["generate"]),
        _options(
            {
                "-o": st.sampled_from(["gen", "gen/one.parquet", "", "a-file/x.parquet"]),
                "--count": st.one_of(GARBAGE, st.integers(-1, 3).map(str)),
                "--seed": st.one_of(GARBAGE, st.integers(-(2**70), 2**70).map(str)),
                "--model": st.one_of(GARBAGE, st.sampled_from(["Llama-3.2-1B", "list", "X"])),
                "--gpus": st.one_of(GARBAGE, st.sampled_from(["1", "2", "8", "16", "12"])),
                "--gpu-type": st.one_of(GARBAGE, st.sampled_from(["H100", "A100", "TPU"])),
                "--kind": st.one_of(GARBAGE, st.sampled_from(["pretrain", "finetune"])),
                "--epochs": small,
                "--steps-per-epoch": small,
                "--duration": st.sampled_from(["2m", "150s", "soon", "0s", "1e400h", "", "-5m"]),
            }
        ),
        st.just([]),
    )
    info = st.tuples(st.just(["info"]), paths.map(lambda p: [p]), flag)
    unknown = st.tuples(st.sampled_from([["frobnicate"], [], ["play", "--nope"]]), st.just([]))
    return st.one_of(play, cast, generate, info, unknown).map(
        lambda parts: [arg for part in parts for arg in part]
    )


def _call(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    """main(argv) in this process, its stdout/stderr (Python- and fd-level) captured."""
    sys.stdout.flush()
    sys.stderr.flush()
    old_cwd = os.getcwd()
    with tempfile.TemporaryFile("a+") as out, tempfile.TemporaryFile("a+") as err:
        saved = os.dup(2)
        os.dup2(err.fileno(), 2)
        os.chdir(cwd)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    status = main(argv)
                except SystemExit as exc:
                    status = exc.code if isinstance(exc.code, int) else 1
                out.flush()
                err.flush()
        finally:
            os.chdir(old_cwd)
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        err.seek(0)
        return status, out.read(), err.read()


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("fuzz")
    (work / "a-file").write_text("x")
    (work / "traces").mkdir()
    tiny = work / "traces" / "tiny.parquet"
    rows = {"t": [0.0, 0.01, 0.02], "kind": ["phase", "log", "log"], "phase": ["init"] * 3}
    with TraceWriter(tiny, base_config()) as writer:
        writer.write(make_table(3, {**rows, "text": ["Init", "hello", HOSTILE]}))
    return work, tiny


@settings(
    max_examples=EXAMPLES or 60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.data())
def test_any_command_line_ends_cleanly(fuzz_dir: tuple[Path, Path], data: st.DataObject) -> None:
    work, tiny = fuzz_dir
    argv = data.draw(_argv(work, tiny))
    status, out, err = _call(argv, work)
    assert status in (0, 1, 2), (argv, status, err)
    assert "Traceback" not in err and "internal error" not in err, (argv, err)
    for line in err.splitlines():
        assert line.startswith("llmsim: "), (argv, err)
        assert line.isprintable(), (argv, repr(line))  # hostile names come out inert
    if status:
        assert err.strip(), argv  # a failure always says why
        if argv[:1] != ["play"] and argv[:1] != ["cast"]:
            assert err.count("\n") == 1, (argv, err)
    if argv[:1] == ["cast"] and "-" in argv and status == 0:
        assert out.startswith('{"version"'), argv
