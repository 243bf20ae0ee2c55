"""`--help` reads like a tool's: no Python types, every option explained with its choices and
default, required options marked, examples last; mirrored vocabularies equal the real ones."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Final

import pytest
from typer.main import get_command

from llmsim.cli import main, params
from llmsim.cli.app import app
from llmsim.cli.helpfmt import EXAMPLES_HEADING, option_record
from llmsim.trace.vocab import INCIDENT_RATES, RUN_KINDS, STACKS

COMMANDS: Final = ("generate", "play", "cast", "info", "list")
GOLDEN_HELP: Final = Path(__file__).resolve().parent / "goldens" / "help"
UPDATE: Final = os.environ.get("LLMSIM_UPDATE_GOLDENS") == "1"
# (command, option, choices its help must list)
CHOICES: Final = [
    ("generate", "--stack", (*STACKS, "list")),
    ("generate", "--kind", RUN_KINDS),
    ("generate", "--incidents", INCIDENT_RATES),
    ("generate", "--models", params.MODEL_CHOICES),
    ("generate", "--model", ("list",)),
    ("generate", "--gpu-type", ("list",)),
    ("play", "--color", params.COLOR_MODES),
    ("play", "--timestamps", params.TIMESTAMP_MODES),
    ("play", "--models", params.MODEL_CHOICES),
    ("play", "--start-at", ("train", "eval", "checkpoint", "export", "N%", "MM:SS")),
    ("play", "--layout", params.LAYOUTS),
    ("cast", "--layout", params.LAYOUTS),
    ("cast", "--format", ("v2", "v3")),
    ("cast", "--theme", params.THEMES),
    ("cast", "--output", (".cast", ".html", ".gif", "-")),
]


def help_of(capsys: pytest.CaptureFixture[str], *command: str) -> str:
    assert main([*command, "--help"]) == 0
    return capsys.readouterr().out


def records(command: str) -> dict[str, tuple[str, str]]:
    """Each option's (left column, help) by its long name, as the help draws them."""
    group = get_command(app)
    cmd = group.commands[command]  # type: ignore[attr-defined]
    out = {}
    for param in cmd.params:
        left, text = option_record(param)
        names = [o for o in getattr(param, "opts", []) if o.startswith("--")] or [param.name]
        out[names[0]] = (left, text)
    return out


@pytest.mark.parametrize("command", [(), *((c,) for c in COMMANDS)])
def test_help_has_no_python_types_and_ends_with_runnable_examples(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    text = help_of(capsys, *command)
    assert text.startswith(f"Usage: llmsim {' '.join(command)}".rstrip() + " ")
    assert not re.search(r"<[a-z_\[\] ]+>|\{[a-z_]+\}|list\[|int range|Path\b", text), text
    examples = text.split(f"\n{EXAMPLES_HEADING}:\n")[1].splitlines()
    assert examples and all(line.startswith("  llmsim ") for line in examples)
    if command:
        assert all(f"llmsim {command[0]}" in line for line in examples)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_has_a_sentence(command: str) -> None:
    for name, (left, text) in records(command).items():
        sentence = re.sub(r"\s+\[[^]]*\]$", "", text)
        assert sentence and sentence.rstrip()[-1] in ".)", f"{command} {name}: {text!r}"
        assert "<" not in left, left


@pytest.mark.parametrize(("command", "option", "choices"), CHOICES)
def test_choice_options_list_their_choices(
    command: str, option: str, choices: tuple[str, ...]
) -> None:
    left, text = records(command)[option]
    for c in choices:
        assert c in left or c in text, f"{command} {option} does not list {c}"


def test_defaults_and_required_are_marked() -> None:
    assert records("cast")["--output"][1].endswith("[required]")
    assert records("cast")["--cols"][1].endswith("[default: 120]")
    assert records("play")["--speed"][1].endswith("[default: 1]")
    assert records("generate")["--incidents"][1].endswith("[default: rare]")
    assert "Random if omitted." in records("generate")["--seed"][1]


def test_cast_help_says_asciinema_2_cannot_open_v3(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(help_of(capsys, "cast").split())
    assert "v3 files cannot be opened by the asciinema 2.4" in text


def test_mirrored_vocabularies_equal_the_real_ones() -> None:
    from llmsim.cli import cast
    from llmsim.generator.options import MODEL_CHOICES
    from llmsim.player.options import (
        COLOR_MODES,
        GIF_FONT_SIZES,
        GIF_FPS,
        GIF_THEMES,
        LAYOUTS,
        START_POINTS,
        THEMES,
        TIMESTAMP_MODES,
    )

    assert params.LAYOUTS == LAYOUTS
    assert params.THEMES == THEMES
    assert params.GIF_THEMES == GIF_THEMES
    assert (cast.FPS, cast.FONT_SIZES) == (GIF_FPS, GIF_FONT_SIZES)
    assert params.COLOR_MODES == COLOR_MODES
    assert params.TIMESTAMP_MODES == TIMESTAMP_MODES
    assert params.MODEL_CHOICES == MODEL_CHOICES
    assert params.START_POINTS_TEXT.startswith(", ".join(START_POINTS))


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_text_is_pinned(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole page at 80 columns, as tests/goldens/help/<command>.txt holds it: a typer
    release that changed what the help shows would fail here. After changing an option on
    purpose: LLMSIM_UPDATE_GOLDENS=1 python -m pytest tests/test_cli_help.py"""
    monkeypatch.setenv("COLUMNS", "80")
    text = help_of(capsys, *([command] if command else []))
    golden = GOLDEN_HELP / f"{command or 'llmsim'}.txt"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_help_fits_the_terminal_up_to_80_columns(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    widest = {}
    for columns in (60, 200):
        monkeypatch.setenv("COLUMNS", str(columns))
        text = help_of(capsys, "play")
        body = text.split(f"\n{EXAMPLES_HEADING}:\n")[0]  # examples are kept whole
        widest[columns] = max(len(line) for line in body.splitlines())
    assert widest[60] <= 58 < widest[200] <= 78
