"""The playlist as a stream of beats: what to print and when, in playlist time.

`iter_show` opens traces one after another (looping, shuffling, then fresh runs), feeds their
events to a Renderer and yields a Beat per distinct event time: the log lines to print, whether
the live region changed, chapter markers, and when the next beat is due. The terminal and the
cast are fed from this one stream, so a cast holds exactly the bytes a terminal would get.

Stamps never go backwards: a run's t = 0 is stamped at the wall time it starts (or at its own
recorded start time, for casts), but never earlier than the last stamp of the run before plus
the pause between them. A run may start at a point (`StartAt`): the events before it update
the state at once, the last lines they print come out in the first beat, and the rest plays in
time from there.
"""

from __future__ import annotations

import itertools
import os
import random
import stat
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, NamedTuple, Protocol

from llmsim.bundled import SUFFIX, bundled_traces
from llmsim.errors import InputError
from llmsim.player.options import PlayOptions, StartAt
from llmsim.player.views.renderer import Renderer, RenderOptions, transition_lines
from llmsim.player.views.segments import Line, Row, View
from llmsim.player.views.tmux.feed import TmuxRenderer
from llmsim.player.views.tmux.screen import TmuxOptions, TmuxScreen
from llmsim.sanitize import MAX_MESSAGE, ascii_fold, clean, clean_name
from llmsim.trace import Event, TraceError

if TYPE_CHECKING:  # the reader (pyarrow) is loaded when the first trace is opened
    from llmsim.trace import TraceFile

PAUSE_AFTER_RUN: Final = 4.0  # trace seconds the finished summary stays before the next run
GAP_BEFORE_RUN: Final = 1.5  # trace seconds between "Starting new training run..." and the run
CATCH_UP_EVENTS: Final = 64  # printing events kept from before a start point (a screenful)
# Seconds of playback a frame gathers rows over: rows within this of a frame's first row
# (Megatron's 16 memory reports 1 ms apart) are drawn as one frame, at the last one's time, as
# no terminal shows more than ~60 frames a second. Counted in playback time, so a cast gets
# the same frames as the terminal.
FRAME: Final = 1 / 60
MAX_BEAT_LINES: Final = 1_000  # log lines in one beat; more rows at one time split the beat
# Characters of log text in one beat: a line may be 64 KiB (the reader's limit), so lines alone
# do not bound a beat's memory; more text within one frame splits the beat too.
MAX_BEAT_TEXT: Final = 1 << 20
# Kinds whose rows change what the live region shows (the others only print log lines).
LIVE_KINDS: Final = frozenset(
    {"phase", "progress", "step", "telemetry", "eval", "checkpoint", "incident", "summary"}
)
# Trace seconds of silence left before a run's first line of text: a real job prints nothing
# for its first 10-20 s (srun, imports, CUDA init), which on a demo screen reads as "broken".
# Short enough that with Python's start-up the first line is on screen within a second.
LEAD_IN: Final = 0.3
# Rows looked through for that first line before giving up (memory stays bounded): a launch
# typed at the shell (trace 2.4) is a few hundred rows the plain and classic layouts do not print.
LEAD_IN_EVENTS: Final = 4_096
SEPARATOR: Final = " · "  # between the model and the chapter in a marker
# `--start-at train`: a step line followed within this many trace seconds by more than
# BURST_LINES printed lines (Megatron's 16 per-rank memory reports after its first iteration)
# would scroll off at once; the run starts at the next step line instead. A few lines after it
# (Megatron's 3-line straggler report) leave it on screen.
BURST_WINDOW: Final = 1.0
BURST_LINES: Final = 8


class RunRenderer(Protocol):
    """What the scheduler asks of a run's renderer (views.renderer.Renderer for the plain and
    classic layouts, views.tmux.screen.TmuxRenderer for tmux's)."""

    base: float
    finished: bool

    @property
    def version(self) -> int:
        """Changes whenever what it draws may."""
        ...

    def feed(self, event: Event) -> list[Line]:
        """Update the state with one event; the lines it prints."""
        ...

    def update(self, ev: Event) -> None:
        """Change the state by one event (no lines)."""
        ...

    def lines(self, ev: Event) -> list[Line]:
        """The lines the event prints."""
        ...

    def prints(self, ev: Event) -> bool:
        """True if the event may print something."""
        ...

    def region(self, cols: int, rows: int) -> list[Row]:
        """What is drawn for a terminal of this size."""
        ...


class ShowError(InputError):
    """No trace of the playlist could be played (each was reported through a notice)."""


class Beat(NamedTuple):
    """Everything that happens at one playlist time.

    The region is drawn from `view` (None: the region is empty) and is only valid until the
    next beat is taken from the stream, because taking it feeds the renderer.
    """

    at: float  # playlist seconds since the show started
    logs: list[Line]  # lines to print above the live region (never dropped)
    live: bool  # the live region changed
    view: View | None
    next_at: float | None = None  # when the following beat is due (None: none known yet)
    markers: tuple[str, ...] = ()  # chapters starting here: "<model> · <label>"
    run_end: bool = False  # the run's last beat (its summary has been shown)
    notice: str | None = None  # a message for the user (a trace could not be played)


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Files as given; a directory stands for its *.parquet files, sorted by name.

    A directory without any, or one that cannot be listed, stays in the list as itself, so
    that opening it reports the folder by name ("holds no traces", "permission denied")
    instead of the playlist silently coming out empty. Nothing here opens a file: what each
    entry is (a FIFO, a device, a symlink loop) is the reader's to say.
    """
    out: list[Path] = []
    for path in paths:
        out.extend(_folder_traces(path) or [path])
    return out


def _folder_traces(path: Path) -> list[Path]:
    """The *.parquet entries of `path` (not hidden ones), if it is a folder that can be listed."""
    try:
        if not stat.S_ISDIR(os.stat(path).st_mode):
            return []
        with os.scandir(path) as entries:
            names = [e.name for e in entries if e.name.endswith(SUFFIX) and e.name[0] != "."]
    except OSError:
        return []
    return [path / name for name in sorted(names)]


def iter_show(
    paths: Sequence[Path],
    options: PlayOptions,
    render: RenderOptions,
    *,
    wall_start: float | None = None,
    fresh: Iterable[Path | None] | None = None,
) -> Generator[Beat, None, None]:
    """Yield the beats of the playlist: the traces in turn, looping unless `options.once`.

    With `fresh`, the traces play once and then every path `fresh` yields plays (None: the
    next one is not ready; an empty beat is yielded, so that the runner can act on signals
    and limits while it waits). No paths means the bundled runs. `timestamps == "wall"` with a `wall_start` (unix time of playlist
    time 0) stamps runs with the wall clock; otherwise with their config.start_time. ShowError
    when a whole cycle plays no trace to its end.
    """
    beats = _show(paths, options, render, wall_start, fresh)
    if options.idle_time_limit is None:
        return (yield from beats)
    visible = _prints if options.layout == "plain" else _draws
    try:
        yield from cap_idle(beats, options.idle_time_limit, visible)
    finally:
        beats.close()


def _prints(beat: Beat) -> bool:
    return bool(beat.logs)


def _draws(beat: Beat) -> bool:
    return bool(beat.logs) or beat.live


def cap_idle(
    beats: Iterator[Beat], limit: float, visible: Callable[[Beat], bool]
) -> Generator[Beat, None, None]:
    """The beats with every silence between two visible ones cut to `limit` playlist seconds,
    as asciinema's idle-time limit does: when things appear changes, never what. Beats that
    show nothing keep their place between the visible ones."""
    shift = 0.0
    last: float | None = None  # when the last visible beat now comes
    for beat in beats:
        at = beat.at - shift
        if visible(beat):
            if last is not None and at - last > limit:
                shift += at - last - limit
                at = last + limit
            last = at
        elif last is not None:
            at = min(at, last + limit)
        # When the next beat comes is only known once it is taken (which would feed the
        # renderer under this beat's view): at most the limit after the last visible one.
        bound = (last if last is not None else at) + limit
        later = None if beat.next_at is None else max(at, min(beat.next_at - shift, bound))
        yield beat._replace(at=at, next_at=later)


def _show(
    paths: Sequence[Path],
    options: PlayOptions,
    render: RenderOptions,
    wall_start: float | None,
    fresh: Iterable[Path | None] | None,
) -> Generator[Beat, None, None]:
    show = _Show(options, render, wall_start)
    files = expand_paths(paths) if paths else bundled_traces()
    while True:
        played = yield from show.cycle(files)
        if fresh is not None and not options.once:
            for path in fresh:
                if path is None:  # still being made: the runner looks at signals and limits
                    yield Beat(show.end or 0.0, [], False, None)
                    continue
                played = (yield from show.play(path)) or played
            if not played:
                raise ShowError("none of the traces could be played")
            return
        if not played:
            raise ShowError(
                "no playable trace" if not files else "none of the traces could be played"
            )
        if options.once:
            return


@dataclass
class _Show:
    """The playlist's state between runs."""

    options: PlayOptions
    render: RenderOptions
    wall_start: float | None
    end: float | None = None  # playlist time the previous run ended
    last_stamp: float | None = None  # unix time of the previous run's last stamp

    def __post_init__(self) -> None:
        self.rng = random.Random(self.options.seed)
        self.bad: set[Path] = set()
        self.session: TmuxScreen | None = None
        if self.options.layout == "tmux":  # one terminal for the whole show
            r = self.render
            self.session = TmuxScreen(TmuxOptions(r.tmux_status, r.ascii, r.utc))

    def renderer(self, trace: TraceFile) -> RunRenderer:
        """A renderer for a run of the show, in its layout."""
        if self.session is not None:
            return TmuxRenderer(trace.config, self.render, self.session)
        return Renderer(trace.config, self.render)

    def cycle(self, files: list[Path]) -> Generator[Beat, None, bool]:
        """One pass over the files; True if any played to its end."""
        order = list(files)
        if self.options.shuffle:
            self.rng.shuffle(order)
        played = False
        for path in order:
            played = (yield from self.play(path)) or played
        return played

    def play(self, path: Path) -> Generator[Beat, None, bool]:
        """The beats of one trace; False (after a notice) if it could not be played."""
        if path in self.bad:
            return False
        from llmsim.trace import open_trace

        wanted = self.options.start_at
        try:
            trace = open_trace(path)
            if wanted is not None and wanted.fraction is not None:
                _ = trace.duration  # read before the run is announced: it may be unreadable
        except TraceError as exc:
            return (yield from self._refuse(path, str(exc)))
        errors: list[str] = []
        events = _guard(trace.events(), errors)
        first = next(events, None)  # a run is announced only once it has a readable row
        if first is None:
            return (yield from self._refuse(path, errors[0] if errors else f"{path}: no events"))
        offset = yield from self._transition()
        run = _Run(trace, self.renderer(trace), self, offset)
        self.end = yield from run.beats(itertools.chain([first], events), errors)
        if errors:  # unreadable rows mid-way: stop this run, never play the file again
            self.bad.add(path)
            if not run.renderer.finished:
                yield Beat(self.end, [], True, None)  # clear the half-drawn region
            yield Beat(self.end, [], False, None, notice=clean(errors[0], MAX_MESSAGE))
            return False
        return True

    def _refuse(self, path: Path, message: str) -> Generator[Beat, None, bool]:
        self.bad.add(path)
        yield Beat(self.end or 0.0, [], False, None, notice=clean(message, MAX_MESSAGE))
        return False

    def _transition(self) -> Generator[Beat, None, float]:
        """ "Starting new training run..." after the previous run; the new run's offset."""
        if self.end is None:
            return 0.0
        speed = self.options.speed
        at = self.end + PAUSE_AFTER_RUN / speed
        start = at + GAP_BEFORE_RUN / speed
        if self.session is None:  # tmux's screen has nothing of llmsim's own between runs
            yield Beat(at, transition_lines(), True, None, start)
        return start


class _Run:
    """One trace's beats, from its start point on."""

    def __init__(self, trace: TraceFile, renderer: RunRenderer, show: _Show, offset: float) -> None:
        self.trace = trace
        self.renderer = renderer
        self.show = show
        self.offset = offset
        self.model = clean_name(trace.config.model)

    def marker(self, ev: Event) -> str | None:
        """`Llama-3-70B · Training` for a phase or incident row, else None."""
        if ev.kind == "phase":
            label = ev.text or ev.phase
        elif ev.kind == "incident":
            label = ev.text or ev.op or "incident"
        else:
            return None
        text = f"{self.model}{SEPARATOR}{clean_name(label)}"
        return ascii_fold(text) if self.show.render.ascii else text

    def beats(self, events: Iterator[Event], errors: list[str]) -> Generator[Beat, None, float]:
        """Beats of the run; events within one frame of playback merge into one beat, shown at
        the time of the last of them. Returns the run's end."""
        catch_up, markers, pending, events = self._seek(events, errors)
        if not catch_up and pending is not None:
            pending, events = self._lead_in(pending, events)
        stop = self.show.options.stop_at
        if stop is not None:  # the run ends before the first event at its stop point
            reached = _stop_test(stop, self.trace, self.renderer)
            events = itertools.takewhile(lambda ev: not reached(ev), events)
        start = pending.t if pending is not None else 0.0
        self._stamp_from(start, catch_up[0].t if catch_up else start)
        logs = [line for ev in catch_up for line in self.renderer.lines(ev)]
        speed, feed = self.show.options.speed, self.renderer.feed
        window = FRAME * speed  # trace seconds one frame of playback spans
        at, t = self.offset, start
        renderer = self.renderer
        # The classic region is drawn for every row of these kinds; tmux's screen when it
        # changes (its version moves with every line printed into the job's pane).
        kinds = LIVE_KINDS if isinstance(renderer, Renderer) else frozenset()
        while pending is not None:
            limit = pending.t + window
            live = bool(catch_up)
            catch_up = []
            drawn = renderer.version  # tmux's screen changes with every line printed
            size = text_size(logs)
            while pending is not None and pending.t <= limit:
                t = pending.t
                lines = feed(pending)
                logs.extend(lines)
                size += text_size(lines)
                live = live or pending.kind in kinds or renderer.version != drawn
                mark = self.marker(pending)
                if mark is not None:
                    markers.append(mark)
                pending = next(events, None)
                if kinds and renderer.finished:
                    # The classic and plain layouts end a run at its summary: what follows it
                    # (the engineer's shell, trace 2.4) is the tmux layout's only.
                    pending = None
                full = len(logs) >= MAX_BEAT_LINES or size >= MAX_BEAT_TEXT
                if full and pending is not None and pending.t <= limit:
                    # Rows within one frame without end: a beat of its own every so many
                    # lines (or so much text), so memory stays bounded and signals are looked
                    # at meanwhile.
                    at = self.offset + (t - start) / speed
                    yield Beat(at, logs, live, self.renderer, at, tuple(markers))
                    logs, markers, live, size = [], [], False, 0
            at = self.offset + (t - start) / speed
            next_at = self.offset + (pending.t - start) / speed if pending is not None else None
            end = pending is None and not errors
            yield Beat(at, logs, live, self.renderer, next_at, tuple(markers), end)
            logs, markers = [], []
        self.show.last_stamp = self.renderer.base + t
        return at

    def _seek(
        self, events: Iterator[Event], errors: list[str]
    ) -> tuple[list[Event], list[str], Event | None, Iterator[Event]]:
        """Skip to the start point: the printing events kept, the chapter it is in, the event
        at the start point and the events after it."""
        first = next(events, None)
        wanted = self.show.options.start_at
        if wanted is None or first is None:
            return [], [], first, events
        at = _point_test(wanted, self.trace, self.renderer)
        kept: deque[Event] = deque(maxlen=CATCH_UP_EVENTS)
        chapter: list[str] = []
        ev: Event | None = first
        while ev is not None and not at(ev):
            self.renderer.update(ev)
            if self.renderer.prints(ev):
                kept.append(ev)
            mark = self.marker(ev)
            if mark is not None:
                chapter = [mark]
            ev = next(events, None)
        if ev is not None and wanted.point == "train":
            ev, events = self._past_burst(ev, events, kept)
        if ev is None and not errors:  # no such point in this run: it plays from its start
            self.renderer = self.show.renderer(self.trace)
            events = _guard(self.trace.events(), errors)
            return [], [], next(events, None), events
        return list(kept), chapter, ev, events

    def _past_burst(
        self, ev: Event, events: Iterator[Event], kept: deque[Event]
    ) -> tuple[Event | None, Iterator[Event]]:
        """The first step line not followed at once by a burst of lines that would push it off
        the screen (Megatron's memory report after its first iteration): the step lines and the
        bursts skipped on the way update the state and are kept for the catch-up."""
        renderer = self.renderer
        step: Event | None = ev
        while step is not None:
            after: list[Event] = []
            nxt = next(events, None)
            while nxt is not None and nxt.t <= step.t + BURST_WINDOW:
                after.append(nxt)
                nxt = next(events, None)
            if sum(1 for a in after if renderer.prints(a)) <= BURST_LINES:
                return step, itertools.chain(after, [nxt] if nxt is not None else [], events)
            for skipped in [step, *after]:
                renderer.update(skipped)
                if renderer.prints(skipped):
                    kept.append(skipped)
            step = nxt
            while step is not None and not (step.kind == "step" and renderer.prints(step)):
                renderer.update(step)
                if renderer.prints(step):
                    kept.append(step)
                step = next(events, None)
        return None, iter(())

    def _lead_in(self, first: Event, events: Iterator[Event]) -> tuple[Event, Iterator[Event]]:
        """The run from `first` on, with the silence before its first printed line cut to
        LEAD_IN (the rows before it, which print nothing, move up to the new start). Like
        asciinema's idle-time limit, it changes when things appear, never what; the stamps
        shown are taken from the new start, so they still follow the clock."""
        quiet: list[Event] = []
        ev: Event | None = first
        while ev is not None and not self.renderer.prints(ev):
            quiet.append(ev)
            if len(quiet) > LEAD_IN_EVENTS:  # a run that shows nothing for long: leave it be
                return quiet[0], itertools.chain(quiet[1:], events)
            ev = next(events, None)
        if not quiet:
            return first, events
        rest = itertools.chain([ev] if ev is not None else [], events)
        if ev is None or ev.t - first.t <= LEAD_IN:
            return quiet[0], itertools.chain(quiet[1:], rest)
        begin = ev.t - LEAD_IN
        moved = [q._replace(t=max(q.t, begin)) for q in quiet]
        return moved[0], itertools.chain(moved[1:], rest)

    def _stamp_from(self, start: float, first_t: float) -> None:
        """Set the renderer's stamp base: the start shown now, never before the last stamp."""
        show = self.show
        if show.options.timestamps == "wall" and show.wall_start is not None:
            base = show.wall_start + self.offset - start
        else:
            base = self.trace.config.start_time
        if show.last_stamp is not None:
            base = max(base, show.last_stamp + PAUSE_AFTER_RUN + GAP_BEFORE_RUN - first_t)
        self.renderer.base = base


def text_size(lines: Iterable[Line]) -> int:
    """Characters of text in `lines` (what a beat's or a frame's memory grows with)."""
    return sum(len(text) for line in lines for text, _ in (*line.prefix, *line.body))


def _point_test(
    wanted: StartAt, trace: TraceFile, renderer: RunRenderer
) -> Callable[[Event], bool]:
    """The test an event passes when it is at the point `wanted` (to start or stop at)."""
    if wanted.point == "train":
        return lambda ev: ev.kind == "step" and renderer.prints(ev)
    if wanted.point is not None:
        point = wanted.point
        return lambda ev: ev.kind == "phase" and ev.phase == point
    seconds = wanted.seconds if wanted.seconds is not None else 0.0
    if wanted.fraction is not None:
        seconds = wanted.fraction * trace.duration
    return lambda ev: ev.t >= seconds


def _stop_test(wanted: StartAt, trace: TraceFile, renderer: RunRenderer) -> Callable[[Event], bool]:
    """The test an event passes when the run should stop before it: at the point's chapter
    (for "train": its "Training" chapter, or its first step shown if the chapter comes later)."""
    at = _point_test(wanted, trace, renderer)
    if wanted.point != "train":
        return at
    return lambda ev: (ev.kind == "phase" and ev.phase == "train") or at(ev)


def _guard(events: Iterator[Event], errors: list[str]) -> Iterator[Event]:
    """The events of a trace up to the first unreadable row group; its error goes to `errors`."""
    try:
        yield from events
    except TraceError as exc:
        errors.append(str(exc))
