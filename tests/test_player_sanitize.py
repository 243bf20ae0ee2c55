"""Hostile trace text: escape sequences, C1 controls, bidi overrides and NULs render inert."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from playback import Screen, frames
from synthetic import write_trace

from llmsim.player import Renderer, RenderOptions
from llmsim.sanitize import MAX_TEXT, clean, clean_name
from llmsim.trace import open_trace

HOSTILE = (
    "A\x1b[2JB"  # clear screen
    "\x1b]0;PWNED-TITLE\x07"  # OSC window title
    "\x1b]52;c;cHduZWQ=\x07"  # OSC 52: write the clipboard
    "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"  # OSC 8 hyperlink
    "\x1bP+q544e\x1b\\"  # DCS (XTGETTCAP)
    "\x9b31mC1CSI"  # a one-byte C1 CSI
    "\u202eRTL-override\u202c\u2066isolate\u2069\u200fmark"
    "\x00NUL\x07BEL\x08BS\x7fDEL\rCR\nLF\tTAB\u2028LS"
    "\x1b[?25l\x1b[1000;1H\x1b[6n"  # hide cursor, jump, ask for the cursor position
)
SGR = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def hostile_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "hostile.parquet"
    return write_trace(
        path,
        inject=HOSTILE,
        model="Evil\x1b]0;MODEL\x07Model",
        hostnames=("node\x1b[2Ja01", "node\u202ea02"),
        gpu_short="H100\x1b[5m",
    )


def test_clean_replaces_every_control_with_an_inert_glyph() -> None:
    out = clean(HOSTILE)
    for ch in out:
        category = unicodedata.category(ch)
        assert category not in ("Cc", "Cf", "Zl", "Zp", "Cs"), repr(ch)
    assert "^[[2J" in out  # ESC shows as caret notation, visibly
    assert "^@NUL" in out and "^GBEL" in out and "^HBS" in out and "^?DEL" in out
    assert "\ufffd31mC1CSI" in out  # C1 CSI
    assert "\ufffdRTL-override" in out
    assert "CR LF TAB LS" in out  # whitespace controls become spaces
    assert clean("plain ascii line") == "plain ascii line"


@given(st.text(max_size=3000))
def test_clean_never_lets_a_control_through(text: str) -> None:
    out = clean(text)
    assert all(unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp", "Cs") for ch in out)
    assert len(out) <= 2 * (MAX_TEXT + 1)  # caret notation at most doubles a character
    assert len(clean_name(text)) <= 2 * 201


def _hostile_screen(path: Path, color: bool) -> Screen:
    return list(frames([path], 160, 48, color=color))[-1][2]


@pytest.mark.parametrize("color", [False, True])
def test_hostile_text_is_inert_on_a_terminal(hostile_trace: Path, color: bool) -> None:
    screen = _hostile_screen(hostile_trace, color)
    assert screen.screen.title == ""  # no OSC title got through
    assert screen.screen.icon_name == ""
    text = screen.text()
    assert "Training completed successfully!" in text  # the screen was not cleared or moved
    written = screen.written.decode("utf-8")
    # The hostile text was printed, visibly, as caret notation.
    assert "^[[2J" in written and "^[]0;PWNED-TITLE^G" in written
    # Every ESC in the output is one of the player's own sequences.
    leftover = SGR.sub("", written)
    for seq in ("\x1b[J", "\x1b[?25l", "\x1b[?25h"):
        leftover = leftover.replace(seq, "")
    leftover = re.sub(r"\x1b\[\d+A", "", leftover)
    assert "\x1b" not in leftover
    assert "\x9b" not in written and "\u202e" not in written and "\x00" not in written
    if not color:  # colour off: no SGR except the one reset of close()
        assert SGR.findall(written) == ["\x1b[0m"]


def test_colour_off_log_output_has_no_escape_at_all(hostile_trace: Path) -> None:
    trace = open_trace(hostile_trace)
    renderer = Renderer(trace.config, RenderOptions(color=False))
    out: list[str] = []
    for ev in trace.events():
        out += renderer.feed(ev)
        out += renderer.live(120, 40)
    joined = "\n".join(out)
    assert HOSTILE not in joined
    assert "\x1b" not in joined and "\x9b" not in joined and "\x07" not in joined
    assert any("^[]52;c;cHduZWQ=^G" in line for line in out)
    # Names from the config are cleaned too (model in the summary, hostnames in the grid).
    assert "Evil^[]0;MODEL^GModel" in joined
    assert "node^[[2Ja01" in joined
