"""Progress bars as rows: tqdm-like operation bars and the two training bars.

`label:  75%|███████▌  | 3/4 [00:03<00:01,  1.02s/it]` (tqdm's meter): the bar takes the width the text leaves; when the
row is narrow, tail parts go first (from the right), then the label is cropped; the bar never
shrinks below MIN_BAR_CELLS. Every figure comes from the trace row (tqdm's remaining time and
the percentage are the only things worked out here, as tqdm does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from rich.cells import cell_len

from llmsim.player.views import fmt
from llmsim.player.views.palette import Glyphs
from llmsim.player.views.segments import Row, crop, fit
from llmsim.trace import Event, RunConfig

LOG_BAR_CELLS: Final = 25  # bar width in finished-progress log lines (no terminal width there)
MIN_BAR_CELLS: Final = 6


def bar(fraction: float, cells: int, g: Glyphs) -> tuple[str, str]:
    """The filled and unfilled parts of a bar of `cells` cells (tqdm's partial blocks)."""
    fraction = min(1.0, max(0.0, fraction))
    eighths = int(fraction * cells * 8)
    full, part = divmod(eighths, 8)
    done = g.block * full
    if part and g.partials and full < cells:
        done += g.partials[part - 1]
    return done, g.todo * (cells - cell_len(done))


def _tail(parts: Sequence[str]) -> str:
    """tqdm's right side: `| 3/4 [00:03<00:01, 1.02s/it]`."""
    if not parts:
        return "|"
    if len(parts) == 1:
        return "| " + parts[0]
    return "| " + parts[0] + " [" + ", ".join(parts[1:]) + "]"


class BarLayout:
    """Where a bar row's cells go: label, bar cells, and the tail parts that fit."""

    __slots__ = ("cells", "label", "parts")

    def __init__(
        self, label: str, pct_text: str, tail: Sequence[str], width: int | None, g: Glyphs
    ) -> None:
        parts = list(tail)
        if width is None:
            cells = LOG_BAR_CELLS
        else:
            # Drop tail parts from the right until the bar gets a quarter of the width, then
            # crop the label; the bar itself never shrinks below MIN_BAR_CELLS.
            want = max(MIN_BAR_CELLS, width // 4)
            while True:
                cells = width - cell_len(label) - len(pct_text) - cell_len(_tail(parts))
                if cells >= want or not parts:
                    break
                parts.pop()
            if cells < MIN_BAR_CELLS:
                label = fit(label, width - MIN_BAR_CELLS - len(pct_text) - 1, g.ellipsis)
                cells = max(0, width - cell_len(label) - len(pct_text) - 1)
        self.label, self.parts, self.cells = label, parts, cells


def bar_row(
    label: str,
    frac: float,
    pct: int,
    tail: Sequence[str],
    width: int | None,
    color: str,
    g: Glyphs,
    cells: int | None = None,
) -> Row:
    """`label  75%|███▌   | tail [...]`; `cells` caps the bar so that stacked bars line up."""
    pct_text = f" {pct:3d}%|"
    layout = BarLayout(label, pct_text, tail, width, g)
    n = layout.cells if cells is None else min(cells, layout.cells)
    done, todo = bar(frac, n, g)
    row: Row = (
        (layout.label, "label"),
        (pct_text, None),
        (done, color),
        (todo + _tail(layout.parts), None),
    )
    return crop(row, width, g.ellipsis) if width is not None else row


def _counts(done: int, total: int, unit: str | None) -> str:
    if unit == "B":
        return f"{fmt.size(done)}/{fmt.size(total)}"
    return f"{done:,}/{total:,}"


def progress_row(
    label: str,
    ev: Event,
    width: int | None,
    color: str,
    g: Glyphs,
) -> Row:
    """tqdm's default meter: `Loading checkpoint shards:  75%|███████▌  | 3/4 [00:03<00:01,  1.02s/it]`."""
    done, total, elapsed = ev.done or 0, ev.total or 0, ev.elapsed or 0.0
    left = fmt.remaining(elapsed, done, total)
    times = (
        f"{fmt.clock(elapsed)}<{fmt.clock(left) if left is not None else '?'}, "
        f"{fmt.tqdm_rate(done, elapsed, ev.unit)}"
    )
    frac = done / total if total > 0 else 1.0
    tail = (_counts(done, total, ev.unit), times)
    return bar_row(f"{label}:", frac, fmt.percent(done, total), tail, width, color, g)


def _quality(ev: Event, loss: float) -> str:
    """What the step's loss means: its perplexity, or what a run without one reports (an RL
    run's reward, DPO's preference accuracy)."""
    if ev.ppl is not None:
        return f"ppl={fmt.ppl(loss, ev.ppl)}"
    if ev.reward is not None:
        return f"reward={ev.reward:.3f}"
    if ev.accuracy is not None:
        return f"acc={ev.accuracy:.3f}"
    return f"ppl={fmt.ppl(loss, 1.0)}"


def train_bars(ev: Event, config: RunConfig, width: int, g: Glyphs) -> list[Row]:
    """The run bar (the steps this trace plays, elapsed<remaining at the rate shown) and the
    epoch bar with the metrics of the latest step.

    A pretraining window resumes deep into its schedule: its run bar counts the window's steps
    (`Window`, with the global step beside), never a 99 % of the whole schedule, and it has no
    epoch bar (its one epoch is the schedule): the metrics stand alone on that row.
    """
    step, total_steps = ev.step or 0, config.total_steps
    first = config.resume_step  # steps before this trace
    window = first > 0
    done, total = step - first, total_steps - first
    left = total_steps - step
    # The rate beside the remaining time is the one it was worked out with (the trace's ETA is
    # the remaining steps at the mean of the recent steps), so the two always agree.
    per = (ev.eta or 0.0) / left if left > 0 and ev.eta else ev.step_time or 0.0
    run_label = "Window" if window else "Training"
    epoch_label = "" if window else f"Epoch {ev.epoch or 0}/{config.epochs}"
    pad = max(cell_len(epoch_label), cell_len(run_label))
    epoch_label, run_label = epoch_label.ljust(pad), run_label.ljust(pad)
    run_pct = fmt.percent(done, total)
    counted = f"{done:,}/{total:,}" + (f" steps (step {step:,})" if window else "")
    run_tail = (
        counted,
        f"{fmt.clock(ev.elapsed or 0.0)}<{fmt.clock(ev.eta or 0.0)}",
        f"{per:.2f}s/it",
    )
    loss = ev.loss or 0.0
    metrics = (
        f"loss={loss:.4f}",
        _quality(ev, loss),
        f"lr={ev.lr or 0.0:.2e}",
        f"{fmt.si(ev.tokens_per_s or 0.0)} tok/s",
    )
    run_frac = done / total if total else 1.0
    if window:
        row = bar_row(run_label, run_frac, run_pct, run_tail, width, "bar_done", g)
        text = " ".join((" " * pad, *metrics))
        return [row, ((fit(text, width, g.ellipsis), None),)]
    e_done, e_total = ev.done or 0, ev.total or config.steps_per_epoch
    epoch_pct = fmt.percent(e_done, e_total)
    epoch_tail = (f"{e_done:,}/{e_total:,}", *metrics)
    # Both bars get the narrower of their two widths so that they line up.
    cells = min(
        BarLayout(run_label, f" {run_pct:3d}%|", run_tail, width, g).cells,
        BarLayout(epoch_label, f" {epoch_pct:3d}%|", epoch_tail, width, g).cells,
    )
    epoch_frac = e_done / e_total if e_total else 1.0
    return [
        bar_row(run_label, run_frac, run_pct, run_tail, width, "bar_done", g, cells),
        bar_row(epoch_label, epoch_frac, epoch_pct, epoch_tail, width, "bar_done", g, cells),
    ]
