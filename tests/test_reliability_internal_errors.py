"""Class 4 — no input or option reaches exit 70 ("internal error").

What is parsed is bounded before it is parsed (config nesting, digits, sizes); what the reader
cannot represent is refused; option ranges and trace bounds are consistent with what the clock
can sleep, a cast can stamp and a calendar can show; closed standard streams and a failed
malloc end in one line. Many variants of each, and a fuzzed command line.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_kit import (
    DONE,
    HOSTILE,
    LLMSIM,
    assert_clean_lines,
    assert_one_line_error,
    call,
    config_json,
    run_all,
    strict_json,
    with_metadata,
    write_rows,
)
from synthetic import config as base_config
from synthetic import write_trace

from llmsim.fresh import FreshOptions, FreshRuns, cache_dir
from llmsim.player import PlayOptions, play
from llmsim.player.options import MAX_SPEED, MIN_SPEED
from llmsim.player.scheduler.clock import Clock
from llmsim.trace import TraceWriter, make_table, open_trace
from llmsim.trace.reader import MAX_T
from llmsim.trace.schema import META_CONFIG

# Modest per run; LLMSIM_FUZZ_EXAMPLES=2000 for a deep search.
EXAMPLES = int(os.environ.get("LLMSIM_FUZZ_EXAMPLES", "0"))
pytestmark = pytest.mark.timeout(60)  # in-process: a hang would stop the suite
DEEP = 100_000
CONFIGS: dict[str, bytes] = {
    "int_400_digits": config_json().replace(b'"seed": 7', b'"seed": ' + b"9" * 400),
    "float_400_digits": config_json().replace(b'"lr_peak": 0.0002', b'"lr_peak": 1' + b"0" * 400),
    "exponent_overflow": config_json().replace(b'"lr_peak": 0.0002', b'"lr_peak": 1e400'),
    "nan_literal": config_json().replace(b'"lr_peak": 0.0002', b'"lr_peak": NaN'),
    "nested_arrays": config_json(extra=None).replace(b"null", b"[" * DEEP + b"]" * DEEP),
    "nested_objects": config_json(extra=None).replace(
        b"null", b'{"a":' * DEEP + b"1" + b"}" * DEEP
    ),
    "nested_900": config_json(extra=None).replace(b"null", b"[" * 900 + b"]" * 900),
    "not_an_object": b"[" + config_json() + b"]",
    "a_bare_number": b"1" + b"0" * 5000,
    "not_utf8": config_json().replace(b"synthetic-llama-1b", b"synthetic-\xff\xfe"),
    "hostnames_not_strings": config_json(hostnames=[1, 2]),
    "bool_for_int": config_json(gpus=True),
    "string_for_float": config_json(lr_peak="fast"),
    "five_megabytes": config_json(model="M" * 5_000_000),
    "a_million_hosts": config_json(hostnames=["h"] * 1_000_000, nodes=1_000_000),
    "negative_steps": config_json(total_steps=-5),
    "start_time_1e300": config_json(start_time=1e300),
    "empty": b"",
}


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("structures")
    good = write_trace(folder / "good.parquet")
    out = {"good": good}
    for name, data in CONFIGS.items():
        out[name] = with_metadata(folder / f"{name}.parquet", good, {META_CONFIG: data})
    table = pq.read_table(good)
    twice = pa.Table.from_arrays(
        [*table.columns, table.column("loss")], names=[*table.column_names, "loss"]
    )
    pq.write_table(twice.replace_schema_metadata(table.schema.metadata), folder / "twice.parquet")
    out["column_twice"] = folder / "twice.parquet"
    as_text = table.set_column(0, "t", table.column("t").cast(pa.string()))
    pq.write_table(as_text, folder / "t-text.parquet")
    out["t_as_text"] = folder / "t-text.parquet"
    wide = table.column("gpu_util").to_pylist()
    first = next(i for i, v in enumerate(wide) if v is not None)
    wide[first] = [50.0] * 2_000_000  # one row with two million values for 16 GPUs
    index = table.schema.get_field_index("gpu_util")
    listed = table.set_column(
        index, table.schema.field("gpu_util"), pa.array(wide, pa.list_(pa.float32()))
    )
    pq.write_table(listed, folder / "wide.parquet")
    out["two_million_values_in_a_row"] = folder / "wide.parquet"
    return out


def test_each_oddity_is_really_in_its_file(traces: dict[str, Path]) -> None:
    """Controls: the metadata and schemas are what the names say."""
    meta = pq.read_schema(traces["nested_arrays"]).metadata
    assert meta is not None and meta[META_CONFIG].count(b"[") >= DEEP
    assert pq.read_schema(traces["column_twice"]).names.count("loss") == 2
    wide = pq.read_table(traces["two_million_values_in_a_row"]).column("gpu_util")
    assert max(len(v) for v in wide.to_pylist() if v is not None) == 2_000_000


STRUCTURES = [*CONFIGS, "column_twice", "t_as_text", "two_million_values_in_a_row"]


@pytest.mark.parametrize("name", STRUCTURES)
def test_hostile_structures_are_one_line(traces: dict[str, Path], name: str) -> None:
    bad = str(traces[name])
    status, out, err = call(["info", bad])
    assert (status, out) == (1, "")
    assert_one_line_error(err, f"{bad}: ")


def test_hostile_structures_never_stop_the_playlist(
    traces: dict[str, Path], tmp_path: Path
) -> None:
    bad = [str(traces[name]) for name in STRUCTURES]
    good = str(traces["good"])
    status, out, err = call(["play", "--once", "--speed", "1e6", *bad, good])
    assert status == 1 and out.count(DONE) == 1
    assert len(assert_clean_lines(err, bad)) == len(bad)
    status, _, err = call(["cast", *bad, good, "-o", str(tmp_path / "x.cast")])
    assert status == 1 and len(assert_clean_lines(err, bad)) == len(bad)


@pytest.mark.parametrize(
    "argv",
    [
        ["play", "--speed", "1e-12"],
        ["play", "--speed", "5e-324"],
        ["play", "--speed", "1e400"],
        ["play", "--speed", "nan"],
        ["play", "--speed", "-0"],
        ["play", "--speed", "inf"],
        ["cast", "-o", "-", "--speed", "5e-324"],
        ["cast", "-o", "-", "--speed", "1e7"],
        ["play", "--exit-after", "9" * 400],
        ["play", "--start-at", "1e400%"],
        ["play", "--start-at", "nan%"],
        ["cast", "-o", "-", "--cols", str(10**30)],
        ["cast", "-o", "-", "--rows", "-" + "9" * 50],
        ["cast", "-o", "-", "-i", "inf"],
        ["cast", "-o", "-", "-i", "1e400"],
        ["generate", "--count", str(10**30)],
        ["generate", "--duration", "1e400h"],
        ["generate", "--duration", "9" * 400 + "h"],
        ["generate", "--steps-per-epoch", str(10**30)],
        ["generate", "--epochs", str(10**30)],
        ["generate", "--gpus", str(10**30)],
        ["generate", "--max-size", "9" * 400],
    ],
    ids=lambda argv: " ".join(argv)[:40],
)
def test_out_of_range_options_are_usage_errors(argv: list[str]) -> None:
    status, out, err = call([*argv, "llama-3-8b-sft"] if argv[0] != "generate" else argv)
    assert (status, out) == (2, "")
    assert_one_line_error(err)


def test_huge_seeds_and_start_points_are_fine(tmp_path: Path) -> None:
    for argv in (
        ["play", "--once", "--speed", "1e6", "--shuffle", "--seed", str(10**100)],
        ["play", "--once", "--speed", "1e6", "--start-at", "99999999:00"],  # past the end
        # The example (OverflowError, exit 70): more minutes than a float holds.
        ["play", "--once", "--speed", "1e6", "--start-at", "9" * 400 + ":00"],
        ["play", "--once", "--speed", "1e6", "--start-at", "9" * 400 + ":00:00"],
        ["play", "--once", "--speed", "1e6", "--start-at", "7" * 300 + ":00"],
        ["play", "--once", "--speed", "1e6", "--start-at", "0:" + "5" * 400 + ":00"],
        ["cast", "-o", "-", "--layout", "classic", "--start-at", "9" * 400 + ":00"],
        ["play", "--once", "--speed", str(MAX_SPEED), "--exit-after", "99999999h"],
        [
            "play",
            "--speed",
            str(MAX_SPEED),
            "--exit-after-runs",
            str(10**30),
            "--exit-after",
            "0.15",
        ],
    ):
        status, out, err = call([*argv, "llama-3-8b-sft"])
        assert (status, err) == (0, ""), argv
        assert out.count(DONE) >= 1


@pytest.fixture(scope="module")
def far(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trace whose last event is at the reader's bound and whose start is at the config's."""
    rows = [
        {"t": 0.0, "kind": "phase", "phase": "init", "text": "Initialization"},
        {"t": 1.0, "kind": "log", "phase": "init", "level": "INFO", "source": "hf", "text": "x"},
        {
            "t": MAX_T,
            "kind": "log",
            "phase": "init",
            "level": "INFO",
            "source": "titan",
            "text": "y",
        },
    ]
    return write_rows(tmp_path_factory.mktemp("far") / "far.parquet", rows, start_time=1e15)


def test_the_slowest_speed_and_the_latest_event_fit_the_clock_and_the_cast(far: Path) -> None:
    # A real clock: the wait for t = MAX_T at MIN_SPEED is 1e11 s, slept in chunks.
    status, out, err = call(
        ["play", "--once", "--speed", str(MIN_SPEED), "--exit-after", "0.1", str(far)]
    )
    assert (status, err) == (0, "")
    status, out, err = call(["cast", "--speed", str(MIN_SPEED), str(far), "-o", "-"])
    assert (status, err) == (0, "")
    lines = out.splitlines()
    strict_json(lines[0])
    last = max(strict_json(line)[0] for line in lines[1:])
    assert last == pytest.approx(MAX_T / MIN_SPEED)  # exact enough, printed in full


def test_stamps_at_the_bounds_with_wall_time_and_two_runs(far: Path, tmp_path: Path) -> None:
    """Wall stamps of a second run start after the first one's playlist time (1e11 s here)."""
    now = [0.0]

    def sleep(seconds: float) -> bool:
        now[0] += seconds
        return False

    with (tmp_path / "out.txt").open("wb") as sink:
        options = PlayOptions(speed=MIN_SPEED, once=True, color="never", timestamps="wall")
        status = play(
            [far, far], options, fd=sink.fileno(), clock=Clock(lambda: now[0], sleep), report=print
        )
    assert status == 0
    text = (tmp_path / "out.txt").read_text("utf-8")
    assert text.count(" y") == 2 and now[0] >= 2 * MAX_T / MIN_SPEED


CLOSED = {"stdin": (0,), "stdout": (1,), "stderr": (2,), "all": (0, 1, 2)}


def test_closed_standard_streams(tmp_path: Path) -> None:
    """`<&-`, `>&-`, `2>&-` and all three, for every command: never 70; a closed stdout is one
    error line before any work (generate writes nothing); the others change nothing else."""
    trace = write_trace(tmp_path / "t.parquet")
    small = ["--seed", "5", "--duration", "2m", "--model", "Llama-3.2-1B", "--gpus", "8"]
    commands = {
        "play": ["play", "--once", "--speed", "1e6", str(trace)],
        "info": ["info", str(trace)],
        "list": ["list"],
        "cast": ["cast", str(trace), "-o", "-"],
        "help": ["--help"],
        "generate": ["generate", *small, "-o"],
    }
    for command, argv in commands.items():
        for closed, fds in CLOSED.items():
            out = tmp_path / f"{command}-{closed}"
            status, _, err = call([*argv, str(out)] if command == "generate" else argv, closed=fds)
            if 1 in fds:
                assert status == 1, (command, closed)  # what it had to print is lost: say so
                if 2 not in fds:
                    assert_one_line_error(err, "cannot write to stdout: it is closed")
            else:
                assert (status, err) == (0, ""), (command, closed, err)
    written = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("generate"))
    assert written == ["generate-stderr", "generate-stdin"]


def test_closed_standard_streams_at_startup(tmp_path: Path) -> None:
    """The same through a shell, where Python itself starts with the fds closed."""
    trace = write_trace(tmp_path / "t.parquet")
    play = shlex.join([*LLMSIM, "play", "--once", "--speed", "1e6", str(trace), str(trace)])
    small = "--seed 5 --duration 2m --model Llama-3.2-1B --gpus 8"
    generate = shlex.join([*LLMSIM, "generate", "-o", str(tmp_path / "runs")]) + " " + small
    shells = [f"{play} 2>&- <&-", f"{generate} >&-"]
    done = run_all([["bash", "-c", f"{{ {s} ; }} 3>&1; echo $?"] for s in shells])
    statuses = [int(proc.stdout.decode().split()[-1]) for proc in done]
    assert statuses == [0, 1], done
    assert done[0].stdout.decode().count(DONE) == 2 and done[0].stderr == b""
    assert_one_line_error(done[1].stderr, "cannot write to stdout: it is closed")
    assert not (tmp_path / "runs").exists()


def test_a_failed_malloc_is_one_line_not_a_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    def broke(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr("llmsim.info.describe", broke)
    status, out, err = call(["info", "llama-3-8b-sft"])
    assert (status, out) == (1, "")
    assert_one_line_error(err, "not enough memory")
    monkeypatch.setattr("llmsim.player.views.renderer.Renderer.feed", broke)
    status, out, err = call(["play", "--once", "--speed", "1e6", "llama-3-8b-sft"])
    assert status == 1
    assert_one_line_error(err, "not enough memory")


def test_a_trace_of_every_valid_extreme_plays(tmp_path: Path) -> None:
    """Bounds are consistent: the largest values the reader accepts, in every column, play."""
    from llmsim.trace.reader import BOUNDS
    from llmsim.trace.schema import LIST_COLUMNS, METRICS_COLUMN, SCHEMA

    gpus = 16
    row: dict[str, object] = {"t": 0.0, "kind": "step", "phase": "train"}
    for name, (_, hi) in BOUNDS.items():
        if name == "t":
            continue
        typ = SCHEMA.field(name).type
        value: object = int(hi) if "int" in str(typ) else float(hi)
        if str(typ) == "float" or str(typ) == "list<item: float>":
            value = float(pa.scalar(hi, pa.float32()).as_py())
        row[name] = [value] * gpus if name in LIST_COLUMNS else value
    row[METRICS_COLUMN] = [row[METRICS_COLUMN]]  # one value per key of the config's keys
    rows = [row, {**row, "kind": "telemetry"}, {**row, "kind": "summary"}, {**row, "kind": "eval"}]
    keys = {
        "stack": "trl",
        "metric_keys": ("mean_token_accuracy",),
        "eval_metric_keys": ("eval_x",),
    }
    trace = write_rows(tmp_path / "extreme.parquet", rows, **keys)
    for argv in (
        ["info", str(trace)],
        ["play", "--once", "--speed", "1e6", str(trace)],
        ["cast", str(trace), "-o", "-", "--cols", "20", "--rows", "5"],
    ):
        status, _, err = call(argv)
        assert (status, err) == (0, ""), argv


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


NO_SURROGATES: tuple[Literal["Cs"], ...] = ("Cs",)
WORDS = st.text(st.characters(exclude_categories=NO_SURROGATES), max_size=12).filter(_not_a_number)
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
    paths = st.sampled_from(
        [str(trace), str(work / "nope.parquet"), str(folder), "\x1b]0;x\x07", ""]
    )
    speed = st.one_of(GARBAGE, st.floats(0.5, 2e6).map(repr)).filter(lambda v: not _slow(v))
    flag = st.sampled_from([[], ["--shuffle"], ["--json"], ["--force"], ["--once"]])
    play_argv = st.tuples(
        st.just(["play", "--once"]),
        _options(
            {
                "--speed": speed,
                "--exit-after": st.one_of(GARBAGE, st.sampled_from(["1ms", "0.2s", "0s", "1h"])),
                "--color": st.one_of(GARBAGE, st.sampled_from(["auto", "always", "never"])),
                "--timestamps": st.one_of(GARBAGE, st.sampled_from(["wall", "trace"])),
                "--start-at": st.one_of(GARBAGE, st.sampled_from(["train", "50%", "00:01"])),
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
    no_paths: list[str] = []
    generate = st.tuples(
        st.just(["generate"]),
        _options(
            {
                "-o": st.sampled_from(
                    ["gen", "gen/one.parquet", "", "-", "a-file/x.parquet", "a-file"]
                ),
                "--count": st.one_of(GARBAGE, st.integers(-1, 3).map(str)),
                "--seed": st.one_of(GARBAGE, st.integers(-(2**70), 2**70).map(str)),
                "--model": st.one_of(GARBAGE, st.sampled_from(["Llama-3.2-1B", "list", "X"])),
                "--gpus": st.one_of(GARBAGE, st.sampled_from(["1", "2", "8", "16", "12"])),
                "--gpu-type": st.one_of(GARBAGE, st.sampled_from(["H100", "A100", "TPU"])),
                "--kind": st.one_of(GARBAGE, st.sampled_from(["pretrain", "finetune"])),
                "--epochs": small,
                "--steps-per-epoch": small,
                "--duration": st.sampled_from(["2m", "150s", "soon", "0s", "1e400h", "", "-5m"]),
                "--max-size": st.one_of(GARBAGE, st.sampled_from(["1kB", "2GB", "1B"])),
            }
        ),
        st.just(no_paths),
    )
    info = st.tuples(st.just(["info"]), paths.map(lambda p: [p]), flag)
    unknown = st.tuples(
        st.sampled_from([["frobnicate"], [], ["play", "--nope"]]), st.just(no_paths)
    )
    return st.one_of(play_argv, cast, generate, info, unknown).map(
        lambda parts: [arg for part in parts for arg in part]
    )


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
    max_examples=EXAMPLES or 20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.data())
def test_any_command_line_ends_cleanly(fuzz_dir: tuple[Path, Path], data: st.DataObject) -> None:
    work, tiny = fuzz_dir
    argv = data.draw(_argv(work, tiny))
    status, out, err = call(argv, cwd=work)
    assert status in (0, 1, 2), (argv, status, err)
    lines = assert_clean_lines(err)  # never a traceback or an internal error; all inert
    if status:
        assert lines, argv  # a failure always says why
        if argv[:1] not in (["play"], ["cast"]):
            assert len(lines) == 1, (argv, err)
    if argv[:1] == ["cast"] and "-" in argv and status == 0:
        assert out.startswith('{"version"'), argv
        strict_json(out.splitlines()[0])
    json.dumps(argv)  # (hypothesis shows the argv on failure)


# --- bytes that are not UTF-8 ---------------------------------------------------------------------

# Python hands a program its arguments, environment and file names that are not UTF-8 with each
# bad byte as a lone surrogate (PEP 383): what `llmsim` gets for `$'\xff\xfe'`.
NOT_UTF8 = "\udcff\udcfe"


def test_paths_titles_and_folders_that_are_not_utf8(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's examples (exit 70): `generate -o` a name that is not UTF-8, `cast -t` a title
    that is not (and `-o -` wrote invalid UTF-8 JSON with exit 0), a non-UTF-8 XDG_CACHE_HOME
    (fresh runs gave up with internal-error text). Also a folder for `generate`, cast outputs
    of each kind, and such a trace through play, info and cast."""
    trace = write_trace(tmp_path / f"in{NOT_UTF8}.parquet")
    runs = tmp_path / f"runs{NOT_UTF8}"
    small = ["--seed", "3", "--duration", "2m", "--model", "Llama-3.2-1B", "--gpus", "8"]
    for argv in (
        ["generate", "-o", str(tmp_path / f"t{NOT_UTF8}.parquet"), *small],
        ["generate", "-o", str(runs), *small],
    ):
        status, out, err = call(argv)
        assert (status, err) == (0, ""), argv
        assert out.startswith("wrote ") and "\ufffd" in out  # shown, not as raw bytes
    assert open_trace(tmp_path / f"t{NOT_UTF8}.parquet").config.seed == 3
    assert len(os.listdir(os.fsencode(runs))) == 1
    title = f"title {NOT_UTF8} end"
    status, out, err = call(["cast", str(trace), "-t", title, "-o", "-"])
    assert (status, err) == (0, "")
    assert json.loads(out.splitlines()[0])["title"] == "title \ufffd\ufffd end"
    out.encode("utf-8")  # no lone surrogate left to write
    for suffix in ("cast", "html"):
        target = tmp_path / f"o{NOT_UTF8}.{suffix}"
        status, _, err = call(["cast", str(trace), "-t", title, "-o", str(target)])
        assert (status, err) == (0, ""), suffix
        assert "title \ufffd\ufffd end" in target.read_text("utf-8")
    for argv in (["play", "--once", "--speed", "1e6"], ["info"], ["info", "--json"]):
        status, out, err = call([*argv, str(trace)])
        assert (status, err) == (0, ""), argv
    cache = tmp_path / f"cache{NOT_UTF8}"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    fresh = FreshRuns(cache_dir(), FreshOptions(seed=5, generate_args=tuple(small[2:])), print)
    with fresh:
        while (path := next(fresh)) is None:
            pass
    assert open_trace(path).config.seed == 5 and NOT_UTF8 in str(path)


def test_environment_and_option_values_that_are_not_utf8(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TERM, HOME, TERMINFO that are not UTF-8 change nothing; option values and run names
    that are not UTF-8 are one usage line each, never an internal error."""
    for name, value in (("TERM", f"xterm{NOT_UTF8}"), ("HOME", str(tmp_path / NOT_UTF8))):
        with monkeypatch.context() as env_patch:
            env_patch.setenv(name, value)
            env_patch.setenv("TERMINFO", str(tmp_path / NOT_UTF8))
            status, out, err = call(["play", "--once", "--speed", "1e6", "llama-3-8b-sft"])
            assert (status, err) == (0, "") and DONE in out, name
    for argv in (
        ["play", f"run{NOT_UTF8}"],
        ["play", "--models", NOT_UTF8],
        ["play", "--exit-after", f"1{NOT_UTF8}", "llama-3-8b-sft"],
        ["play", "--start-at", f"1{NOT_UTF8}", "llama-3-8b-sft"],
        ["info", f"run{NOT_UTF8}"],
        ["cast", "llama-3-8b-sft", "-o", "x.gif", "--theme", NOT_UTF8],
        ["generate", "--model", f"x{NOT_UTF8}"],
        ["generate", "--gpu-type", f"x{NOT_UTF8}"],
        ["generate", "--max-size", f"1{NOT_UTF8}"],
    ):
        status, out, err = call(argv, cwd=tmp_path)
        assert status in (1, 2), argv
        assert_one_line_error(err)
