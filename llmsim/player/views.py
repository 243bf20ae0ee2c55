"""The default style's views: pure functions (trace values, width, styler, glyphs) -> styled lines.

A style is one module with these functions; the renderer decides when each is called. Views
never read a clock or the terminal and never compute a figure that is shown: they lay out and
colour values that come from the trace. Every string from a trace reaches a view already cleaned
(llmsim.sanitize). Bars and the GPU grid are redrawn on every frame, so they are built by
hand from cached SGR strings: going through rich's segment pipeline per frame would cost ~100x
more for the same bytes. rich renders the summary box, which is drawn once per run; its console
and table modules are imported there, so playback starts without paying for them.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from rich.cells import cell_len, set_cell_size

from llmsim.player import fmt
from llmsim.player.style import Glyphs, Styler
from llmsim.sanitize import clean_name
from llmsim.trace import Event, RunConfig

if TYPE_CHECKING:
    from rich.text import Text

LEVEL_WIDTH: Final = 7  # "WARNING"
SOURCE_WIDTH: Final = 10  # "checkpoint"
LOG_BAR_CELLS: Final = 25  # bar width in finished-progress log lines (no terminal width there)
MIN_BAR_CELLS: Final = 6
MAX_NODES_FULL: Final = 8  # nodes drawn one per line; the rest of a big cluster is one line
SUMMARY_WIDTH: Final = 78  # the summary box fits an 80-column terminal


def fit(text: str, width: int, ellipsis: str = "…") -> str:
    """Crop plain text to `width` terminal cells, ending in an ellipsis when cut."""
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    if width <= cell_len(ellipsis):
        return set_cell_size(text, width)
    return set_cell_size(text, width - cell_len(ellipsis)) + ellipsis


def timestamp(seconds: float, utc: bool) -> str:
    """YYYY-MM-DD HH:MM:SS of a unix time, local time or UTC."""
    return time.strftime(
        "%Y-%m-%d %H:%M:%S", time.gmtime(seconds) if utc else time.localtime(seconds)
    )


def log_tail(level: str, source: str, st: Styler) -> str:
    """What follows the stamp in a log line: ` LEVEL   source     | `, the level coloured."""
    return (
        " "
        + st.paint(level, level.ljust(LEVEL_WIDTH))
        + " "
        + st.paint("source", source.ljust(SOURCE_WIDTH))
        + st.paint("sep", " | ")
    )


def log_prefix(stamp: str, level: str, source: str, st: Styler) -> str:
    """`[stamp] LEVEL   source     | `: everything before a log message."""
    return st.paint("time", f"[{stamp}]") + log_tail(level, source, st)


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
    """Where a bar line's cells go: label, bar cells, and the tail parts that fit."""

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


def _bar_line(
    label: str,
    frac: float,
    pct: int,
    tail: Sequence[str],
    width: int | None,
    color: str,
    st: Styler,
    g: Glyphs,
    cells: int | None = None,
) -> str:
    """`label  75%|███▌   | tail [...]`: the bar takes the width the text leaves (fixed if None).

    `cells` caps the bar width so that stacked bars line up.
    """
    pct_text = f" {pct:3d}%|"
    layout = BarLayout(label, pct_text, tail, width, g)
    n = layout.cells if cells is None else min(cells, layout.cells)
    rest = _tail(layout.parts)
    done, todo = bar(frac, n, g)
    # The unfilled part is blank cells: painting it would only add bytes.
    line = st.paint("label", layout.label) + pct_text + st.paint(color, done) + todo + rest
    if width is not None and cell_len(layout.label) + len(pct_text) + n + cell_len(rest) > width:
        return fit_styled(line, width, st)
    return line


def fit_styled(line: str, width: int, st: Styler) -> str:
    """Crop a styled line to `width` cells (rare: only when even the minimum layout is too wide)."""
    if not st.color:
        return fit(line, width)
    from rich.text import Text

    text = Text.from_ansi(line)
    text.truncate(width, overflow="ellipsis")
    return _ansi(text)


def _ansi(text: Text) -> str:
    from rich.console import Console

    console = Console(
        file=io.StringIO(),
        width=10_000,
        force_terminal=True,
        color_system="standard",
        legacy_windows=False,
        _environ={},
    )
    with console.capture() as cap:
        console.print(text, end="", soft_wrap=True)
    return cap.get()


def _counts(done: int, total: int, unit: str | None) -> str:
    if unit == "B":
        return f"{fmt.size(done)}/{fmt.size(total)}"
    return f"{done:,}/{total:,}"


def progress_line(
    label: str,
    done: int,
    total: int,
    unit: str | None,
    elapsed: float,
    width: int | None,
    color: str,
    st: Styler,
    g: Glyphs,
) -> str:
    """A tqdm-like bar: `Loading checkpoint shards  75%|███████▌  | 3/4 [00:03<00:01]`."""
    left = fmt.remaining(elapsed, done, total)
    times = f"{fmt.clock(elapsed)}<{fmt.clock(left) if left is not None else '?'}"
    frac = done / total if total > 0 else 1.0
    return _bar_line(
        label,
        frac,
        fmt.percent(done, total),
        (_counts(done, total, unit), times),
        width,
        color,
        st,
        g,
    )


def step_message(ev: Event, config: RunConfig, g: Glyphs) -> str:
    """The periodic step log message: `step 120/3,000 | epoch 1/3 | loss 2.3456 | ppl 10.44 | …`."""
    loss = ev.loss or 0.0
    return " | ".join(
        (
            f"step {ev.step or 0:,}/{config.total_steps:,}",
            f"epoch {ev.epoch or 0}/{config.epochs}",
            f"loss {loss:.4f}",
            f"ppl {fmt.ppl(loss, ev.ppl or 1.0)}",
            f"lr {ev.lr or 0.0:.2e}",
            f"grad {ev.grad_norm or 0.0:.3f}",
            f"{fmt.si(ev.tokens_per_s or 0.0)} tok/s",
            f"mfu {(ev.mfu or 0.0) * 100:.1f}%",
            f"{ev.step_time or 0.0:.2f} s/it",
        )
    )


def train_bars(ev: Event, config: RunConfig, width: int, st: Styler, g: Glyphs) -> list[str]:
    """The run bar (steps, elapsed<ETA) and the epoch bar (metrics of the latest step)."""
    step, total_steps = ev.step or 0, config.total_steps
    done, total = ev.done or 0, ev.total or config.steps_per_epoch
    loss = ev.loss or 0.0
    epoch_label = f"Epoch {ev.epoch or 0}/{config.epochs}"
    run_label = "Training"
    pad = max(cell_len(epoch_label), cell_len(run_label))
    epoch_label, run_label = epoch_label.ljust(pad), run_label.ljust(pad)
    run_pct, epoch_pct = fmt.percent(step, total_steps), fmt.percent(done, total)
    run_tail = (
        f"{step:,}/{total_steps:,}",
        f"{fmt.clock(ev.elapsed or 0.0)}<{fmt.clock(ev.eta or 0.0)}",
        f"{ev.step_time or 0.0:.2f}s/it",
    )
    epoch_tail = (
        f"{done:,}/{total:,}",
        f"loss={loss:.4f}",
        f"ppl={fmt.ppl(loss, ev.ppl or 1.0)}",
        f"lr={ev.lr or 0.0:.2e}",
        f"{fmt.si(ev.tokens_per_s or 0.0)} tok/s",
    )
    # Both bars get the narrower of their two widths so that they line up.
    cells = min(
        BarLayout(run_label, f" {run_pct:3d}%|", run_tail, width, g).cells,
        BarLayout(epoch_label, f" {epoch_pct:3d}%|", epoch_tail, width, g).cells,
    )
    return [
        _bar_line(
            run_label,
            step / total_steps if total_steps else 1.0,
            run_pct,
            run_tail,
            width,
            "bar_done",
            st,
            g,
            cells,
        ),
        _bar_line(
            epoch_label,
            done / total if total else 1.0,
            epoch_pct,
            epoch_tail,
            width,
            "bar_done",
            st,
            g,
            cells,
        ),
    ]


def _span(values: Sequence[float], lo: int, hi: int) -> tuple[float, float]:
    part = values[lo:hi]
    if not part:  # a telemetry row may carry gpu_health without this figure's list
        return 0.0, 0.0
    return min(part), max(part)


def _range(a: float, b: float, g: Glyphs, unit: str = "") -> str:
    if round(a) == round(b):
        return f"{a:.0f}{unit}"
    return f"{a:.0f}{g.dash}{b:.0f}{unit}"


def _gib_range(lo_mib: float, hi_mib: float, g: Glyphs) -> str:
    lo, hi = f"{lo_mib / 1024:.1f}", f"{hi_mib / 1024:.1f}"
    return lo if lo == hi else f"{lo}{g.dash}{hi}"


def _figures(ev: Event, lo: int, hi: int, g: Glyphs) -> list[str]:
    util = _span(ev.gpu_util or [0.0], lo, hi)
    temp = _span(ev.gpu_temp or [0.0], lo, hi)
    power = _span(ev.gpu_power or [0.0], lo, hi)
    mem = _span(ev.gpu_mem or [0.0], lo, hi)
    return [
        f"util {_range(*util, g, '%')}",
        _range(*temp, g, g.degree),
        _range(*power, g, " W"),
        f"mem {_gib_range(mem[0], mem[1], g)} GiB",
    ]


def _health_counts(health: Sequence[int], lo: int, hi: int) -> tuple[int, int]:
    part = health[lo:hi]
    return part.count(1), part.count(2)


def _cells(health: Sequence[int], lo: int, hi: int, room: int, st: Styler, g: Glyphs) -> str:
    """One glyph per GPU, coloured by health; runs of equal health share one SGR span."""
    names = ("ok", "warn", "crit")
    chars = (g.gpu_ok, g.gpu_warn, g.gpu_crit)
    shown = health[lo : lo + min(hi - lo, room)]
    out: list[str] = []
    i = 0
    while i < len(shown):
        h = min(2, max(0, shown[i]))
        j = i
        while j < len(shown) and shown[j] == shown[i]:
            j += 1
        out.append(st.paint(names[h], chars[h] * (j - i)))
        i = j
    if hi - lo > room:
        out.append(g.ellipsis)
    return "".join(out)


def _join_fitting(
    head: str,
    head_cells: int,
    parts: Sequence[str],
    width: int,
    g: Glyphs,
    st: Styler,
    first: str = "  ",
) -> str:
    """head + as many whole figure parts as fit in `width` cells."""
    line, used = head, head_cells
    for k, part in enumerate(parts):
        sep = first if k == 0 else g.sep
        add = cell_len(sep) + cell_len(part)
        if used + add > width:
            break
        line += (sep if sep == "  " else st.paint("sep", sep)) + part
        used += add
    return line


def gpu_grid(
    ev: Event,
    config: RunConfig,
    hosts: Sequence[str],
    width: int,
    max_lines: int,
    st: Styler,
    g: Glyphs,
) -> list[str]:
    """The GPU status grid: a cluster line, then one line per node, the rest summarised.

    Fits `width` cells and at most `max_lines` lines: fewer nodes are drawn in full when the
    terminal is short, and the cluster line alone when it is very short.
    """
    if max_lines <= 0 or width <= 0 or not ev.gpu_health:
        return []
    health = ev.gpu_health
    n, per = len(health), max(1, config.gpus_per_node)
    nodes = (n + per - 1) // per
    warn, crit = _health_counts(health, 0, n)
    summary = [f"{config.nodes:,} nodes", *_figures(ev, 0, n, g), f"{warn} warn", f"{crit} crit"]
    title = fit(f"GPUs {n:,}{g.times} {clean_name(config.gpu_short)}", width, g.ellipsis)
    lines = [_join_fitting(st.paint("label", title), cell_len(title), summary, width, g, st, g.sep)]
    if max_lines == 1:
        return lines
    full = min(nodes, MAX_NODES_FULL, max_lines - 1)
    if full < nodes:
        full = max(0, min(full, max_lines - 2))
    name_w = min(20, max((cell_len(h) for h in hosts[:full]), default=0))
    for node in range(full):
        lo, hi = node * per, min(n, node * per + per)
        name = fit(hosts[node] if node < len(hosts) else f"node{node}", name_w, g.ellipsis)
        name = name + " " * (name_w - cell_len(name))
        room = max(1, width - name_w - 2)
        cells = _cells(health, lo, hi, room, st, g)
        head = st.paint("host", name) + "  " + cells
        head_cells = (
            name_w + 2 + min(hi - lo, room) + (cell_len(g.ellipsis) if hi - lo > room else 0)
        )
        if head_cells > width:
            lines.append(fit_styled(head, width, st))
            continue
        lines.append(_join_fitting(head, head_cells, _figures(ev, lo, hi, g), width, g, st))
    if full < nodes:
        lo = full * per
        warn, crit = _health_counts(health, lo, n)
        more = fit(f"{g.ellipsis} {nodes - full:,} more nodes", width, g.ellipsis)
        util, temp = _figures(ev, lo, n, g)[:2]
        parts = [util, temp, f"{warn} warn", f"{crit} crit"]
        lines.append(
            _join_fitting(st.paint("key", more), cell_len(more), parts, width, g, st, g.sep)
        )
    return lines


def eval_message(ev: Event, g: Glyphs) -> str:
    """`step 1,500 | epoch 1 | train loss 2.3456 | val loss 2.4567 | val ppl 11.67 | …`."""
    val_loss = ev.val_loss or 0.0
    return " | ".join(
        (
            f"step {ev.step or 0:,}",
            f"epoch {ev.epoch or 0}",
            f"train loss {ev.loss or 0.0:.4f}",
            f"val loss {val_loss:.4f}",
            f"val ppl {fmt.ppl(val_loss, ev.val_ppl or 1.0)}",
            f"patience {ev.patience or 0}/{ev.patience_limit or 0}",
            f"{ev.elapsed or 0.0:.1f}s",
        )
    )


def checkpoint_message(ev: Event) -> str:
    """`Saved checkpoint checkpoint-1500 (112.42 GB) in 4.2s`."""
    path = clean_name(ev.path or "checkpoint")
    return (
        f"Saved checkpoint {path} ({fmt.gigabytes(ev.size_bytes or 0)}) in {ev.elapsed or 0.0:.1f}s"
    )


def saved_message(ev: Event, st: Styler) -> str:
    """`Saved: model-00001-of-00004.safetensors (4.98 GB)` for a shard or companion file."""
    size = ev.size_bytes or 0
    text = fmt.gigabytes(size) if ev.kind == "shard" else fmt.size(size)
    return f"{st.paint('saved', 'Saved:')} {st.paint('path', clean_name(ev.path or ''))} ({text})"


def summary_box(ev: Event, config: RunConfig, color: bool, g: Glyphs) -> list[str]:
    """The end-of-run summary table, values straight from the trace's summary row."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    loss = ev.loss or 0.0
    rows = (
        ("Model", clean_name(config.model)),
        ("Total time", fmt.duration(ev.elapsed or 0.0)),
        ("Epochs", f"{ev.epoch or 0:,}"),
        ("Steps", f"{ev.step or 0:,}"),
        ("Final loss", f"{loss:.4f}"),
        ("Final PPL", fmt.ppl(loss, ev.ppl or 1.0)),
        ("Avg GPU util", f"{ev.avg_gpu_util or 0.0:.1f}%"),
        ("Peak memory", f"{(ev.peak_mem_mib or 0.0) / 1024:.1f} GiB"),
        ("Output", clean_name(ev.path or "")),
        ("Total size", fmt.gigabytes(ev.size_bytes or 0)),
    )
    table = Table(
        title="Training summary",
        box=getattr(box, g.box),
        show_header=False,
        padding=(0, 1),
        title_style="bold" if color else "",
    )
    table.add_column(style="dim" if color else "")
    table.add_column(style="bold" if color else "")
    for key, value in rows:
        table.add_row(Text(key), Text(value))
    console = Console(
        file=io.StringIO(),
        width=SUMMARY_WIDTH,
        force_terminal=color,
        color_system="standard" if color else None,
        legacy_windows=False,
        _environ={},
        no_color=not color,
    )
    with console.capture() as cap:
        console.print(table)
    return [line.rstrip() if not color else line for line in cap.get().splitlines()]
