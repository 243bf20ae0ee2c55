"""The palette (semantic style names -> style definitions), the glyph sets and the heat scale.

Views name a style by meaning ("warning", "bar_done"), never by colour; the live region turns
names into SGR codes (llmsim.player.live.ansi). Dialects use the names listed in COMMON.md:
`time`, `origin`, `sep`, the level names and the `metric_*` names.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Final

# Semantic name -> style definition: attributes (bold, dim), a colour name (or #rrggbb, for a
# stack that prints 24-bit colour) and a background (on_<colour>).
PALETTE: Final[dict[str, str]] = {
    "time": "dim",
    "DEBUG": "dim",
    "INFO": "green",
    "WARNING": "bold yellow",
    "ERROR": "bold red",
    "CRITICAL": "bold red",
    "origin": "cyan",
    "metric_step": "red",
    "metric_loss": "green",
    "metric_grad": "yellow",
    "metric_mem": "cyan",
    "metric_tps": "blue",
    "metric_tflops": "cyan",
    "metric_mfu": "magenta",
    # torchtitan's own colours (torchtitan/tools/utils.py Color), kept in every layout
    "titan_red": "red",
    "titan_green": "green",
    "titan_orange": "#b43c00",
    "titan_turquoise": "#36eac3",
    "titan_blue": "blue",
    "titan_cyan": "cyan",
    "titan_magenta": "magenta",
    # wandb's name in its terminal lines (wandb/errors/term.py: click's blue, bold)
    "wandb": "bold blue",
    # tmux 3.4's defaults: status-style bg=green,fg=black; pane-active-border-style fg=green
    "tmux_status": "black on_green",
    "tmux_active": "green",
    "sep": "dim",
    "label": "bold",
    "key": "dim",
    "value": "bold",
    "title": "bold",
    "bar_done": "green",
    "bar_op": "magenta",
    "bar_export": "blue",
    "host": "bold cyan",
    "warn": "bold yellow",
    "crit": "bold red",
    "lost": "bold magenta",
    "heat0": "bright_black",  # idle
    "heat1": "blue",
    "heat2": "cyan",
    "heat3": "green",
    "heat4": "bright_green",  # busy
    "chart": "cyan",
    "chart_val": "bold magenta",
    "spark": "blue",
    "saved": "green",
    "path": "bold",
    "success": "bold green",
    "transition": "bold cyan",
}

# Utilisation (%) at which a GPU cell moves to the next heat colour, idle -> busy.
HEAT_STEPS: Final = (20.0, 50.0, 80.0, 95.0)
HEAT_STYLES: Final = ("heat0", "heat1", "heat2", "heat3", "heat4")
# Health code (llmsim.trace.vocab.Health) -> the style that overrides the heat colour.
HEALTH_STYLES: Final = (None, "warn", "crit", "lost")


def heat_level(util: float) -> int:
    """The heat level (0 idle .. 4 busy) of a GPU at `util` % utilisation: one step up per
    HEAT_STEPS reached."""
    return bisect.bisect_right(HEAT_STEPS, util)


def heat_style(util: float) -> str:
    """The heat colour of a GPU at `util` % utilisation."""
    return HEAT_STYLES[heat_level(util)]


@dataclass(frozen=True)
class Glyphs:
    """The characters views draw with; ASCII_GLYPHS for terminals without UTF-8."""

    check: str
    block: str  # full bar cell
    partials: str  # fractional bar cells, from 1/8 up to 7/8 (empty: no fractions)
    todo: str  # the unfilled part of a bar
    gpu: tuple[str, str, str, str]  # a GPU cell by health: ok, warn, critical, lost
    sep: str  # between figures on one line
    dash: str  # in ranges: 52–66
    ellipsis: str
    degree: str
    times: str
    box: str  # corners and lines of the summary box: ─│╭╮╰╯├┤┬┴┼
    spark: str  # sparkline levels, low to high
    braille: bool  # loss chart in braille dots (else in block rows)
    val_mark: str  # a validation point on the loss chart
    arrow: str  # from -> to
    shades: str  # a GPU cell by utilisation level, idle to busy, when colour is off


UNICODE_GLYPHS: Final = Glyphs(
    check="✔",
    block="█",
    partials="▏▎▍▌▋▊▉",
    todo=" ",
    gpu=("■", "▲", "✖", "✗"),
    sep=" · ",
    dash="–",
    ellipsis="…",
    degree="°C",
    times="×",
    box="─│╭╮╰╯├┤┬┴┼",
    spark="▁▂▃▄▅▆▇█",
    braille=True,
    val_mark="◆",
    arrow="→",
    shades="·░▒▓█",
)

ASCII_GLYPHS: Final = Glyphs(
    check="+",
    block="#",
    partials="",
    todo=" ",
    gpu=("#", "!", "X", "x"),
    sep=" | ",
    dash="-",
    ellipsis="...",
    degree="C",
    times="x",
    box="-|+++++++++",
    spark="_.-=+*#@",
    braille=False,
    val_mark="o",
    arrow="->",
    shades=".:-=#",
)


def glyphs(ascii_only: bool) -> Glyphs:
    """The glyph set for a terminal that does (False) or does not (True) show UTF-8."""
    return ASCII_GLYPHS if ascii_only else UNICODE_GLYPHS
