"""Views and the live region without a terminal: exact bytes, wrapping, sizes, summary, digits."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from synthetic import write_trace

from llmsim.player.live.ansi import Styler
from llmsim.player.live.region import LiveRegion
from llmsim.player.views import fmt
from llmsim.player.views.grid import plural
from llmsim.player.views.renderer import Renderer, RenderOptions
from llmsim.player.views.segments import Line, Row, plain, row_width
from llmsim.player.views.wrap import MIN_BODY, wrap
from llmsim.trace import open_trace


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
