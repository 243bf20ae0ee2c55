"""Views and the live region without a terminal: exact bytes, wrapping, sizes, summary, digits."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from synthetic import write_trace

from llmsim.player.live.ansi import Styler
from llmsim.player.live.region import LiveRegion
from llmsim.player.views import bars, chart, fmt, grid
from llmsim.player.views.grid import plural
from llmsim.player.views.palette import HEAT_STYLES, UNICODE_GLYPHS, glyphs, heat_level
from llmsim.player.views.renderer import Renderer, RenderOptions
from llmsim.player.views.segments import Line, Row, plain, row_width
from llmsim.player.views.summary import summary_box
from llmsim.player.views.wrap import MIN_BODY, wrap
from llmsim.trace import Event, RunConfig, open_trace


def _row(text: str) -> Row:
    return ((text, None),)


def test_live_region_frames_are_cursor_moves_and_changed_rows() -> None:
    region = LiveRegion(Styler(False), 80)
    assert region.frame([Line((), _row("log one"))], [_row("bar a"), _row("bar b")]) == (
        "\r\x1b[Jlog one\r\nbar a\r\nbar b"
    )
    # No logs, same height: only the changed row is rewritten, the cursor comes back.
    assert region.frame([], [_row("bar A"), _row("bar b")]) == (
        "\x1b[1A\rbar A\x1b[K\x1b[1B\r\x1b[5C"
    )
    assert region.frame([], [_row("bar A"), _row("bar b")]) == ""  # nothing changed
    # A new height or log lines: erase from the region's top, print, draw again.
    assert region.frame([Line((), _row("log two"))], None) == (
        "\r\x1b[1A\x1b[Jlog two\r\nbar A\r\nbar b"
    )
    # Narrower terminal: the old 50-cell rows reflow onto 2 rows each at width 30.
    region.frame([], [_row("x" * 50), _row("y" * 50)])
    region.resized(30)
    assert region.frame([], [_row("z")]).startswith("\r\x1b[3A\x1b[J")
    assert region.close() == "\x1b[0m\r\n\x1b[?25h"


def test_log_lines_wrap_under_their_prefix() -> None:
    line = Line((("[2026-01-01 00:00:01] ", "time"),), _row("busbw 34.98 GB/s count 1000000 " * 4))
    rows = [plain(r) for r in wrap(line, 60)]
    assert rows[0].startswith("[2026-01-01 00:00:01] busbw 34.98 GB/s")
    assert all(r.startswith(" " * 22) and not r[22].isspace() for r in rows[1:])
    assert all(len(r) <= 60 for r in rows)
    assert " ".join(r.strip() for r in rows).endswith("count 1000000")


words = st.text(alphabet="abc0123456789.,/|=:", min_size=1, max_size=40)


@settings(derandomize=True, max_examples=300)
@given(st.lists(words, min_size=1, max_size=30), st.integers(0, 40), st.integers(10, 120))
def test_wrapping_keeps_every_word_whole(parts: list[str], prefix: int, width: int) -> None:
    body = " ".join(parts)
    line = Line((("p" * prefix + " ", "time"),), _row(body))
    rows = wrap(line, width)
    assert all(row_width(r) <= width for r in rows)
    hangs = width - prefix - 1 >= max(MIN_BODY, width // 2)  # the body keeps half the row
    indent = prefix + 1 if hangs else min(4, width // 4)
    texts = [plain(r) for r in rows]
    if not hangs:  # the prefix is wrapped with the text
        body = "p" * prefix + " " + body
    else:
        assert texts[0].startswith("p" * prefix + " ")
        texts[0] = texts[0][prefix + 1 :]
    pieces = [texts[0]] + [t[indent:] for t in texts[1:]]
    room = width - indent
    for piece in pieces:
        for token in piece.split():
            # A whole word, or a cut of a word too long for any row.
            assert token in body.split() or any(
                len(w) > room and token in w for w in body.split()
            ), (token, pieces)
    assert "".join("".join(pieces).split()) == "".join(body.split())


@pytest.mark.parametrize(("cols", "rows"), [(40, 10), (30, 6), (20, 4), (12, 3), (7, 2)])
def test_region_fits_small_terminals(synthetic_trace: Path, cols: int, rows: int) -> None:
    trace = open_trace(synthetic_trace)
    renderer = Renderer(trace.config, RenderOptions())
    tallest = 0
    for ev in trace.events():
        renderer.feed(ev)
        region = renderer.region(cols, rows)
        tallest = max(tallest, len(region))
        assert len(region) <= max(0, min(rows - 2, max(2, rows // 3)))
        assert all(row_width(r) < cols for r in region), [plain(r) for r in region]
    assert tallest >= (1 if rows > 2 else 0)


def test_ascii_glyphs_give_pure_ascii_output(synthetic_trace: Path) -> None:
    trace = open_trace(synthetic_trace)
    renderer = Renderer(trace.config, RenderOptions(ascii=True))
    styler = Styler(True, ascii_only=True)
    region = LiveRegion(styler, 100)
    out = [region.start()]
    for ev in trace.events():
        out.append(region.frame(renderer.feed(ev), renderer.region(100, 30)))
    text = "".join(out) + region.close()
    assert text.isascii() and "+ Training completed successfully!" in text


def test_summary_box_shows_the_summary_row(tmp_path: Path) -> None:
    path = write_trace(tmp_path / "run.parquet")
    trace = open_trace(path)
    renderer = Renderer(trace.config, RenderOptions())
    lines = [plain((*x.prefix, *x.body)) for ev in trace.events() for x in renderer.feed(ev)]
    s = next(ev for ev in trace.events() if ev.kind == "summary")
    box = "\n".join(lines[-16:])
    for value in (
        f"{s.loss:.4f}",
        f"{s.step:,}",
        f"{s.avg_gpu_util:.1f}%",
        f"{(s.size_bytes or 0) / 1e9:.2f} GB",
        f"{(s.peak_mem_mib or 0) / 1024:.1f} GiB",
        s.path or "",
    ):
        assert value in box, value
    assert "Restarts" not in box  # only what went wrong, when something did
    widths = {cell_len(x) for x in lines[-14:-3]}
    assert len(widths) == 1  # the box's rows line up
    match = re.search(r"Final PPL\s*│\s*([\d,.]+)(k?)", box)
    assert match, box
    shown = float(match.group(1).replace(",", "")) * (1000 if match.group(2) else 1)
    half = 0.5 * 10 ** (-len(match.group(1).partition(".")[2])) * (1000 if match.group(2) else 1)
    assert abs(shown - (s.ppl or 0)) <= half + 1e-9
    assert abs(shown - math.exp(round(s.loss or 0, 4))) <= half + 1e-9


@pytest.mark.parametrize(
    ("loss", "expected"),
    [(2.3456, "10.44"), (0.05, "1.051"), (10.5, "36.32k"), (11.7, "120.6k"), (5.0, "148.4")],
)
def test_perplexity_digits_agree_with_the_loss_shown(loss: float, expected: str) -> None:
    assert fmt.ppl(loss, math.exp(loss)) == expected


def test_plural_forms() -> None:
    assert plural(1, "node") == "1 node" and plural(64, "node") == "64 nodes"
    assert plural(1, "warning") == "1 warning" and plural(2, "critical", "critical") == "2 critical"
    assert plural(1_024, "more node") == "1,024 more nodes"


def test_a_restart_on_a_spare_node_renames_that_node_in_the_grid(synthetic_trace: Path) -> None:
    trace = open_trace(synthetic_trace)
    renderer = Renderer(trace.config, RenderOptions())
    events = list(trace.events())
    telemetry = next(e for e in events if e.kind == "telemetry")
    renderer.feed(telemetry)
    before = plain_text(renderer.region(120, 60))
    assert "node-a02" in before and "spare-007" not in before
    restart = telemetry._replace(
        kind="incident", op="restart", rank=9, path="spare-007", text="Restart", elapsed=30.0
    )
    renderer.feed(restart)
    renderer.feed(telemetry._replace(t=telemetry.t + 1.0))
    after = plain_text(renderer.region(120, 60))
    assert "spare-007" in after and "node-a02" not in after and "node-a01" in after


def test_the_end_of_an_incident_focus_is_a_new_version(synthetic_trace: Path) -> None:
    """A sink may keep a region while `version` stays the same (the terminal does): the time
    a node's incident focus runs out must change it, even on a row that only prints a line."""
    trace = open_trace(synthetic_trace)
    renderer = Renderer(trace.config, RenderOptions())
    events = list(trace.events())
    telemetry = next(e for e in events if e.kind == "telemetry")
    log = next(e for e in events if e.kind == "log")
    renderer.feed(telemetry)
    renderer.feed(telemetry._replace(kind="incident", op="ecc", rank=9, text="ECC", elapsed=3.0))
    focused, version = plain_text(renderer.region(120, 60)), renderer.version
    renderer.feed(log._replace(t=telemetry.t + 1.0))  # still in focus: nothing changes
    assert renderer.version == version
    renderer.feed(log._replace(t=telemetry.t + 10.0))  # the focus has run out
    assert renderer.version != version
    assert plain_text(renderer.region(120, 60)) == focused  # two nodes: both shown either way


def plain_text(rows: list[Row]) -> str:
    return "\n".join(plain(r) for r in rows)


def test_an_inline_stamp_shows_the_playback_clock(synthetic_trace: Path) -> None:
    from llmsim.player.dialects import Stamps, log_line

    event = next(e for e in open_trace(synthetic_trace).events() if e.kind == "log")
    cancelled = event._replace(
        source="inline-stamp",
        origin="%Y-%m-%dT%H:%M:%S",
        text="slurmstepd: error: *** STEP 7.0 ON n1 CANCELLED AT {stamp} ***",
    )
    when = 1_767_225_600.0 + 3725.4  # 2026-01-01 01:02:05 UTC
    line = log_line(cancelled, when, Stamps(utc=True))
    assert line.text == "slurmstepd: error: *** STEP 7.0 ON n1 CANCELLED AT 2026-01-01T01:02:05 ***"


# --- the classic layout, mended (issue 21 item 3) ------------------------------------------


RESUME = 1_651_879  # a pretraining window: 60 steps at the end of a 1.65M-step schedule


def _window(path: Path) -> tuple[RunConfig, list[Event]]:
    """The synthetic run's config and step rows as a window resumed at RESUME."""
    config = replace(open_trace(path).config, resume_step=RESUME, total_steps=RESUME + 60)
    steps = [
        ev._replace(step=RESUME + (ev.step or 0))
        for ev in open_trace(path).events()
        if ev.kind == "step"
    ]
    return config, steps


def test_a_pretraining_window_counts_its_own_steps(synthetic_trace: Path) -> None:
    config, steps = _window(synthetic_trace)
    step = steps[20]
    rows = [plain(r) for r in bars.train_bars(step, config, 120, glyphs(False))]
    # The window's 60 steps, not 99 % of a 1.65M-step schedule; the global step beside it.
    assert re.match(r"Window +35%\|", rows[0]) and "21/60 steps (step 1,651,900)" in rows[0]
    assert len(rows) == 2 and not rows[1].lstrip().startswith("Epoch")  # one epoch: the schedule
    assert rows[1].split() == [
        f"loss={step.loss:.4f}",
        f"ppl={fmt.ppl(step.loss or 0, step.ppl or 1)}",
        f"lr={step.lr or 0:.2e}",
        f"{fmt.si(step.tokens_per_s or 0)}",
        "tok/s",
    ]
    fine = [
        plain(r)
        for r in bars.train_bars(
            steps[20]._replace(step=21), open_trace(synthetic_trace).config, 120, glyphs(False)
        )
    ]
    assert fine[0].startswith("Training ") and fine[1].startswith("Epoch 1/2")


@pytest.mark.parametrize("window", [False, True])
def test_the_eta_is_the_rate_beside_it_times_the_steps_left(
    synthetic_trace: Path, window: bool
) -> None:
    config, steps = _window(synthetic_trace)
    if not window:
        config = open_trace(synthetic_trace).config
        steps = [ev for ev in open_trace(synthetic_trace).events() if ev.kind == "step"]
    for ev in steps[:-1]:
        ev = ev._replace(eta=(ev.eta or 0) * 1.3, step_time=9.99)  # a mean, not the last step
        bar = plain(bars.train_bars(ev, config, 200, glyphs(False))[0])
        m = re.search(r"<(\d+):(\d\d), +([\d.]+)s/it", bar)
        assert m, bar
        left = config.total_steps - (ev.step or 0)
        shown = int(m.group(1)) * 60 + int(m.group(2))
        assert abs(shown - float(m.group(3)) * left) < 0.005 * left + 1


def test_the_summary_of_a_window_names_its_steps_from_and_to(synthetic_trace: Path) -> None:
    config, _ = _window(synthetic_trace)
    s = next(ev for ev in open_trace(synthetic_trace).events() if ev.kind == "summary")
    s = s._replace(step=RESUME + 60)
    box = "\n".join(plain(r) for r in summary_box(s, config, glyphs(False)))
    assert re.search(r"Steps +│ 1,651,880 → 1,651,939 ", box) and "Epochs" not in box
    ascii_box = "\n".join(plain(r) for r in summary_box(s, config, glyphs(True)))
    assert "1,651,880 -> 1,651,939" in ascii_box


def test_the_legend_explains_every_colour_and_no_colour_means_shades(synthetic_trace: Path) -> None:
    trace = open_trace(synthetic_trace)
    telemetry = next(e for e in trace.events() if e.kind == "telemetry")
    sample = grid.Sample(telemetry, 8, 2, ("node-a01", "node-a02"), frozenset())
    head = grid.header(sample, trace.config, 200, glyphs(False))
    styles = {style for _, style in head}
    assert set(HEAT_STYLES) <= styles and {"warn", "crit", "lost"} <= styles
    assert "lost" in plain(head) and "idle→busy" in plain(head)
    mono = grid.Sample(telemetry, 8, 2, ("node-a01", "node-a02"), frozenset(), color=False)
    rows = [plain(r) for r in grid.grid(mono, trace.config, 120, 10, glyphs(False))]
    node = next(r for r in rows if r.startswith("node-a01"))
    util = telemetry.gpu_util or []
    cells = node.split()[1]
    assert cells == "".join(UNICODE_GLYPHS.shades[heat_level(u)] for u in util[:8])
    assert "·░▒▓█" in rows[0]  # the legend in shades too


def test_a_flat_loss_stays_flat_on_the_chart() -> None:
    history = chart.History()
    for i in range(200):
        history.step(1_651_880 + i, 1.90 + 0.01 * ((i * 7) % 5 - 2), 480_000.0)
    rows = chart.LossChart(1_651_880, 1_652_130).rows(history, 120, glyphs(False))
    top, bottom = float(plain(rows[0]).split()[0]), float(plain(rows[4]).split()[0])
    assert top - bottom >= 0.15 * 1.92 - 1e-9  # the axis, not the noise, sets the scale
    assert bottom <= 1.88 and top >= 1.92  # every point is within it
    lit = [
        r
        for r in range(5)
        if any(ch not in " │" and ord(ch) >= 0x2800 for ch in plain(rows[r])[7:90])
    ]
    assert len(lit) <= 2  # the noise takes a row or two of five, not the whole plot
