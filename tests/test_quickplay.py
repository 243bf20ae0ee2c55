"""`llmsim play` read without typer (llmsim.cli.quickplay) means exactly what typer reads.

The mirror of play's options is pinned to the typer command (every spelling, every kind of
value); for a spread of command lines both readings give `playing.run` the same arguments,
and the same errors; what the quick reading is not sure of goes to typer; and the quick way
imports neither typer nor pydantic.
"""

from __future__ import annotations

import subprocess
import sys
import typing
from typing import Any

import pytest
from typer.main import get_command

from llmsim.cli import main, play, playing, quickplay
from llmsim.cli.app import app
from llmsim.cli.app import run as run_typer

KINDS = {bool: "flag", str: "str", int: "int", float: "float"}


def test_the_mirror_is_plays_declaration() -> None:
    """A change to `llmsim play`'s options must be made in llmsim.cli.quickplay.OPTIONS too."""
    hints = typing.get_type_hints(play.play)
    declared: dict[str, tuple[str, str]] = {}
    for param in get_command(app).commands["play"].params:  # type: ignore[attr-defined]
        if param.param_type_name != "option":
            continue
        kinds = [t for t in typing.get_args(hints[param.name]) if t is not type(None)]
        kind = KINDS[kinds[0] if kinds else hints[param.name]]
        for spelling in (*param.opts, *param.secondary_opts):
            declared[spelling] = (param.name, kind)
    assert declared == quickplay.OPTIONS
    assert typing.get_type_hints(playing.run).keys() - {"return"} == {
        "traces",
        *(dest for dest, _ in quickplay.OPTIONS.values()),
    }


SAMPLES = [
    ["play"],
    ["play", "llama-3-8b-sft", "--once", "-s", "20"],
    ["play", "--speed=2.5", "--exit-after", "2h10min", "--exit-after-modules", "3", "a", "b"],
    ["play", "--seed", "42", "--models", "real", "--start-at", "train", "--shuffle"],
    ["play", "--color", "never", "--timestamps", "trace", "--once", "--once"],
    ["play", "--speed-factor", "1e6", "--exit-after-time", "90s", "x.parquet"],
    ["play", "--start-at", "50%", "--speed", ".5", "--speed", "3"],
    ["play", "runs/", "--exit-after-runs=2", "--seed=7", "--color=always"],
    ["play", "llama-3-70b-pretrain", "--layout", "classic", "-i", "2"],
    ["play", "--layout=plain", "--idle-time-limit=500ms", "--once"],
]


@pytest.mark.parametrize("argv", SAMPLES, ids=[" ".join(a) for a in SAMPLES])
def test_both_readings_give_the_same_arguments(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []

    def record(traces: list[str] | None = None, **options: Any) -> int:
        seen.append({"traces": traces or None, **options})
        return 0

    monkeypatch.setattr(playing, "run", record)
    assert run_typer(argv) == 0
    (typer_reading,) = seen
    quick = quickplay.parse(argv, {})
    assert quick is not None
    # typer passes every parameter; the quick reading leaves out those not given (defaults).
    assert {**typer_reading, **quick} == typer_reading


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["generate"],
        ["play", "--help"],
        ["play", "-h"],
        ["play", "--bogus"],
        ["play", "--speed"],
        ["play", "--speed", "1_000"],
        ["play", "--speed", "inf"],
        ["play", "--seed", "-1"],
        ["play", "--once=yes"],
        ["play", "--", "-odd-name.parquet"],
        ["play", "-"],
        ["play", "-s2"],
        ["play", "-i2"],
    ],
)
def test_what_it_is_not_sure_of_goes_to_typer(argv: list[str]) -> None:
    assert quickplay.parse(argv, {}) is None


def test_completion_requests_go_to_typer() -> None:
    assert quickplay.parse(["play"], {"_LLMSIM_COMPLETE": "complete_bash"}) is None


@pytest.mark.parametrize(
    "argv",
    [
        ["play", "no-such-run", "--once"],
        ["play", "--speed", "0", "llama-3-8b-sft"],
        ["play", "--color", "purple"],
        ["play", "--models", "real", "llama-3-8b-sft"],
        ["play", "--exit-after", "soon"],
        ["play", "--start-at", "100%"],
        ["play", "--layout", "fancy"],
        ["play", "-i", "soon"],
    ],
)
def test_errors_are_the_same_either_way(
    argv: list[str], capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    quick = main(argv), capfd.readouterr()
    monkeypatch.setattr(quickplay, "parse", lambda args, environ: None)
    slow = main(argv), capfd.readouterr()
    assert quick == slow and quick[0] in (1, 2) and quick[1].err.startswith("llmsim: error: ")


def test_the_quick_way_imports_neither_typer_nor_pydantic() -> None:
    code = (
        "import sys; from llmsim.cli import main; "
        "status = main(['play', 'llama-3-8b-sft', '--once', '--speed', '1e6']); "
        "print(status, sorted({m.split('.')[0] for m in sys.modules} & {'typer', 'pydantic', 'click'}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert proc.stdout.splitlines()[-1] == "0 []"


def test_the_terminal_is_answered_before_the_reader_loads() -> None:
    """The player and the play command import neither numpy nor pyarrow (the reader's, most of
    start-up), and the tmux layout's opening bytes (cursor hidden, screen blanked) are written
    before the first trace is opened: the terminal answers after the light imports only."""
    code = (
        "import sys; import llmsim.cli.playing, llmsim.player.play; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'pyarrow'}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert proc.stdout.strip() == "[]"
    from llmsim.player.live.ansi import Styler
    from llmsim.player.sinks.compose import composer

    assert composer("tmux", Styler(False, False), 80).start() == "\x1b[?25l\x1b[1;1H\x1b[2J"
