"""Class 2 — escape injection: nothing from a trace, its metadata, a path or an argument acts on
the terminal.

Log text, labels, paths, config names and metadata carrying ESC/CSI/OSC/DCS/SOS/PM/APC
sequences, 8-bit C1 controls, bidi overrides, NULs, newlines and an HTML script break-out go
through `llmsim.sanitize` on their way to any output: `play` (pipe and terminal), casts,
pages, `info`, every error and warning line, `generate`'s success line. Whatever the output,
the only control bytes in it are the player's own (reliability_kit.assert_inert), and a
newline in a name never splits a line.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import pyte
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_kit import (
    DONE,
    HOSTILE,
    HOSTILE_VALUES,
    UNICODE_TEXT,
    assert_clean_lines,
    assert_inert,
    assert_one_line_error,
    call,
    copy_trace,
    hostile_trace,
    run_in_pty,
)
from synthetic import config as base_config
from synthetic import write_trace

from llmsim.info import describe, to_text
from llmsim.player import CastOptions, PlayOptions, play
from llmsim.player.cast import write_cast
from llmsim.player.scheduler.clock import Clock
from llmsim.player.sinks.asciicast import CastHeader
from llmsim.player.sinks.html_page import embed, page_parts
from llmsim.trace import RunConfig, TraceWriter, make_table, open_trace
from llmsim.trace.reader import BOUNDS
from llmsim.trace.schema import DICT_COLUMNS, LIST_COLUMNS, METRICS_COLUMN, SCHEMA
from llmsim.trace.vocab import KINDS, PHASES

# Modest per run; LLMSIM_FUZZ_EXAMPLES=2000 for a deep search.
EXAMPLES = int(os.environ.get("LLMSIM_FUZZ_EXAMPLES", "0"))
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile_trace(tmp_path_factory.mktemp("hostile") / "hostile.parquet", UNICODE_TEXT)


def test_the_hostile_text_is_really_in_the_trace(hostile: Path, tmp_path: Path) -> None:
    """Control: the same run without injection differs, so the checks below saw the attack."""
    plain = write_trace(tmp_path / "plain.parquet")
    assert plain.read_bytes() != hostile.read_bytes()
    texts = {e.text for e in open_trace(hostile).events() if e.text}
    assert any(HOSTILE in t for t in texts)


@pytest.mark.parametrize("color", ["never", "always"])
def test_play_to_a_pipe_is_inert(hostile: Path, color: str) -> None:
    status, out, err = call(["play", "--once", "--speed", "1e6", "--color", color, str(hostile)])
    assert (status, err) == (0, "")
    assert_inert(out, tty=False, color=color == "always")
    assert "^[]0;PWNED-TITLE^G" in out and "^[[2J" in out  # shown, as caret notation
    assert UNICODE_TEXT in out  # printable non-ASCII text is data and kept
    assert DONE in out


@pytest.mark.parametrize("layout", ["tmux", "classic"])
def test_play_on_a_terminal_is_inert(hostile: Path, layout: str) -> None:
    argv = ("play", "--once", "--speed", "1e6", "--layout", layout, str(hostile))
    status, out = run_in_pty(*argv, cols=120, rows=40)
    assert status == 0
    assert_inert(out.decode("utf-8"), tty=True, color=True)
    screen = pyte.Screen(120, 40)
    pyte.ByteStream(screen).feed(out)
    assert screen.title == "" and screen.icon_name == ""  # no OSC title got through
    shown = "\n".join(screen.display)
    # Nothing cleared, moved or hid the screen: the run's end is on it (classic's success
    # line; tmux's status line, the prompt back in the job's pane).
    assert (
        DONE in shown
        if layout == "classic"
        else "[0] 0:bash*" in shown and ":/workspace# " in shown
    )
    assert not screen.cursor.hidden  # the cursor the player hid is shown again


@pytest.mark.parametrize("fmt", ["v2", "v3"])
def test_casts_are_inert(hostile: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "hostile.cast"
    title = "t\x1b]0;T\x07itle"
    status, _, err = call(["cast", str(hostile), "-o", str(out), "--format", fmt, "-t", title])
    assert (status, err) == (0, "")
    raw = out.read_text("utf-8")
    assert "\x1b" not in raw and "\x07" not in raw  # JSON escapes every control character
    lines = raw.splitlines()
    header, events = json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
    assert header["title"] == title  # the user's own title is stored as given, JSON-escaped
    output = "".join(str(e[2]) for e in events if e[1] == "o")
    assert_inert(output, tty=True, color=True)
    for marker in (str(e[2]) for e in events if e[1] == "m"):
        assert_inert(marker, tty=False, color=False)
    screen = pyte.Screen(120, 36)
    pyte.Stream(screen).feed(output)
    assert screen.title == "" and "[0] 0:bash*" in "\n".join(screen.display)  # tmux's screen


def _script_syntax(page: str) -> tuple[int, int, int]:
    lowered = page.lower()
    return lowered.count("<script"), lowered.count("</script"), lowered.count("<!--")


def test_html_page_cannot_be_broken_out_of(hostile: Path, tmp_path: Path) -> None:
    page = tmp_path / "hostile.html"
    status, _, err = call(["cast", str(hostile), "-o", str(page), "-t", "</title><script>x()"])
    assert (status, err) == (0, "")
    html = page.read_text("utf-8")
    head, tail = page_parts(title="t", cols=80, rows=24, idle_time_limit=None)
    benign = head + embed("{}\n") + tail
    # The hostile page has exactly the markup of a benign one: no script, comment or tag
    # from the trace text or the title opens or closes anything.
    assert _script_syntax(html) == _script_syntax(benign)
    assert "&lt;/title&gt;&lt;script&gt;" in html
    match = re.search(r"var cast = (\".*?\");\n", html)
    assert match is not None
    cast_text = json.loads(match.group(1))  # the embedded cast is intact JSON...
    assert "alert(1)" in cast_text  # ...holding the text as data
    assert "\u2028" not in html and "\u2029" not in html  # line separators end JS strings


def test_info_text_is_inert_and_json_keeps_the_data(hostile: Path) -> None:
    status, out, _ = call(["info", str(hostile)])
    assert status == 0
    assert_inert(out, tty=False, color=False)
    assert "Evil^[]0;MODEL^GModel" in out
    status, out, _ = call(["info", str(hostile), "--json"])
    assert status == 0 and "\x1b" not in out
    assert json.loads(out)["traces"][0]["config"]["model"] == "Evil\x1b]0;MODEL\x07Model\u202e"


def _hostile_config(value: str) -> RunConfig:
    """The synthetic config with `value` in every free string key (vocabularies stay valid)."""
    strings: dict[str, Any] = {
        f.name: value
        for f in base_config().__dataclass_fields__.values()
        if f.type == "str"
        and f.name not in ("kind", "stack", "launcher", "precision")
        and f.name != "incidents"
    }
    return replace(base_config(), **strings, hostnames=(value, value + "2"))


@pytest.mark.parametrize("value", HOSTILE_VALUES[:7], ids=range(7))
def test_hostile_metadata_in_every_config_key(value: str, tmp_path: Path) -> None:
    trace = tmp_path / "meta.parquet"
    with TraceWriter(trace, _hostile_config(value)) as writer:
        rows = {"t": [0.0, 1.0], "kind": ["phase", "log"], "phase": ["init", "init"]}
        writer.write(make_table(2, {**rows, "text": ["Init", "hello"]}))
    for argv, tty in (
        (["info", str(trace)], False),
        (["play", "--once", "--speed", "1e6", "--color", "never", str(trace)], False),
        (["cast", str(trace), "-o", "-"], True),
    ):
        status, out, err = call(argv)
        assert (status, err) == (0, ""), argv
        if argv[0] == "cast":
            lines = [json.loads(x) for x in out.splitlines()]
            assert "\x1b" not in lines[0]["title"] and "\n" not in lines[0]["title"]
            out = "".join(e[2] for e in lines[1:] if e[1] == "o")
        assert_inert(out, tty=tty, color=tty)


def test_hostile_schema_version_is_refused_inert(tmp_path: Path) -> None:
    good = write_trace(tmp_path / "good.parquet")
    from reliability_kit import with_metadata

    from llmsim.trace.schema import META_VERSION

    for i, value in enumerate(HOSTILE_VALUES):
        bad = with_metadata(tmp_path / f"v{i}.parquet", good, {META_VERSION: value.encode()})
        status, out, err = call(["info", str(bad)])
        assert (status, out) == (1, ""), value
        assert not CONTROL.search(assert_one_line_error(err, str(bad), "not supported")[:-1])


@pytest.fixture(scope="module")
def evil_names(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    folder = tmp_path_factory.mktemp("names")
    good = write_trace(folder / "good.parquet")
    bad = []
    for i, value in enumerate(HOSTILE_VALUES[:6]):
        bad.append(folder / f"{i}{value.replace(chr(0), '')}.parquet")  # no NUL in a name
        bad[-1].write_text("not parquet")
    return good, bad


def test_hostile_file_names_in_every_message(
    evil_names: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    good, bad = evil_names
    names = [str(p) for p in bad]
    for argv in (
        ["play", "--once", "--speed", "1e6", *names, str(good)],
        ["info", *names, str(good)],
        ["cast", *names, str(good), "-o", str(tmp_path / "x.cast")],
    ):
        status, out, err = call(argv)
        assert status == 1, argv
        lines = assert_clean_lines(err)
        assert len(lines) == len(bad)  # one line each: a newline in a name split none
        assert not any(CONTROL.search(line) for line in lines), lines
        assert "PWNED" in err  # the name is still shown, inert
        if argv[0] != "cast":
            assert_inert(out, tty=False, color=False)


def test_hostile_paths_on_stdout(evil_names: tuple[Path, list[Path]], tmp_path: Path) -> None:
    """`info`'s header line and `generate`'s success line print the path inert, on one line."""
    good, _ = evil_names
    name = "\x1b]2;PWN\x07\nsecond line\x9b31m.parquet"
    copy = copy_trace(good, tmp_path, name)
    status, out, err = call(["info", str(copy)])
    assert (status, err) == (0, "")
    assert_inert(out, tty=False, color=False)
    assert "second line" in out.splitlines()[0]  # the newline did not split the header
    target = tmp_path / ("run-" + name)
    small = ["--seed", "5", "--duration", "2m", "--model", "Llama-3.2-1B", "--gpus", "8"]
    status, out, err = call(["generate", "-o", str(target), *small])
    assert (status, err) == (0, "") and target.exists()
    assert out.count("\n") == 1 and out.startswith("wrote ") and "second line" in out
    assert_inert(out, tty=False, color=False)


@pytest.mark.parametrize(
    "argv",
    [
        ["play", "--color", "\x1b[31mred"],
        ["play", "--start-at", "\x1b]0;x\x07"],
        ["play", "--exit-after", "\x9b2J"],
        ["generate", "--model", "\x1b]0;pwn\x07\nGPT"],
        ["generate", "--stack", "\u202eevil"],
        ["cast", "-o", "\x1b[2J.mp4"],
        ["cast", "-o", "x.cast", "--theme", "a\nb"],
        ["info", "\x1b[6n"],
        ["\x1b]52;c;eA==\x07"],
        ["play", "--\x1bnope"],
    ],
    ids=lambda argv: argv[-1].encode("unicode_escape").decode()[:12],
)
def test_hostile_arguments_in_error_lines(argv: list[str]) -> None:
    status, out, err = call(argv)
    assert status in (1, 2) and out == ""
    line = assert_one_line_error(err)
    assert not CONTROL.search(line[:-1]), repr(line)


# --- any valid trace, at random ----------------------------------------------------------------

NO_SURROGATES: tuple[Literal["Cs"], ...] = ("Cs",)
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
        st.text(st.characters(exclude_categories=NO_SURROGATES), max_size=20),
        st.sampled_from(FRAGMENTS),
    ),
    max_size=5,
).map("".join)
DICT_VALUES = {
    "level": ["INFO", "WARNING", "ERROR", "DEBUG"],
    "source": ["torchrun", "plain", "hf", "megatron-ts", "titan"],
    "op": ["load_checkpoint", "eval", "checkpoint", "write_shards", "serialize"],
    "unit": ["B", "steps", "shards"],
}
SIZES = st.sampled_from([(20, 5), (1, 1), (80, 24), (120, 40), (33, 7), (200, 3)])


def _number(name: str) -> st.SearchStrategy[Any]:
    """Any value the reader accepts in this column (or in one item of its per-GPU lists)."""
    lo, hi = BOUNDS[name]
    typ = SCHEMA.field(name).type
    if typ.num_fields:  # a per-GPU list
        typ = typ.field(0).type
    if str(typ).startswith("int"):
        return st.integers(int(lo), int(hi))
    width: Literal[32, 64] = 32 if str(typ) == "float" else 64
    return st.floats(float(lo), float(hi), allow_nan=False, width=width)


def _value(name: str, gpus: int, keys: int = 0) -> st.SearchStrategy[Any]:
    """A value of column `name` for `gpus` GPUs and `keys` metric keys (config.metric_keys)."""
    if name == METRICS_COLUMN:  # the stack's keys of the row: a value or null each
        return st.lists(st.one_of(st.none(), _number(name)), min_size=keys, max_size=keys)
    if name in ("text", "path"):
        return TEXT
    if name in DICT_VALUES:
        return st.sampled_from(DICT_VALUES[name])
    if name in DICT_COLUMNS:  # free text in a dictionary column (origin)
        return TEXT
    if name in LIST_COLUMNS:
        return st.lists(_number(name), min_size=gpus, max_size=gpus)
    return _number(name)


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
        # the post-training stacks print their keys (TRL's dicts, verl's step line) as text
        stack=draw(st.sampled_from(["hf", "trl", "verl"])),
        metric_keys=tuple(draw(st.lists(TEXT, max_size=3))),
        eval_metric_keys=tuple(draw(st.lists(TEXT, max_size=2))),
        step_prefix=draw(TEXT),
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
        value = _value(f.name, cfg.gpus, len(cfg.metric_keys))
        columns[f.name] = draw(st.lists(st.one_of(st.none(), value), min_size=n, max_size=n))
    for name in LIST_COLUMNS & columns.keys():  # a node_telemetry row holds one node's GPUs
        columns[name] = [
            v[: cfg.gpus_per_node] if v is not None and kind == "node_telemetry" else v
            for v, kind in zip(columns[name], columns["kind"], strict=True)
        ]
    return cfg, columns, n


@contextlib.contextmanager
def _trace_file(cfg: RunConfig, columns: dict[str, list[Any]], n: int) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "random.parquet"
        with TraceWriter(path, cfg) as writer:
            writer.write(make_table(n, columns))
        yield path


def _play_lines(path: Path) -> str:
    now = [0.0]

    def sleep(seconds: float) -> bool:
        now[0] += seconds
        return False

    with tempfile.TemporaryFile() as sink:
        options = PlayOptions(once=True, color="never", timestamps="trace")
        status = play(
            [path], options, fd=sink.fileno(), clock=Clock(lambda: now[0], sleep), report=print
        )
        assert status == 0
        sink.seek(0)
        return sink.read().decode("utf-8")


@settings(max_examples=EXAMPLES or 12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(traces(), SIZES, st.booleans(), st.booleans())
def test_any_valid_trace_plays_casts_and_describes_inertly(
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
        assert_inert(_play_lines(path), tty=False, color=False)  # line mode, through play()
        assert_inert(to_text(describe(path)), tty=False, color=False)  # `llmsim info`
