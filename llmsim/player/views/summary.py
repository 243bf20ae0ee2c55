"""The end-of-run summary box: every value straight from the trace's summary row."""

from __future__ import annotations

from typing import Final

from rich.cells import cell_len

from llmsim.player.views import fmt
from llmsim.player.views.palette import Glyphs
from llmsim.player.views.segments import Row, fit
from llmsim.sanitize import clean_name
from llmsim.trace import Event, RunConfig

TITLE: Final = "Training summary"
MAX_WIDTH: Final = 78  # the box fits an 80-column terminal


def _entries(ev: Event, config: RunConfig, g: Glyphs) -> list[tuple[str, str]]:
    loss = ev.loss or 0.0
    rows = [
        ("Model", clean_name(config.model)),
        ("Total time", fmt.duration(ev.elapsed or 0.0)),
        *_schedule(ev, config, g),
        ("Final loss", f"{loss:.4f}"),
        *([("Final PPL", fmt.ppl(loss, ev.ppl))] if ev.ppl is not None else []),
        *([("Final reward", f"{ev.reward:.4f}")] if ev.reward is not None else []),
        ("Avg GPU util", f"{ev.avg_gpu_util or 0.0:.1f}%"),
        ("Peak memory", f"{(ev.peak_mem_mib or 0.0) / 1024:.1f} GiB"),
    ]
    # What went wrong, only when something did (llmsim.trace: restarts, redone, lost_s).
    if ev.restarts:
        rows.append(("Restarts", f"{ev.restarts:,}"))
    if ev.redone:
        rows.append(("Steps redone", f"{ev.redone:,}"))
    if ev.lost_s:
        rows.append(("Time lost", fmt.duration(ev.lost_s)))
    rows.append(("Output", clean_name(ev.path or "")))
    rows.append(("Total size", fmt.gigabytes(ev.size_bytes or 0)))
    return rows


def _schedule(ev: Event, config: RunConfig, g: Glyphs) -> list[tuple[str, str]]:
    """Epochs and steps of what this trace played: a pretraining window's own steps, from the
    one after its resumed checkpoint to its last (never the whole schedule's count)."""
    last = ev.step or 0
    if config.resume_step > 0:
        first = config.resume_step + 1
        return [("Steps", f"{first:,} {g.arrow} {last:,}")]
    return [("Epochs", f"{ev.epoch or 0:,}"), ("Steps", f"{last:,}")]


def summary_box(ev: Event, config: RunConfig, g: Glyphs) -> list[Row]:
    """The title, then a two-column box: keys dim, values bold."""
    entries = _entries(ev, config, g)
    key_w = max(cell_len(k) for k, _ in entries)
    value_w = min(max(cell_len(v) for _, v in entries), MAX_WIDTH - key_w - 7)
    h, v, tl, tr, bl, br, _, _, top, bottom, _ = tuple(g.box)
    inner = key_w + value_w + 5  # "│ key │ value │" without the outer bars
    rows: list[Row] = [((" " * max(0, (inner + 2 - len(TITLE)) // 2), None), (TITLE, "title"))]
    rows.append(((tl + h * (key_w + 2) + top + h * (value_w + 2) + tr, None),))
    for key, value in entries:
        shown = fit(value, value_w, g.ellipsis)
        rows.append(
            (
                (v + " ", None),
                (key.ljust(key_w), "key"),
                (" " + v + " ", None),
                (shown, "value"),
                (" " * (value_w - cell_len(shown) + 1) + v, None),
            )
        )
    rows.append(((bl + h * (key_w + 2) + bottom + h * (value_w + 2) + br, None),))
    return rows
