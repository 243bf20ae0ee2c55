"""Hostile trace text (the suite's one kit: reliability_kit.HOSTILE) renders inert on screen."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from playback import record
from reliability_kit import HOSTILE, assert_inert, hostile_trace

from llmsim.sanitize import MAX_TEXT, clean, clean_name

CONTROLS = ("Cc", "Cf", "Zl", "Zp", "Cs")


def test_clean_replaces_every_control_with_a_visible_glyph() -> None:
    out = clean(HOSTILE, limit=10_000)
    assert all(unicodedata.category(ch) not in CONTROLS for ch in out)
    assert "^[[2J" in out and "^[]0;PWNED-TITLE^G" in out  # ESC in caret notation, visibly
    assert "^@NUL" in out and "^GBEL" in out and "^HBS" in out and "^?DEL" in out
    assert "\ufffd31mC1CSI" in out and "\ufffdRTL-override" in out
    assert "CR LF TAB VT FF LS PS" in out  # whitespace controls become spaces
    assert clean("plain ascii line") == "plain ascii line"


@settings(derandomize=True, max_examples=200)
@given(st.text(max_size=3000))
def test_clean_never_lets_a_control_through(text: str) -> None:
    out = clean(text)
    assert all(unicodedata.category(ch) not in CONTROLS for ch in out)
    assert len(out) <= 2 * (MAX_TEXT + 1)  # caret notation at most doubles a character
    assert len(clean_name(text)) <= 2 * 201


@pytest.mark.parametrize("color", [False, True])
def test_hostile_text_is_inert_on_a_terminal(tmp_path: Path, color: bool) -> None:
    path = hostile_trace(tmp_path / "hostile.parquet")
    rec = record([path], 160, 48, color=color)
    assert rec.screen.title == "" and rec.screen.icon_name == ""  # no OSC title got through
    assert "Training completed successfully!" in rec.text()  # the screen was not cleared
    out = "".join(rec.output)
    assert "^[[2J" in out and "^[]0;PWNED-TITLE^G" in out  # shown, as caret notation
    assert "Evil^[]0;MODEL^GModel" in out and "node^[[2Ja01" in out  # config names too
    assert_inert(out, tty=True, color=color)


def test_a_jobs_line_is_kept_as_long_as_the_reader_accepts() -> None:
    """Real lines reach thousands of characters (Megatron's argument dump, config reprs): a
    job's line keeps every character the reader accepts in one string (issue 21), no more."""
    from llmsim.sanitize import MAX_JOB_TEXT, clean_job
    from llmsim.trace.reader import MAX_TEXT as READER_MAX_TEXT

    assert MAX_JOB_TEXT == READER_MAX_TEXT
    line = "OptimizerConfig(" + "barrier_with_L1_time=True, " * 60 + ")"
    assert len(line) > 1_000 and clean_job(line) == line
    assert clean_job("x" * (MAX_JOB_TEXT + 5)) == "x" * MAX_JOB_TEXT + "…"
