"""Absolute-deadline scheduling: every beat is due at start + at, so errors never accumulate.

Like asciinema's player, time is measured from one monotonic start; a late beat does not push
the next one later, and a pause (Ctrl-Z) moves the start instead. Time and sleeping are
injected callables so tests drive a fake clock, and a cast is made on a virtual clock whose
sleeps only move its own time forward.

Real sleeps are taken in chunks of at most MAX_SLEEP seconds, so no deadline is too far for
the OS (select() refuses timeouts beyond a few hundred million seconds); a virtual clock jumps
to its deadline at once; a deadline that is not a finite number (which option and trace bounds
rule out) ends the wait instead of spinning.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Final

MAX_SLEEP: Final = 3600.0  # seconds slept at once; a longer wait is several sleeps

# A sleep that may return early (a signal woke it); returns True if it was woken.
Sleeper = Callable[[float], bool]


def _sleep(seconds: float) -> bool:
    time.sleep(min(seconds, MAX_SLEEP))
    return False


class Clock:
    """Playlist time against a monotonic clock started once."""

    def __init__(self, now: Callable[[], float] = time.monotonic, sleep: Sleeper = _sleep) -> None:
        self._now = now
        self._sleep = sleep
        self._start = now()

    @classmethod
    def virtual(cls) -> Clock:
        """A clock that never waits: sleeping moves its time to the deadline (casts)."""
        now = [0.0]

        def advance(seconds: float) -> bool:
            now[0] += seconds
            return False

        return cls(lambda: now[0], advance)

    def restart(self) -> None:
        """Make playlist time 0 now."""
        self._start = self._now()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Playlist time stands still for the duration of the block (the process stopped)."""
        stopped = self._now()
        try:
            yield
        finally:
            self._start += self._now() - stopped

    def elapsed(self) -> float:
        """Playlist seconds since the start."""
        return self._now() - self._start

    def behind(self, at: float) -> float:
        """Seconds the clock is past the deadline of `at` (negative: still early)."""
        return self._now() - (self._start + at)

    def due(self, at: float) -> bool:
        """True if the beat at `at` is due now or overdue."""
        return self.behind(at) >= 0.0

    def sleep_until(self, at: float, limit: float | None = None) -> bool:
        """Sleep until the deadline of `at` (or the playlist time `limit`, if earlier).

        Returns True when the sleep was cut short by a wake-up (a signal) so the caller can
        handle it and call again; False once the deadline (or limit) is reached.
        """
        target = at if limit is None else min(at, limit)
        while True:
            remaining = self._start + target - self._now()
            if not remaining > 0:  # due, or not a number: nothing to wait for
                return False
            if self._sleep(remaining):  # a real sleeper sleeps at most MAX_SLEEP of it
                return True
