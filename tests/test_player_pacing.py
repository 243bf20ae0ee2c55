"""No dead air: text within a second, asciinema's idle-time limit, start points that show a
step line, a lively run first; the same in every layout."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from conftest import BUNDLED
from playback import Recording, record
from synthetic import write_trace

from llmsim.player import PlayOptions, StartAt
from llmsim.player.options import Layout
from llmsim.player.scheduler.playlist import LEAD_IN, Beat, cap_idle, iter_show
from llmsim.player.sinks import Frame
from llmsim.player.views.renderer import RenderOptions
from llmsim.trace import open_trace

LAYOUTS: list[Layout] = ["tmux", "classic", "plain"]
RUNS = [p for p in BUNDLED if p.parent.name == "traces"]


def _text_at(path: Path, layout: Layout, cols: int = 100, rows: int = 30) -> float:
    """Playlist time of the first frame with a line of the run's text on screen."""
    first: list[float] = []
    # tmux's prompt is there at once: the player's own (then the job's first line is the text),
    # or, where the trace types its own commands (login_host, 2.4), the trace's, which is text.
    typed = open_trace(path).config.login_host is not None
    before = {"tmux": 0 if typed else 1, "classic": 0, "plain": 0}[layout]

    def check(rec: Recording, frame: Frame) -> None:
        text = [line for line in rec.lines() if line.strip()]
        if not first and (frame.logs or len(_job(rec, layout)) > before):
            first.append(frame.at)
        del text

    record([path], cols, rows, layout=layout, on_frame=check)
    return first[0]


def _job(rec: Recording, layout: Layout) -> list[str]:
    lines = [line for line in rec.lines() if line.strip()]
    if layout != "tmux":
        return lines
    border = next((i for i, x in enumerate(rec.lines()) if x.startswith("─" * 20)), 0)
    return [x for x in rec.lines()[:border] if x.strip()]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("path", [*RUNS, None], ids=[*(p.stem for p in RUNS), "synthetic"])
def test_first_text_within_a_second(path: Path | None, layout: Layout, tmp_path: Path) -> None:
    """Of playback: with Python's start-up (scripts/bench measures it) under a second."""
    trace = path or write_trace(tmp_path / "run.parquet")
    assert _text_at(trace, layout) <= LEAD_IN + 1e-9


def _beats(times: list[float], logs: list[bool]) -> list[Beat]:
    return [
        Beat(t, ["x"] if has else [], not has, None, nxt)  # type: ignore[list-item]
        for t, has, nxt in zip(times, logs, [*times[1:], None], strict=True)
    ]


def test_idle_limit_caps_silences_between_visible_beats_as_asciinema_does() -> None:
    beats = _beats([0.0, 1.0, 30.0, 31.0, 100.0], [True, True, True, False, True])
    capped = list(cap_idle(iter(beats), 2.0, lambda b: bool(b.logs)))
    assert [b.at for b in capped] == [0.0, 1.0, 3.0, 4.0, 5.0]
    assert [b.next_at for b in capped] == [1.0, 3.0, 4.0, 5.0, None]
    # A silence only broken by beats that draw nothing is a silence too (the plain layout).
    beats = _beats([0.0, 10.0, 20.0, 30.0], [True, False, False, True])
    capped = list(cap_idle(iter(beats), 2.0, lambda b: bool(b.logs)))
    assert [b.at for b in capped] == [0.0, 2.0, 2.0, 2.0]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_idle_limit_in_playback(layout: Layout, tmp_path: Path) -> None:
    path = write_trace(tmp_path / "run.parquet")
    frames: list[float] = []

    def check(rec: Recording, frame: Frame) -> None:
        frames.append(frame.at)

    capped = record([path], 100, 30, layout=layout, idle_time_limit=0.5, on_frame=check)
    gaps = [b - a for a, b in itertools.pairwise(frames)]
    assert max(gaps) <= 0.5 + 1e-9
    frames_before = len(frames)
    frames.clear()
    uncapped = record([path], 100, 30, layout=layout, on_frame=check)
    assert max(b - a for a, b in itertools.pairwise(frames)) > 0.5  # (control)
    # When things appear changes, never what: the same last screen (frames that now fall due
    # together are drawn as one).
    assert frames_before <= len(frames) and uncapped.text() == capped.text()


# At 80x24 no terminal shows Megatron's iteration line whole with the straggler report it
# prints with it (13 rows at 80 columns): its end is on screen; at 120x36 all of it.
@pytest.mark.parametrize(("layout", "cols", "rows"), [("tmux", 120, 36), ("classic", 120, 36)])
def test_start_at_train_shows_a_megatron_step_line(layout: Layout, cols: int, rows: int) -> None:
    megatron = [p for p in RUNS if open_trace(p).config.stack == "megatron"]
    assert megatron
    for path in megatron:
        first: list[str] = []

        def check(rec: Recording, frame: Frame, first: list[str] = first) -> None:
            if not first:
                first.append(rec.text())

        start = StartAt(point="train")
        record([path], cols, rows, layout=layout, start_at=start, on_frame=check)
        assert re.search(r" iteration +\d+/ *\d+ \|", first[0]), first[0]


def test_start_at_skips_a_step_line_that_a_burst_would_scroll_away() -> None:
    megatron = next(p for p in RUNS if open_trace(p).config.stack == "megatron")
    options = PlayOptions(once=True, start_at=StartAt(point="train"), layout="plain")
    beats = iter_show([megatron], options, RenderOptions(verbatim=True))
    first = next(beats)
    steps = [e.step for e in open_trace(megatron).events() if e.kind == "step"]
    printed = [line.text for line in first.logs]
    iterations = [x for x in printed if re.search(r" iteration +\d+/", x)]
    assert f" iteration {steps[0]:8d}/" in iterations[0]  # the first, with its memory report
    assert f" iteration {steps[1]:8d}/" in iterations[-1]  # the start: the next one, in view
    assert len(printed) - printed.index(iterations[-1]) <= 4  # (its straggler report after it)
    beats.close()


def test_with_no_run_named_a_lively_run_opens() -> None:
    from llmsim.cli.playing import _bundled

    runs, _ = _bundled(None)
    configs = [open_trace(p).config for p in runs]
    assert configs[0].kind == "finetune"
    assert [c.gpus for c in configs] == sorted(c.gpus for c in configs if c.kind == "finetune") + [
        c.gpus for c in configs if c.kind != "finetune"
    ]
