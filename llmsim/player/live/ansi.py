"""Styled segments to terminal text: the one place a style name becomes an SGR code.

Each palette entry is parsed once into its SGR prefix; a segment is then prefix + text +
reset. With colour off every prefix is empty, so no escape byte can come out of a view.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from llmsim.player.views.palette import PALETTE
from llmsim.player.views.segments import Segment
from llmsim.sanitize import ascii_fold

RESET: Final = "\x1b[0m"
_ATTRIBUTES: Final = {"bold": 1, "dim": 2, "italic": 3, "underline": 4, "reverse": 7}
_COLORS: Final = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")


def sgr(definition: str) -> str:
    """The SGR prefix of a style definition such as "bold yellow" or "bright_black"."""
    codes: list[int] = []
    for word in definition.split():
        if word in _ATTRIBUTES:
            codes.append(_ATTRIBUTES[word])
        elif word in _COLORS:
            codes.append(30 + _COLORS.index(word))
        elif word.startswith("bright_") and word[7:] in _COLORS:
            codes.append(90 + _COLORS.index(word[7:]))
        elif word.startswith("on_") and word[3:] in _COLORS:
            codes.append(40 + _COLORS.index(word[3:]))
        elif len(word) == 7 and word[0] == "#":
            codes += [38, 2, int(word[1:3], 16), int(word[3:5], 16), int(word[5:7], 16)]
        else:
            raise ValueError(f"unknown style word {word!r} in {definition!r}")
    return f"\x1b[{';'.join(map(str, codes))}m" if codes else ""


class Styler:
    """Turns segments into text: SGR around styled ones (colour on), ASCII only if asked."""

    def __init__(self, color: bool, ascii_only: bool = False) -> None:
        self.color = color
        self.ascii = ascii_only
        self._prefix = {name: sgr(d) for name, d in PALETTE.items()} if color else {}

    def text(self, segments: Iterable[Segment]) -> str:
        """One row's text; unknown style names are left unstyled."""
        prefix = self._prefix
        out = []
        for text, style in segments:
            code = prefix.get(style) if style is not None else None
            out.append(code + text + RESET if code and text else text)
        line = "".join(out)
        return ascii_fold(line) if self.ascii else line
