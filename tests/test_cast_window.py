"""A window cut out of a recording: --start-at, --stop-at and --length, for every kind of output
(a cast, a page and a GIF are made from the same cast lines, but for a GIF's end)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyte
import pytest

from llmsim.cli import main
from llmsim.player import CastOptions, StartAt, export_cast
from llmsim.player.options import Layout
from llmsim.player.sinks import gif
from llmsim.trace import open_trace


def _cast(trace: Path, tmp_path: Path, name: str, **options: Any) -> list[list[Any]]:
    out = tmp_path / name
    export_cast([trace], str(out), CastOptions(**options), report=print)
    return [json.loads(line) for line in out.read_text("utf-8").splitlines()[1:]]


def _chapters(events: list[list[Any]]) -> list[str]:
    return [str(e[2]).split(" · ")[-1] for e in events if e[1] == "m"]


def test_length_cuts_the_recording_at_exactly_that_time(
    tmp_path: Path, synthetic_trace: Path
) -> None:
    whole = _cast(synthetic_trace, tmp_path, "whole.cast")
    cut = _cast(synthetic_trace, tmp_path, "cut.cast", length=30.0)
    assert whole[-1][0] > 60
    assert cut[-1][0] == 30.0  # the closing event: the region tidied, the cursor shown
    assert cut[-1][2].endswith("\x1b[?25h")
    assert all(e[0] <= 30.0 for e in cut)
    kept = [e for e in whole if e[0] < 30.0]
    assert cut[: len(kept)] == kept  # the same recording up to the cut: nothing else changes


def test_length_applies_after_the_start_point_and_the_speed(
    tmp_path: Path, synthetic_trace: Path
) -> None:
    start = StartAt(point="train")
    cut = _cast(synthetic_trace, tmp_path, "c.cast", start_at=start, speed=4.0, length=10.0)
    assert cut[0][0] == 0.0 and cut[-1][0] == 10.0
    assert _chapters(cut)[0] == "Training"


def test_stop_at_ends_each_run_before_that_point(tmp_path: Path, synthetic_trace: Path) -> None:
    phases = [ev.text for ev in open_trace(synthetic_trace).events() if ev.kind == "phase"]
    assert "Evaluation" in phases or any("val" in (p or "").lower() for p in phases), phases
    init = _cast(synthetic_trace, tmp_path, "init.cast", stop_at=StartAt(point="train"))
    text = "".join(str(e[2]) for e in init if e[1] == "o")
    assert _chapters(init) == ["Initialization"]
    assert "Training completed successfully!" not in text
    assert not re.search(r"\bstep\b.*\bloss\b", text)  # no step line was printed
    both = _cast(synthetic_trace, tmp_path, "two.cast", stop_at=StartAt(point="train"))
    assert both == init  # deterministic


def test_stop_at_is_looked_for_after_the_start(tmp_path: Path, synthetic_trace: Path) -> None:
    """--start-at eval --stop-at eval: from one validation to just before the next."""
    events = list(open_trace(synthetic_trace).events())
    evals = [ev.t for ev in events if ev.kind == "phase" and ev.phase == "eval"]
    assert len(evals) >= 2, "the synthetic run validates more than once"
    period = _cast(
        synthetic_trace,
        tmp_path,
        "period.cast",
        start_at=StartAt(point="eval"),
        stop_at=StartAt(point="eval"),
    )
    assert _chapters(period)[0] == _chapters(period)[-1]  # one chapter: that evaluation's
    assert period[-1][0] < evals[1] - evals[0] + 1.0


def test_every_output_kind_takes_the_window(tmp_path: Path, synthetic_trace: Path) -> None:
    run = str(synthetic_trace)
    for name in ("w.cast", "w.html"):
        out = tmp_path / name
        argv = ["cast", run, "-o", str(out), "--start-at", "train", "--length", "7s"]
        assert main([*argv, "--stop-at", "90%"]) == 0
        assert out.stat().st_size > 0
    page = (tmp_path / "w.html").read_text("utf-8")
    cast = (tmp_path / "w.cast").read_text("utf-8")
    last = json.loads(cast.splitlines()[-1])
    assert last[0] == 7.0
    embedded = json.dumps(cast, ensure_ascii=True).replace("<", "\\u003c")
    assert f"var cast = {embedded};" in page  # the page embeds the same cut cast


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--length", "0s"], "--length: a duration must be more than zero"),
        (["--length", "soon"], "--length"),
        (["--start-at", "05:00", "--stop-at", "04:00"], "--stop-at must come after --start-at"),
        (["--start-at", "50%", "--stop-at", "50%"], "--stop-at must come after --start-at"),
        (["--stop-at", "lunch"], "--stop-at must be one of train, eval"),
        (["--fps", "10"], "--fps applies to .gif output"),
        (["--font-size", "10"], "--font-size applies to .gif output"),
        (["--theme", "github-dark"], "--theme must be one of"),  # not an HTML player theme
    ],
)
def test_bad_windows_and_gif_options_are_usage_errors(
    args: list[str],
    message: str,
    tmp_path: Path,
    synthetic_trace: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "x.html"
    assert main(["cast", str(synthetic_trace), "-o", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("llmsim: error: ") and message in err, err
    assert not out.exists()


def test_gif_theme_must_be_one_of_aggs(
    tmp_path: Path, synthetic_trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.gif"
    assert main(["cast", str(synthetic_trace), "-o", str(out), "--theme", "tango"]) == 2
    err = capsys.readouterr().err
    assert "--theme (for a .gif) must be one of asciinema, dracula, github-dark" in err
    assert not out.exists()


def _screen(events: list[list[Any]], cols: int, rows: int) -> list[str]:
    screen = pyte.Screen(cols, rows)
    stream = pyte.Stream(screen)
    for event in events:
        if event[1] == "o":
            stream.feed(event[2])
    return list(screen.display)


@pytest.mark.parametrize("layout", ["tmux", "classic"])
def test_a_gif_ends_on_the_screen_as_it_was(
    layout: Layout, tmp_path: Path, synthetic_trace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cast gives the terminal back to the shell after it (the cursor on a new row below the
    screen, which scrolls it); the cast agg draws a GIF from ends on the last screen instead,
    held for agg's last 3 s and looped: drawn once more at the cut, so that agg, which drops
    events that change nothing, still ends the GIF there (test_gif checks its length)."""
    fed: list[str] = []

    def fake_agg(record: Any, out: Any, settings: Any, **_: Any) -> None:
        record(fed.append)

    monkeypatch.setattr(gif, "render_gif", fake_agg)
    options: dict[str, Any] = {"cols": 60, "rows": 20, "length": 20.0, "layout": layout}
    export_cast([synthetic_trace], str(tmp_path / "x.gif"), CastOptions(**options), report=print)
    held = [json.loads(line) for line in "".join(fed).splitlines()[1:]]
    tidy = _cast(synthetic_trace, tmp_path, "x.cast", **options)
    assert held[:-1] == tidy[:-1]  # the same recording up to its end
    assert held[-1][0] == tidy[-1][0] == 20.0
    before = _screen(held[:-1], 60, 20)
    assert _screen(held, 60, 20) == before
    assert _screen(tidy, 60, 20) != before  # the shell's turn: everything one row up
