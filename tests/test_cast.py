"""Casts: read by the real asciinema, equal to what play writes, HTML in chromium (GIFs:
tests/test_gif.py)."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import CHROMIUM, Browser
from playback import play_on_pty

from llmsim.errors import InputError, UsageError
from llmsim.player import CastOptions, PlayOptions, StartAt, export_cast
from llmsim.player.options import Layout
from llmsim.player.scheduler.clock import Clock
from llmsim.trace import open_trace

ASCIINEMA = shutil.which("asciinema") or str(Path(sys.executable).with_name("asciinema"))
HEADING = "Llama-3.2-1B · 16× H100"  # the synthetic run's model and cluster


def _events(text: str) -> tuple[dict[str, object], list[list[object]]]:
    lines = text.splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]


def _output(events: list[list[object]]) -> str:
    return "".join(str(e[2]) for e in events if e[1] == "o")


def _export(paths: list[Path], out: Path, **options: object) -> list[str]:
    said: list[str] = []
    export_cast(paths, str(out), CastOptions(**options), report=said.append)  # type: ignore[arg-type]
    return said


@pytest.fixture(scope="module")
def v2_cast(tmp_path_factory: pytest.TempPathFactory, synthetic_trace: Path) -> Path:
    out = tmp_path_factory.mktemp("cast") / "run.cast"
    _export([synthetic_trace], out, cols=100, rows=30)
    return out


def test_header_markers_and_times(v2_cast: Path, synthetic_trace: Path) -> None:
    header, events = _events(v2_cast.read_text("utf-8"))
    config = open_trace(synthetic_trace).config
    assert header["version"] == 2 and header["width"] == 100 and header["height"] == 30
    assert header["title"] == HEADING and header["timestamp"] == int(config.start_time)
    times = [float(e[0]) for e in events]  # type: ignore[arg-type]
    assert times == sorted(times) and times[0] == 0.0
    chapters = [
        f"Llama-3.2-1B · {ev.text}"
        for ev in open_trace(synthetic_trace).events()
        if ev.kind in ("phase", "incident")
    ]
    assert [e[2] for e in events if e[1] == "m"] == chapters


def test_asciinema_cat_prints_exactly_the_output(v2_cast: Path) -> None:
    _, events = _events(v2_cast.read_text("utf-8"))
    proc = subprocess.run([ASCIINEMA, "cat", str(v2_cast)], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode("utf-8") == _output(events)


def test_cast_equals_what_play_writes_to_a_terminal(v2_cast: Path, synthetic_trace: Path) -> None:
    """Same trace, same size, a clock that never falls behind: identical bytes (the default
    layouts: tmux's screen on both)."""
    options = PlayOptions(once=True, timestamps="trace", color="always", ascii=False)
    status, received = play_on_pty(
        [synthetic_trace], options, clock=Clock.virtual(), raw_newlines=True
    )
    assert status == 0
    _, events = _events(v2_cast.read_text("utf-8"))
    assert received.decode("utf-8") == _output(events)
    assert "\x1b[30;1H" in received.decode("utf-8")  # (tmux's status line, on row 30)


@pytest.mark.parametrize("layout", ["classic", "plain", "tmux"])
def test_every_layouts_cast_equals_the_terminal(
    layout: Layout, tmp_path: Path, synthetic_trace: Path
) -> None:
    out = tmp_path / "run.cast"
    _export([synthetic_trace], out, cols=100, rows=30, layout=layout, idle_time_limit=1.5)
    options = PlayOptions(
        once=True, timestamps="trace", color="always", layout=layout, idle_time_limit=1.5
    )
    # The terminal turns plain's LF into CR LF (ONLCR), as a cast records it.
    status, received = play_on_pty(
        [synthetic_trace], options, clock=Clock.virtual(), raw_newlines=layout != "plain"
    )
    assert status == 0
    header, events = _events(out.read_text("utf-8"))
    assert received.decode("utf-8") == _output(events)
    times = [float(e[0]) for e in events if e[1] == "o"]  # type: ignore[arg-type]
    assert max(b - a for a, b in itertools.pairwise(times)) <= 1.5 + 1e-6  # -i, as recorded
    assert header["idle_time_limit"] == 1.5


def test_v3_has_term_and_intervals(tmp_path: Path, synthetic_trace: Path, v2_cast: Path) -> None:
    out = tmp_path / "run3.cast"
    _export([synthetic_trace], out, cols=100, rows=30, version=3)
    header, events = _events(out.read_text("utf-8"))
    assert header["version"] == 3
    assert header["term"] == {"cols": 100, "rows": 30, "type": "xterm-256color"}
    _, v2_events = _events(v2_cast.read_text("utf-8"))
    running = 0.0
    for event, expected in zip(events, v2_events, strict=True):
        running += float(event[0])  # type: ignore[arg-type]
        assert abs(running - float(expected[0])) < 1e-3  # type: ignore[arg-type]
    assert _output(events) == _output(v2_events)


def test_same_trace_same_bytes(tmp_path: Path, synthetic_trace: Path, v2_cast: Path) -> None:
    again = tmp_path / "again.cast"
    _export([synthetic_trace], again, cols=100, rows=30)
    assert again.read_bytes() == v2_cast.read_bytes()


def test_stdout_several_traces_and_a_start_point(
    synthetic_trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = CastOptions(cols=80, rows=24, start_at=StartAt(point="train"), layout="classic")
    export_cast([synthetic_trace, synthetic_trace], "-", options, report=print)
    header, events = _events(capsys.readouterr().out)
    assert header["width"] == 80
    out = _output(events)
    assert out.count("Training completed successfully!") == 2
    assert "Starting new training run..." in out
    first = next(e for e in events if e[1] == "o" and "loss" in str(e[2]))
    assert first[0] == 0.0  # the run starts at its first step line, set-up logs above it
    assert "[default] Starting" in str(first[2])


def test_outputs_that_cannot_be_written(tmp_path: Path, synthetic_trace: Path) -> None:
    with pytest.raises(UsageError, match=r"\.cast, \.html or \.gif"):
        export_cast([synthetic_trace], str(tmp_path / "x.txt"), CastOptions(), report=print)
    with pytest.raises(InputError, match="cannot write"):
        export_cast(
            [synthetic_trace], str(tmp_path / "no" / "such" / "x.cast"), CastOptions(), report=print
        )
    precious = tmp_path / "x.cast"
    precious.write_text("precious")
    with pytest.raises(InputError, match=r"exists \(use --force to overwrite\)"):
        export_cast([synthetic_trace], str(precious), CastOptions(), report=print)
    assert precious.read_text() == "precious"
    _export([synthetic_trace], precious, overwrite=True)
    assert precious.read_text().startswith('{"version": 2')
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(InputError, match="could be played"):
        _export([bad], tmp_path / "y.cast")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.parquet", "x.cast"]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    assert CHROMIUM, "chromium is needed (apt-get install chromium)"
    with Browser(tmp_path_factory.mktemp("chromium")) as b:
        yield b


PLAYER = "window.llmsimPlayer"
SCREEN = "Array.from(document.querySelectorAll('.ap-line')).map(e => e.textContent).join('\\n')"


def _page_options(html: str) -> dict[str, object]:
    match = re.search(r"document\.getElementById\(\"player\"\),\n\s*(\{.*?\})\n", html)
    assert match, "player options not found"
    options: dict[str, object] = json.loads(match.group(1))
    return options


def test_html_page_plays_with_a_neutral_heading(
    tmp_path: Path, synthetic_trace: Path, browser: Browser
) -> None:
    page = tmp_path / "run.html"
    _export([synthetic_trace], page, cols=100, rows=30, speed=40, layout="classic")
    html = page.read_text("utf-8")
    # Self-contained: no external script, stylesheet or image for the browser to fetch.
    assert not re.search(r"<(script|link|img)\b[^>]*\b(src|href)=", html)
    assert f"<h1>{HEADING}</h1>" in html and "simulated" not in html.lower()
    assert _page_options(html)["loop"] is False
    browser.open(page.as_uri())
    assert browser.wait_for("document.querySelector('h1')?.textContent", timeout=30) == HEADING
    ended = f"(() => {{ const t = {SCREEN}; return t.includes('Training completed') ? t : ''; }})()"
    text = browser.wait_for(ended, timeout=30)
    assert "Training completed successfully!" in text and "Final loss" in text
    # ...and it stays there: the player stopped at the end.
    assert browser.wait_for(f"{PLAYER}.getCurrentTime() >= {PLAYER}.getDuration()", timeout=5)


def test_html_page_loops_when_asked(
    tmp_path: Path, synthetic_trace: Path, browser: Browser
) -> None:
    page = tmp_path / "kiosk.html"
    _export([synthetic_trace], page, cols=100, rows=30, speed=40, loop=True, theme="dracula")
    options = _page_options(page.read_text("utf-8"))
    assert options["loop"] is True and options["theme"] == "dracula"
    browser.open(page.as_uri())
    assert browser.wait_for(f"window.llmsimPlayer && {PLAYER}.getDuration() > 1", timeout=30)
    assert "dracula" in browser.evaluate("document.querySelector('.ap-player').className")
    # Looping: the player's clock reaches the end and starts again from the beginning.
    times: list[float] = []
    deadline = time.monotonic() + 3 * float(browser.evaluate(f"{PLAYER}.getDuration()")) + 5
    while time.monotonic() < deadline and not any(b < a for a, b in itertools.pairwise(times)):
        times.append(float(browser.evaluate(f"{PLAYER}.getCurrentTime()")))
        time.sleep(0.1)
    assert any(b < a for a, b in itertools.pairwise(times)), times
