"""A progress line on stderr while something slow is made (a GIF): one line, redrawn in place.

Only on a terminal: a script or a log gets nothing, as curl and pip do. The line is erased when
the work ends, however it ends, so the next message or prompt starts on a clean line.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Final

from llmsim.errors import PROG
from llmsim.sanitize import clean_name

ERASE: Final = "\r\x1b[K"  # to column 0, erase to the end of the row

Show = Callable[[int, int], None]  # (done, total)


def _tty(stream: object) -> bool:
    try:
        return os.isatty(stream.fileno())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False


@contextlib.contextmanager
def progress_line(name: str) -> Iterator[Show | None]:
    """Yield a `show(done, total)` that draws `llmsim: drawing NAME: 12/20 frames (60%)` on a
    terminal's stderr (None when stderr is not a terminal); erase it when the block ends."""
    stream = sys.stderr
    if stream is None or not _tty(stream):
        yield None
        return
    lock = threading.Lock()  # agg's output is read on a thread of its own
    drawn = [False]
    label = clean_name(name)

    def show(done: int, total: int) -> None:
        share = 100 * done // total if total > 0 else 0
        with lock, contextlib.suppress(OSError, ValueError):
            stream.write(f"{ERASE}{PROG}: drawing {label}: {done}/{total} frames ({share}%)")
            stream.flush()
            drawn[0] = True

    try:
        yield show
    finally:
        with lock, contextlib.suppress(OSError, ValueError):
            if drawn[0]:
                stream.write(ERASE)
                stream.flush()
