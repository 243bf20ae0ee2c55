"""The asciicast file format (v2 and v3): header and event lines, written deterministically.

Spec: https://docs.asciinema.org/manual/asciicast/v2/ and .../v3/. v2 events carry absolute
times; v3 events carry the interval since the previous event and the header holds `term`.
Lines are built by hand (not json.dumps of a list) so times always print with 6 decimals and
the same trace gives the same bytes on every machine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

TERM_TYPE = "xterm-256color"


@dataclass(frozen=True)
class CastHeader:
    """What the first line of a cast says."""

    version: Literal[2, 3]
    cols: int
    rows: int
    timestamp: int | None = None
    idle_time_limit: float | None = None
    title: str | None = None

    def to_line(self) -> str:
        """The header as one JSON line (keys in a fixed order)."""
        head: dict[str, object] = {"version": self.version}
        if self.version == 2:
            head["width"] = self.cols
            head["height"] = self.rows
        else:
            head["term"] = {"cols": self.cols, "rows": self.rows, "type": TERM_TYPE}
        if self.timestamp is not None:
            head["timestamp"] = self.timestamp
        if self.idle_time_limit is not None:
            head["idle_time_limit"] = self.idle_time_limit
        if self.title is not None:
            head["title"] = self.title
        if self.version == 2:
            head["env"] = {"TERM": TERM_TYPE, "SHELL": "/bin/bash"}
        return _line_safe(json.dumps(head, ensure_ascii=False, allow_nan=False)) + "\n"


class CastEncoder:
    """Turns (time, code, data) events into cast lines; keeps the v3 interval state."""

    def __init__(self, version: Literal[2, 3]) -> None:
        self.version = version
        self._last = 0.0

    def line(self, at: float, code: Literal["o", "m"], data: str) -> str:
        """One event line. `at` is seconds since the recording started, never decreasing."""
        # Quantise to the microseconds the line will print, so v3 intervals add up exactly.
        at = round(max(at, self._last), 6)
        stamp = at if self.version == 2 else at - self._last
        self._last = at
        text = _line_safe(json.dumps(data, ensure_ascii=False))
        return f"[{stamp:.6f}, {json.dumps(code)}, {text}]\n"


_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _line_safe(text: str) -> str:
    """JSON with NEL, U+2028 and U+2029 escaped: valid either way, but readers that split
    lines the Unicode way (Python's str.splitlines, old JavaScript) would cut the line there
    (JSON itself escapes every other control character)."""
    for raw, escaped in _LINE_BREAKS.items():
        text = text.replace(raw, escaped)
    return text
