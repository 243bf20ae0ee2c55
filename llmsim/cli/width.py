"""How wide text may be: the terminal's columns when stdout is a terminal (or COLUMNS says).

`list` and `info` fit their lines to it; a pipe or a file gets whole lines (None), so scripts
see the same text whatever terminal ran them.
"""

from __future__ import annotations

import os
import sys
from typing import Final

NARROWEST: Final = 40  # below this, text is laid out for 40 columns and the terminal wraps


def output_width() -> int | None:
    """Columns to fit printed text to, or None for no limit (stdout is not a terminal)."""
    env = os.environ.get("COLUMNS", "").strip()
    if env.isdigit() and int(env) > 0:
        return max(int(env), NARROWEST)
    try:
        fd = sys.stdout.fileno()
        if not os.isatty(fd):
            return None
        return max(os.get_terminal_size(fd).columns, NARROWEST)
    except (AttributeError, OSError, ValueError):
        return None
