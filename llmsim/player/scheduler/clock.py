"""Absolute-deadline scheduling: every beat is due at start + at, so errors never accumulate.

Like asciinema's player, time is measured from one monotonic start; a late beat does not push
the next one later. Time and sleeping are injected callables so tests drive a fake clock, and
a cast is made on a virtual clock whose sleeps only move its own time forward.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# A sleep that may return early (a signal woke it); returns True if it was woken.
Sleeper = Callable[[float], bool]


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
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
            if remaining <= 0:
                return False
            if self._sleep(remaining):
                return True
