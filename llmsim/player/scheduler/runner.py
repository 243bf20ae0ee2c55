"""The scheduler's loop: each beat at its deadline, frames to a sink, limits and coalescing.

When playback falls behind (a high speed, a slow terminal) a beat that only changes the live
region is skipped, since the next frame shows the newer state, and log lines are held and
written with the next frame (up to MAX_PENDING_LINES lines or MAX_PENDING_TEXT characters);
log lines are never dropped. Limits
(`exit_after` playlist seconds, `exit_after_runs` finished runs) and stop signals end the loop
cleanly with the held lines written. Ctrl-Z hands the sink the terminal's restoration, stops
the process with playlist time standing still, and has the sink draw again when continued.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

from llmsim.player.scheduler.clock import Clock
from llmsim.player.scheduler.playlist import Beat, text_size
from llmsim.player.scheduler.signals import Signals
from llmsim.player.sinks import Frame, Sink
from llmsim.player.views.segments import Line

MAX_PENDING_LINES: Final = 2_000  # log lines held back while behind before forcing a write
MAX_PENDING_TEXT: Final = 1 << 20  # characters of them (a line may be 64 KiB)


@dataclass
class Runner:
    """Plays a beat stream on a sink against a clock."""

    sink: Sink
    clock: Clock
    signals: Signals | None = None
    exit_after: float | None = None  # playlist seconds
    exit_after_runs: int | None = None
    on_frame: Callable[[float, float], None] | None = None  # (beat time, seconds late)
    frames: int = 0
    skipped: int = 0  # live-only beats coalesced into a later frame
    runs: int = 0  # runs finished
    notices: int = 0  # traces reported as unplayable
    _pending: list[Line] = field(default_factory=list)
    _pending_text: int = 0  # characters in _pending
    _markers: tuple[str, ...] = ()
    _last: Beat | None = None

    def run(self, beats: Iterator[Beat]) -> int:
        """Play until the stream ends or a limit is reached (0), or a stop signal (128+n)."""
        for beat in beats:
            if beat.notice is not None:
                self._flush()
                self.sink.notice(beat.notice)
                self.notices += 1
                continue
            if not self.clock.due(beat.at):
                self.sink.prepare(beat.view)
            status = self._wait(beat.at)
            if status is not None:
                return self._stop(status)
            self._handle(beat)
            if beat.run_end:
                self.runs += 1
                if self.exit_after_runs is not None and self.runs >= self.exit_after_runs:
                    return self._stop(0)
        return self._stop(0)

    @property
    def last_at(self) -> float:
        """Playlist time of the last beat taken (0 before the first)."""
        return self._last.at if self._last is not None else 0.0

    def _wait(self, at: float) -> int | None:
        """Sleep until `at`; a status to stop with (a signal, exit_after), else None."""
        while self.clock.sleep_until(at, self.exit_after):
            status = self._signalled()
            if status is not None:
                return status
        status = self._signalled()
        if status is not None:
            return status
        if self.exit_after is not None and self.clock.elapsed() >= self.exit_after:
            return 0
        return None

    def _signalled(self) -> int | None:
        """Act on the signals that came (suspend, continue, resize); a stop's status."""
        signals = self.signals
        if signals is None:
            return None
        if signals.stop_status is None and signals.suspend_asked:
            self.sink.suspend()
            with self.clock.paused():
                signals.suspend()
            signals.continued = True
        if signals.continued:
            signals.continued = signals.resized = False
            self.sink.resume()
        elif signals.resized:
            signals.resized = False
            self.sink.resize()
        return signals.stop_status

    def _handle(self, beat: Beat) -> None:
        behind = beat.next_at is not None and self.clock.due(beat.next_at)
        self._markers += beat.markers
        self._last = beat
        if not beat.logs and (not beat.live or behind):
            self.skipped += beat.live  # coalesced: the next frame shows the newer state
            return
        self._pending.extend(beat.logs)
        self._pending_text += text_size(beat.logs)
        held = len(self._pending) < MAX_PENDING_LINES and self._pending_text < MAX_PENDING_TEXT
        if behind and held:
            return  # hold the logs for the next frame: one write instead of many
        self._show(beat)

    def _show(self, beat: Beat) -> None:
        frame = Frame(beat.at, self._pending, beat.view, self._markers)
        self._pending, self._markers, self._pending_text = [], (), 0
        self.sink.show(frame)
        self.frames += 1
        if self.on_frame is not None:
            self.on_frame(beat.at, self.clock.behind(beat.at))

    def _flush(self) -> None:
        if (self._pending or self._markers) and self._last is not None:
            self._show(self._last)

    def _stop(self, status: int) -> int:
        self._flush()
        return status
