"""The playlist as a stream of beats: what to print and when, in playlist time.

`iter_show` opens traces one after another (looping, shuffling), feeds their events to a
Renderer and yields a Beat per distinct event time: the log lines to print, whether the live
region changed, the phase marker, and when the next beat is due. Both the terminal sink and the
cast exporter consume this stream, so a cast holds exactly the bytes a terminal would get.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import Final, NamedTuple

from llmsim.player.options import PlayOptions
from llmsim.player.renderer import Renderer, RenderOptions, transition_line
from llmsim.sanitize import ascii_fold, clean, clean_name
from llmsim.trace import Event, TraceError, open_trace

PAUSE_AFTER_RUN: Final = 4.0  # trace seconds the finished summary stays before the next run
GAP_BEFORE_RUN: Final = 1.5  # trace seconds between "Starting new training run..." and the run
# Kinds whose rows change what the live region shows (the others only print log lines).
LIVE_KINDS: Final = frozenset(
    {"phase", "progress", "step", "telemetry", "eval", "checkpoint", "summary"}
)


class ShowError(Exception):
    """No trace of the playlist could be played (each was reported through on_error)."""


class Beat(NamedTuple):
    """Everything that happens at one playlist time.

    The live region is drawn from `renderer` (None: the region is empty) and is only valid
    until the next beat is taken from the stream, because taking it feeds the renderer.
    """

    at: float  # playlist seconds since the show started
    logs: list[str]  # lines to print above the live region (never dropped)
    live: bool  # the live region changed
    marker: str | None  # phase label starting here (cast markers)
    next_at: float | None  # when the following beat is due (None: none known yet)
    renderer: Renderer | None
    ascii: bool = False  # a terminal without UTF-8: the region is folded to ASCII too

    def region(self, width: int, height: int) -> list[str]:
        """The live region after this beat, laid out for a terminal of this size."""
        if self.renderer is None:
            return []
        lines = self.renderer.live(width, height)
        return [ascii_fold(x) for x in lines] if self.ascii else lines


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Files as given; a directory stands for its *.parquet files, sorted by name.

    A directory without any stays in the list as itself, so that opening it reports the
    folder by name ("holds no traces") instead of the playlist silently coming out empty.
    """
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(path.glob("*.parquet")) or [path])
        else:
            out.append(path)
    return out


def iter_show(
    paths: Sequence[Path],
    options: PlayOptions,
    render: RenderOptions,
    *,
    wall_start: float | None = None,
    on_error: Callable[[str], None] | None = None,
) -> Generator[Beat, None, None]:
    """Yield the beats of the playlist: every trace in turn, forever unless `options.once`.

    With `options.timestamps == "wall"` and a `wall_start` (unix time of playlist time 0), a
    run's log stamps start at the wall time the run starts; otherwise at its config.start_time.
    A trace that cannot be read is reported once through `on_error` (one line, control
    characters made visible: a file name is data too) and skipped from then on; ShowError is
    raised when a whole cycle plays no trace to its end.
    """
    report_raw = on_error or (lambda message: None)

    def report(message: str) -> None:
        report_raw(clean(message))

    files = expand_paths(paths)
    rng = random.Random(options.seed)
    speed = options.speed
    bad: set[Path] = set()
    end: float | None = None  # playlist time the previous run ended
    while True:
        order = list(files)
        if options.shuffle:
            rng.shuffle(order)
        played = False
        for path in order:
            if path in bad:
                continue
            try:
                trace = open_trace(path)
            except TraceError as exc:
                bad.add(path)
                report(str(exc))
                continue
            errors: list[str] = []
            events = _guard(trace.events(), errors)
            first = next(events, None)  # a run is announced only once it has a readable row
            if first is None:
                bad.add(path)
                report(errors[0] if errors else f"{path}: the trace holds no events")
                continue
            offset = 0.0
            if end is not None:
                at = end + PAUSE_AFTER_RUN / speed
                line = transition_line(render)
                yield Beat(at, ["", line], True, None, at + GAP_BEFORE_RUN / speed, None)
                offset = at + GAP_BEFORE_RUN / speed
            base = None
            if options.timestamps == "wall" and wall_start is not None:
                base = wall_start + offset
            renderer = Renderer(trace.config, dataclasses.replace(render, time_base=base))
            end = yield from _run(itertools.chain([first], events), renderer, offset, speed)
            if errors:  # unreadable rows mid-way: stop this run, never play the file again
                bad.add(path)
                report(errors[0])
                if not renderer.finished:
                    yield Beat(end, [], True, None, None, None)  # clear the half-drawn region
            else:
                played = True
        if not played:
            raise ShowError(
                "no playable trace" if not files else "none of the traces could be played"
            )
        if options.once:
            return


def _guard(events: Iterator[Event], errors: list[str]) -> Iterator[Event]:
    """The events of a trace up to the first unreadable row group; its error goes to `errors`."""
    try:
        yield from events
    except TraceError as exc:
        errors.append(str(exc))


def _run(
    events: Iterator[Event], renderer: Renderer, offset: float, speed: float
) -> Generator[Beat, None, float]:
    """Beats of one run; events at the same time merge into one beat. Returns the end time."""
    feed = renderer.feed
    fold = renderer.options.ascii  # a terminal without UTF-8: nothing outside ASCII goes out
    pending: Event | None = next(events, None)
    at = offset
    while pending is not None:
        t = pending.t
        at = offset + t / speed
        logs: list[str] = []
        live = False
        marker: str | None = None
        while pending is not None and pending.t == t:
            logs.extend(feed(pending))
            kind = pending.kind
            if kind in LIVE_KINDS:
                live = True
                if kind == "phase":
                    marker = clean_name(pending.text or pending.phase)
            pending = next(events, None)
        next_at = offset + pending.t / speed if pending is not None else None
        if fold:
            logs = [ascii_fold(x) for x in logs]
            marker = ascii_fold(marker) if marker is not None else None
        yield Beat(at, logs, live, marker, next_at, renderer, fold)
    return at
