"""The palette (semantic names -> rich styles, cached as SGR strings) and the glyph sets.

Views ask for a style by meaning ("warning", "bar_done"), never by colour. Each style is turned
into its SGR prefix/suffix once, through rich, so the per-frame code only concatenates strings.
With colour off every prefix and suffix is empty, so no escape byte can come out of a view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from rich.color import ColorSystem
from rich.style import Style

# Semantic name -> rich style definition. A style module may pass its own palette to Styler.
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
    "source": "cyan",
    "sep": "dim",
    "label": "bold",
    "key": "dim",
    "value": "bold",
    "number": "cyan",
    "bar_done": "green",
    "bar_todo": "bright_black",
    "bar_op": "magenta",
    "bar_export": "blue",
    "host": "bold cyan",
    "ok": "green",
    "warn": "yellow",
    "crit": "bold red",
    "saved": "green",
    "path": "bold",
    "success": "bold green",
    "transition": "bold cyan",
    "eval": "bold magenta",
}

_SENTINEL: Final = "\x00"


class Styler:
    """Turns semantic style names into cached SGR prefix/suffix pairs (empty when colour is off)."""

    def __init__(self, color: bool, palette: dict[str, str] | None = None) -> None:
        self.color = color
        self._codes: dict[str, tuple[str, str]] = {}
        for name, definition in (palette or PALETTE).items():
            if color:
                # Style.render around a sentinel gives exactly the prefix and the reset rich uses.
                rendered = Style.parse(definition).render(
                    _SENTINEL, color_system=ColorSystem.STANDARD
                )
                prefix, _, suffix = rendered.partition(_SENTINEL)
                self._codes[name] = (prefix, suffix)
            else:
                self._codes[name] = ("", "")

    def codes(self, name: str) -> tuple[str, str]:
        """The (prefix, suffix) SGR strings of a style; unknown names are unstyled."""
        return self._codes.get(name, ("", ""))

    def paint(self, name: str, text: str) -> str:
        """Wrap `text` in the style's SGR codes (no codes at all when colour is off)."""
        prefix, suffix = self._codes.get(name, ("", ""))
        if not prefix or not text:
            return text
        return prefix + text + suffix


@dataclass(frozen=True)
class Glyphs:
    """The characters views draw with; ASCII_GLYPHS for terminals without UTF-8."""

    check: str
    block: str  # full bar cell
    partials: str  # fractional bar cells, from 1/8 up to 7/8 (empty: no fractions)
    todo: str  # the unfilled part of a bar
    gpu_ok: str
    gpu_warn: str
    gpu_crit: str
    sep: str  # between figures on one line
    dash: str  # in ranges: 52–66
    ellipsis: str
    degree: str
    times: str
    box: str  # rich box name for the summary table: "ROUNDED" or "ASCII"


UNICODE_GLYPHS: Final = Glyphs(
    check="✔",
    block="█",
    partials="▏▎▍▌▋▊▉",
    todo=" ",
    gpu_ok="■",
    gpu_warn="▲",
    gpu_crit="✖",
    sep=" · ",
    dash="–",
    ellipsis="…",
    degree="°C",
    times="×",
    box="ROUNDED",
)

ASCII_GLYPHS: Final = Glyphs(
    check="+",
    block="#",
    partials="",
    todo=" ",
    gpu_ok="#",
    gpu_warn="!",
    gpu_crit="X",
    sep=" | ",
    dash="-",
    ellipsis="...",
    degree="C",
    times="x",
    box="ASCII",
)


def glyphs(ascii_only: bool) -> Glyphs:
    """The glyph set for a terminal that does (False) or does not (True) show UTF-8."""
    return ASCII_GLYPHS if ascii_only else UNICODE_GLYPHS
