"""The GPU grid: a cluster header with a legend, a heat map of every GPU, rows for the nodes
worth seeing.

Each GPU cell is coloured by its utilisation (idle grey through busy green); a GPU whose
health code (llmsim.trace.vocab.Health) is warn, critical or lost gets that glyph and colour
instead. Forms, most detailed first, as the rows allow:

- every node on its own row (cells and figures) when all nodes fit;
- else a heat map of every GPU (nodes side by side, one cell per GPU), or of every node (one
  cell per node, its worst health or mean utilisation) when even that is too tall, followed by
  rows for the nodes worth seeing: a lost, critical or warning GPU, an incident's rank, the
  hottest GPU, then the first nodes;
- else only the rows of the nodes worth seeing, and how many more there are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from rich.cells import cell_len

from llmsim.player.views.palette import HEALTH_STYLES, HEAT_STYLES, Glyphs, heat_level, heat_style
from llmsim.player.views.segments import Row, Segment, crop, fit, join_fitting, pick_fitting
from llmsim.sanitize import clean_name
from llmsim.trace import Event, RunConfig
from llmsim.trace.vocab import Health

MAX_NAME: Final = 20  # cells of a host name column


@dataclass(frozen=True)
class Sample:
    """One telemetry row seen as a cluster: per-GPU lists and the node layout."""

    ev: Event
    per: int  # GPUs per node
    nodes: int
    hosts: tuple[str, ...]
    focus: frozenset[int]  # nodes an incident in progress is about
    color: bool = True  # colour off: a healthy GPU's cell is a shade of its utilisation

    @property
    def health(self) -> Sequence[int]:
        return self.ev.gpu_health or ()

    def span(self, node: int) -> tuple[int, int]:
        n = len(self.health)
        return node * self.per, min(n, node * self.per + self.per)

    def host(self, node: int) -> str:
        return self.hosts[node] if node < len(self.hosts) else f"node{node}"


def _style(health: int, util: float) -> str:
    return HEALTH_STYLES[health] or heat_style(util)


def _cells(s: Sample, lo: int, hi: int, g: Glyphs) -> list[Segment]:
    """One glyph per GPU; runs of the same style share one segment."""
    health, util, gpu, shades, color = s.health, s.ev.gpu_util or (), g.gpu, g.shades, s.color
    out: list[Segment] = []
    run: list[str] = []  # the glyphs of the current run of one style
    style: str | None = None
    for i in range(lo, hi):
        h = min(Health.LOST, max(Health.OK, health[i]))
        busy = util[i] if i < len(util) else 0.0
        cell = _style(h, busy)
        if cell != style and run:
            out.append(("".join(run), style))
            run = []
        style = cell
        run.append(gpu[h] if h or color else shades[heat_level(busy)])
    if run:
        out.append(("".join(run), style))
    return out


def _span(values: Sequence[float] | None, lo: int, hi: int) -> tuple[float, float]:
    part = (values or ())[lo:hi]
    return (min(part), max(part)) if part else (0.0, 0.0)


def _range(a: float, b: float, g: Glyphs, unit: str = "") -> str:
    if round(a) == round(b):
        return f"{a:.0f}{unit}"
    return f"{a:.0f}{g.dash}{b:.0f}{unit}"


def _gib(lo_mib: float, hi_mib: float, g: Glyphs) -> str:
    lo, hi = f"{lo_mib / 1024:.1f}", f"{hi_mib / 1024:.1f}"
    return f"{lo if lo == hi else f'{lo}{g.dash}{hi}'} GiB"


def figures(ev: Event, lo: int, hi: int, g: Glyphs) -> list[str]:
    """util, temperature, power and memory ranges of GPUs lo..hi-1."""
    return [
        f"util {_range(*_span(ev.gpu_util, lo, hi), g, '%')}",
        _range(*_span(ev.gpu_temp, lo, hi), g, g.degree),
        _range(*_span(ev.gpu_power, lo, hi), g, " W"),
        f"mem {_gib(*_span(ev.gpu_mem, lo, hi), g)}",
    ]


def plural(count: int, one: str, many: str | None = None) -> str:
    """`1 node`, `2 nodes`: the count with the right form of the noun."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def _health_words(health: Sequence[int]) -> Row:
    counts = [health.count(code) for code in (Health.WARN, Health.CRIT, Health.LOST)]
    words = (("warning", "warnings"), ("critical", "critical"), ("lost", "lost"))
    parts: list[Segment] = []
    for count, (one, many), style in zip(counts, words, HEALTH_STYLES[1:], strict=True):
        if count:
            if parts:
                parts.append((", ", None))
            parts.append((plural(count, one, many), style))
    return tuple(parts) or (("all healthy", "key"),)


def _legend(g: Glyphs, color: bool) -> Row:
    """Every colour (or shade) a cell can have: utilisation from idle to busy, then health."""
    if color:
        levels: Row = tuple((g.gpu[0], style) for style in HEAT_STYLES)
    else:
        levels = ((g.shades, None),)
    return (
        *levels,
        (f" idle{g.arrow}busy ", "key"),
        (g.gpu[1], "warn"),
        (" warn ", "key"),
        (g.gpu[2], "crit"),
        (" crit ", "key"),
        (g.gpu[3], "lost"),
        (" lost", "key"),
    )


def header(s: Sample, config: RunConfig, width: int, g: Glyphs) -> Row:
    """`GPUs 512× H100 · 64 nodes · 1 warning · util 96–100% · … · ■■■■■ idle→busy ▲ warn …`.

    Parts are kept by priority when the row is narrow: title, nodes, health, legend, then the
    figures.
    """
    n = len(s.health)
    title = f"GPUs {n:,}{g.times} {clean_name(config.gpu_short)}"
    util, temp, power, mem = figures(s.ev, 0, n, g)
    parts: list[tuple[int, Row]] = [
        (0, ((fit(title, width, g.ellipsis), "title"),)),
        (1, ((plural(config.nodes, "node"), None),)),
        (2, _health_words(s.health)),
        (4, ((util, None),)),
        (5, ((temp, None),)),
        (6, ((power, None),)),
        (7, ((mem, None),)),
        (3, _legend(g, s.color)),
    ]
    return pick_fitting(parts, width, (g.sep, "sep"))


def node_row(s: Sample, node: int, name_w: int, width: int, g: Glyphs) -> Row:
    """`hgx-h100-091  ■■■■■■■■  util 97–100% · 44–49°C · 561–651 W · mem 69.7–70.4 GiB`."""
    lo, hi = s.span(node)
    name = fit(s.host(node), name_w, g.ellipsis)
    head: Row = ((name.ljust(name_w), "host"), ("  ", None), *_cells(s, lo, hi, g))
    if name_w + 2 + (hi - lo) > width:
        return crop(head, width, g.ellipsis)
    parts = [((text, None),) for text in figures(s.ev, lo, hi, g)]
    return join_fitting(head, parts, width, (g.sep, "sep"), "  ")


def _node_health(s: Sample, node: int) -> int:
    lo, hi = s.span(node)
    return max(s.health[lo:hi], default=Health.OK)


def worth_seeing(s: Sample) -> list[int]:
    """Nodes by how much a viewer wants to see them: an incident's, lost, critical, warning,
    the hottest GPU's, then the rest in order."""
    worst = [_node_health(s, node) for node in range(s.nodes)]
    temps = s.ev.gpu_temp or ()
    hottest = max(range(len(temps)), key=temps.__getitem__) // s.per if temps else 0

    def rank(node: int) -> tuple[int, int]:
        if node in s.focus:
            return (1, node)
        if worst[node] >= Health.CRIT:
            return (5 - worst[node], node)  # lost 2, critical 3
        if worst[node] == Health.WARN:
            return (5, node)
        return (6 if node == hottest else 7, node)

    return sorted(range(s.nodes), key=rank)


def _heat_map(s: Sample, name_w: int, width: int, rows: int, g: Glyphs) -> list[Row] | None:
    """Every GPU one cell, nodes side by side, a space between nodes (None: too tall)."""
    room = width - name_w - 1
    per_row = room // (s.per + 1)
    if per_row < 1 or -(-s.nodes // per_row) > rows:
        return None
    out: list[Row] = []
    for first in range(0, s.nodes, per_row):
        row: list[Segment] = [(fit(s.host(first), name_w, g.ellipsis).ljust(name_w), "host")]
        for node in range(first, min(s.nodes, first + per_row)):
            row.append((" ", None))
            row.extend(_cells(s, *s.span(node), g))
        out.append(tuple(row))
    return out


def _node_map(s: Sample, name_w: int, width: int, rows: int, g: Glyphs) -> list[Row] | None:
    """Every node one cell (its worst health, else its mean utilisation), in groups of ten."""
    room = width - name_w
    per_row = (room // 11) * 10
    if per_row < 10 or -(-s.nodes // per_row) > rows:
        return None
    util = s.ev.gpu_util or ()
    out: list[Row] = []
    for first in range(0, s.nodes, per_row):
        row: list[Segment] = [(fit(s.host(first), name_w, g.ellipsis).ljust(name_w), "host")]
        for node in range(first, min(s.nodes, first + per_row)):
            if (node - first) % 10 == 0:
                row.append((" ", None))
            lo, hi = s.span(node)
            h = min(Health.LOST, _node_health(s, node))
            mean = sum(util[lo:hi]) / (hi - lo) if util[lo:hi] else 0.0
            glyph = g.gpu[h] if h or s.color else g.shades[heat_level(mean)]
            row.append((glyph, _style(h, mean)))
        out.append(tuple(row))
    return out


def _more(s: Sample, shown: Sequence[int], width: int, g: Glyphs) -> Row:
    hidden = [node for node in range(s.nodes) if node not in set(shown)]
    health = [h for node in hidden for h in s.health[slice(*s.span(node))]]
    text = f"{g.ellipsis} {plural(len(hidden), 'more node')}"
    util = [u for node in hidden for u in (s.ev.gpu_util or ())[slice(*s.span(node))]]
    parts: list[Row] = [_health_words(health)]
    if util:
        parts.append(((f"util {_range(min(util), max(util), g, '%')}", None),))
    return join_fitting(((fit(text, width, g.ellipsis), "key"),), parts, width, (g.sep, "sep"), " ")


def grid(s: Sample, config: RunConfig, width: int, rows: int, g: Glyphs) -> list[Row]:
    """The grid in at most `rows` rows of at most `width` cells (header first)."""
    if rows <= 0 or width <= 0 or not s.health:
        return []
    out = [header(s, config, width, g)]
    avail = rows - 1
    if avail <= 0:
        return out
    name_w = min(MAX_NAME, max(cell_len(h) for h in s.hosts) if s.hosts else 6)
    if s.nodes <= avail:
        return out + [node_row(s, node, name_w, width, g) for node in range(s.nodes)]
    # A heat map, if it leaves a row to name the node most worth seeing when one has trouble.
    need = 1 if s.focus or any(s.health) else 0
    heat = _heat_map(s, name_w, width, avail - need, g) or _node_map(
        s, name_w, width, avail - need, g
    )
    if heat is not None:
        out += heat
        chosen = sorted(worth_seeing(s)[: avail - len(heat)])
        return out + [node_row(s, node, name_w, width, g) for node in chosen]
    chosen = sorted(worth_seeing(s)[: avail - 1])
    out += [node_row(s, node, name_w, width, g) for node in chosen]
    return [*out, _more(s, chosen, width, g)]
