"""Hostile trace text through the real CLI: inert on a pipe, on a terminal, in casts and pages.

Log text, labels, paths and config names carrying ESC/CSI/OSC/DCS/SOS/PM/APC sequences, 8-bit
C1 controls, bidi overrides, NULs and an HTML script break-out. Whatever the output, the only
control bytes in it are the player's own (see reliability_kit.assert_inert).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyte
import pytest
from browser import CHROMIUM, Browser
from reliability_kit import (
    HOSTILE,
    UNICODE_TEXT,
    assert_inert,
    hostile_trace,
    run,
    run_in_pty,
)
from synthetic import write_trace

from llmsim.player.cast import heading
from llmsim.player.sinks.html_page import build_page
from llmsim.trace import open_trace

DONE = "Training completed successfully!"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile_trace(tmp_path_factory.mktemp("hostile") / "hostile.parquet", UNICODE_TEXT)


@pytest.mark.parametrize("color", ["never", "always"])
def test_play_to_a_pipe_is_inert(hostile: Path, color: str) -> None:
    proc = run("play", "--once", "--speed", "1e6", "--color", color, str(hostile))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode("utf-8")
    assert_inert(out, tty=False, color=color == "always")
    assert "^[]0;PWNED-TITLE^G" in out and "^[[2J" in out  # shown, as caret notation
    assert UNICODE_TEXT in out  # printable non-ASCII text is data and kept
    assert DONE in out


def test_play_on_a_terminal_is_inert(hostile: Path) -> None:
    status, out = run_in_pty("play", "--once", "--speed", "1e6", str(hostile), cols=120, rows=40)
    assert status == 0
    text = out.decode("utf-8")
    assert_inert(text, tty=True, color=True)
    screen = pyte.Screen(120, 40)
    pyte.ByteStream(screen).feed(out)
    assert screen.title == "" and screen.icon_name == ""  # no OSC title got through
    assert DONE in "\n".join(screen.display)  # nothing cleared, moved or hid the screen
    assert not screen.cursor.hidden  # the cursor the player hid is shown again


def _cast_events(path: Path) -> tuple[dict[str, object], list[list[object]]]:
    lines = path.read_text("utf-8").splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]


@pytest.mark.parametrize("fmt", ["v2", "v3"])
def test_casts_are_inert(hostile: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "hostile.cast"
    title = "t\x1b]0;T\x07itle"
    proc = run("cast", str(hostile), "-o", str(out), "--format", fmt, "--title", title)
    assert proc.returncode == 0, proc.stderr
    raw = out.read_text("utf-8")
    assert "\x1b" not in raw and "\x07" not in raw  # JSON escapes every control character
    header, events = _cast_events(out)
    assert header["title"] == title  # the user's own title is stored as given, JSON-escaped
    output = "".join(str(e[2]) for e in events if e[1] == "o")
    assert_inert(output, tty=True, color=True)
    for marker in (str(e[2]) for e in events if e[1] == "m"):
        assert_inert(marker, tty=False, color=False)
    screen = pyte.Screen(120, 36)
    pyte.Stream(screen).feed(output)
    assert screen.title == "" and DONE in "\n".join(screen.display)


def _script_syntax(page: str) -> tuple[int, int, int]:
    lowered = page.lower()
    return lowered.count("<script"), lowered.count("</script"), lowered.count("<!--")


def test_html_page_cannot_be_broken_out_of(hostile: Path, tmp_path: Path) -> None:
    page = tmp_path / "hostile.html"
    proc = run("cast", str(hostile), "-o", str(page), "--title", "</title><script>x()</script>")
    assert proc.returncode == 0, proc.stderr
    html = page.read_text("utf-8")
    benign = build_page("{}\n", title="t", cols=80, rows=24, idle_time_limit=None)
    # The hostile page has exactly the markup of a benign one: no script, comment or tag
    # from the trace text or the title opens or closes anything.
    assert _script_syntax(html) == _script_syntax(benign)
    assert "&lt;/title&gt;&lt;script&gt;" in html
    match = re.search(r"var cast = (\".*?\");\n", html)
    assert match is not None
    cast_text = json.loads(match.group(1))  # the embedded cast is intact JSON...
    assert "alert(1)" in cast_text  # ...holding the text as data


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_hostile_html_page_still_runs_in_chromium(hostile: Path, tmp_path: Path) -> None:
    page = tmp_path / "hostile.html"
    proc = run(
        "cast", str(hostile), "-o", str(page), "--cols", "100", "--rows", "30", "--speed", "40"
    )
    assert proc.returncode == 0, proc.stderr
    screen = "Array.from(document.querySelectorAll('.ap-line')).map(e => e.textContent).join('\\n')"
    with Browser(tmp_path / "profile") as browser:
        browser.open(page.as_uri())
        # The player plays the hostile run to its very end: the page was not broken by it.
        done = f"(() => {{ const t = {screen}; return t.includes('{DONE}') ? t : ''; }})()"
        text = browser.wait_for(done, timeout=60)
        assert DONE in text and "Final loss" in text, browser.evaluate(screen)
        assert browser.evaluate("document.querySelectorAll('script').length") == 2  # ours only
        # The title is the run's heading, its hostile names shown as inert text.
        assert browser.evaluate("document.title") == heading(open_trace(hostile).config)


def test_info_text_is_inert_and_json_keeps_the_data(hostile: Path) -> None:
    proc = run("info", str(hostile))
    assert proc.returncode == 0, proc.stderr
    assert_inert(proc.stdout.decode("utf-8"), tty=False, color=False)
    assert "Evil^[]0;MODEL^GModel" in proc.stdout.decode("utf-8")
    proc = run("info", str(hostile), "--json")
    assert proc.returncode == 0
    assert b"\x1b" not in proc.stdout
    assert (
        json.loads(proc.stdout)["traces"][0]["config"]["model"] == "Evil\x1b]0;MODEL\x07Model\u202e"
    )


def test_the_hostile_text_is_really_in_the_trace(hostile: Path, tmp_path: Path) -> None:
    """Control: the same run without injection differs, so the checks above saw the attack."""
    plain = write_trace(tmp_path / "plain.parquet")
    assert plain.read_bytes() != hostile.read_bytes()
    from llmsim.trace import open_trace

    texts = {e.text for e in open_trace(hostile).events() if e.text}
    assert any(HOSTILE in t for t in texts)
