"""The scheduler on a fake clock: deadlines, coalescing, limits, stamps, start points, fresh runs."""

from __future__ import annotations

import calendar
import itertools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from playback import Recording, record
from synthetic import write_trace

from llmsim.bundled import BUNDLED_DIR
from llmsim.player import PlayOptions, StartAt, play
from llmsim.player.live.ansi import Styler
from llmsim.player.scheduler.clock import Clock
from llmsim.player.scheduler.playlist import (
    FRAME,
    GAP_BEFORE_RUN,
    LEAD_IN,
    PAUSE_AFTER_RUN,
    Beat,
    ShowError,
    iter_show,
)
from llmsim.player.scheduler.runner import Runner
from llmsim.player.sinks import Frame
from llmsim.player.sinks.terminal import TerminalSink
from llmsim.player.views.renderer import RenderOptions, text_line
from llmsim.player.views.segments import Line, Row, plain
from llmsim.trace import open_trace


class FakeClock:
    """Time moves only when the code sleeps (overshooting like an OS) or writes (slowly)."""

    def __init__(self, overshoot: float = 0.0) -> None:
        self.t = 1000.0
        self.overshoot = overshoot

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> bool:
        self.t += seconds + self.overshoot
        return False

    def clock(self) -> Clock:
        return Clock(self.now, self.sleep)


@dataclass
class StubView:
    """Stands in for a Renderer: the region shows a state number."""

    version: int = 0

    def region(self, cols: int, rows: int) -> list[Row]:
        return [((f"state {self.version}", None),)]


@dataclass
class Harness:
    """A runner on a fake clock writing to a file through the terminal sink."""

    path: Path
    fake: FakeClock
    tty: bool = True
    write_cost: float = 0.0
    late: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        self.sink = TerminalSink(self.fd, self.tty, Styler(False), lambda: (80, 24), print)
        self.runner = Runner(self.sink, self.fake.clock(), on_frame=self._wrote)

    def _wrote(self, at: float, behind: float) -> None:
        self.late.append(behind)
        self.fake.t += self.write_cost  # a slow terminal: every frame costs time

    def run(self, beats: Iterator[Beat]) -> int:
        self.sink.start()
        status = self.runner.run(beats)
        self.sink.close(0.0)
        os.close(self.fd)
        return status

    def text(self) -> str:
        return self.path.read_bytes().decode()


def _beats(view: StubView, n: int, spacing: float, log_every: int) -> Iterator[Beat]:
    """n beats `spacing` apart; the view's state is the beat's number when it is handed out."""
    for i in range(n):
        view.version = i
        logs = [_line(f"log {i}")] if i % log_every == 0 else []
        nxt = (i + 2) * spacing if i < n - 1 else None
        yield Beat((i + 1) * spacing, logs, True, view, nxt)


def _line(text: str) -> Line:
    return text_line((text, None))


def test_deadlines_are_absolute_and_errors_do_not_accumulate(tmp_path: Path) -> None:
    fake = FakeClock(overshoot=0.004)  # every sleep wakes 4 ms late
    h = Harness(tmp_path / "out", fake)
    assert h.run(_beats(StubView(), 500, 1.0, 1)) == 0
    assert len(h.late) == 500
    # Each write is late by one overshoot, never by the sum of earlier ones.
    assert max(h.late) < 0.0041
    assert fake.t - 1000.0 < 500 + 0.01


def test_behind_schedule_live_frames_are_coalesced_but_logs_never_dropped(tmp_path: Path) -> None:
    h = Harness(tmp_path / "out", FakeClock(), write_cost=0.35)  # each frame takes 0.35 s
    assert h.run(_beats(StubView(), 300, 0.05, 7)) == 0  # 20 beats a second, every 7th logs
    text = h.text()
    assert all(f"log {i}\r\n" in text for i in range(0, 300, 7))  # every log line made it
    assert h.runner.skipped > 0 and h.runner.frames < 300 / 2
    assert text.endswith("state 299\x1b[K\x1b[0m\r\n\x1b[?25h")  # the last state, drawn


def test_on_time_every_live_frame_is_drawn_and_only_changed_rows_are_rewritten(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path / "out", FakeClock())
    h.run(_beats(StubView(), 50, 0.1, 1000))
    assert h.runner.frames == 50 and h.runner.skipped == 0
    text = h.text()
    assert all(f"state {i}" in text for i in range(50))
    assert "\x1b[J" in text[:40] and text.count("\x1b[J") == 1  # one full draw, then rewrites
    assert text.count("\x1b[K") == 49


def test_exit_after_wakes_before_a_far_deadline(tmp_path: Path) -> None:
    fake = FakeClock()
    h = Harness(tmp_path / "out", fake)
    h.runner.exit_after = 5.0
    view = StubView()
    beats = [Beat(1.0, [_line("a")], True, view, 1000.0), Beat(1000.0, [_line("b")], True, view)]
    assert h.run(iter(beats)) == 0
    assert 5.0 <= fake.t - 1000.0 < 5.01
    assert "a\r\n" in h.text() and "b" not in h.text()


def _play_to_file(
    tmp_path: Path, paths: list[Path], options: PlayOptions, **kwargs: object
) -> tuple[int, str]:
    out = tmp_path / "out.txt"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    fake = FakeClock()
    try:
        status = play(paths, options, fd=fd, clock=fake.clock(), report=print, **kwargs)  # type: ignore[arg-type]
    finally:
        os.close(fd)
    return status, out.read_text("utf-8")


def test_exit_after_runs_stops_after_that_many_runs(tmp_path: Path, synthetic_trace: Path) -> None:
    options = PlayOptions(speed=100, exit_after_runs=3, color="never")
    status, out = _play_to_file(tmp_path, [synthetic_trace], options)
    assert status == 0
    assert out.count("Training completed successfully!") == 3
    assert out.count("Starting new training run...") == 2


def test_fresh_runs_play_after_the_named_ones(tmp_path: Path, synthetic_trace: Path) -> None:
    fresh = [write_trace(tmp_path / f"fresh{i}.parquet", model=f"Fresh-{i}B") for i in range(2)]
    bad = tmp_path / "bad.parquet"
    bad.write_text("not a trace")
    messages: list[str] = []
    out_path = tmp_path / "out.txt"
    fd = os.open(out_path, os.O_WRONLY | os.O_CREAT)
    options = PlayOptions(speed=1000, color="never")
    status = play(
        [synthetic_trace],
        options,
        fresh=iter([fresh[0], bad, fresh[1]]),
        fd=fd,
        clock=FakeClock().clock(),
        report=messages.append,
    )
    os.close(fd)
    out = out_path.read_text("utf-8")
    assert status == 1  # the fresh runs ran out: done, one of them skipped
    assert out.count("Training completed successfully!") == 3  # the named run once, two fresh
    assert out.index("Llama-3.2-1B") < out.index("Fresh-0B") < out.index("Fresh-1B")
    assert len(messages) == 1 and "bad.parquet" in messages[0]


_STAMPS = (
    (re.compile(r"(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)"), (0, 1, 2)),
    (re.compile(r"(\d\d)/(\d\d)/(\d{4}) (\d\d):(\d\d):(\d\d)"), (2, 0, 1)),
)
_GLOG = re.compile(r"^(?:\[rank\d+\]:)?\[?[IWEF](\d\d)(\d\d) (\d\d):(\d\d):(\d\d)")


def _stamp(line: str, year: int) -> float | None:
    """The unix time a log line is stamped with (UTC), in any of the stacks' formats."""
    for pattern, (y, m, d) in _STAMPS:
        match = pattern.search(line)
        if match:
            g = match.groups()
            hh, mi, ss = map(int, g[3:6])
            return float(calendar.timegm((int(g[y]), int(g[m]), int(g[d]), hh, mi, ss, 0, 0, 0)))
    match = _GLOG.match(line)
    if match:
        mo, day, hh, mi, ss = map(int, match.groups())
        return float(calendar.timegm((year, mo, day, hh, mi, ss, 0, 0, 0)))
    return None


@pytest.mark.parametrize("timestamps", ["wall", "trace"])
def test_stamps_never_go_backwards(tmp_path: Path, synthetic_trace: Path, timestamps: str) -> None:
    other = write_trace(tmp_path / "megatron.parquet", stack="megatron", model="Other-8B")
    options = PlayOptions(
        speed=50,
        exit_after_runs=6,
        color="never",
        timestamps=timestamps,  # type: ignore[arg-type]
    )
    wall = 1_800_000_000.0  # 2027-01-15: after both traces' own start times
    status, out = _play_to_file(
        tmp_path, [synthetic_trace, other], options, wall_clock=lambda: wall
    )
    assert status == 0 and out.count("Training completed successfully!") == 6
    stamps = [
        s
        for line in out.splitlines()
        if (s := _stamp(line, 2027 if timestamps == "wall" else 2026))
    ]
    assert len(stamps) > 6 * 15
    drops = [(a, b) for a, b in itertools.pairwise(stamps) if b < a]
    assert not drops, drops[:3]
    # At 50x the stamps run ahead of the wall clock: six runs of ~81 s each, plus pauses.
    run = open_trace(synthetic_trace).duration
    assert stamps[-1] - stamps[0] >= 5 * (run + PAUSE_AFTER_RUN + GAP_BEFORE_RUN)


def test_start_at_train_shows_steps_at_once_and_ends_as_a_full_play(synthetic_trace: Path) -> None:
    full = record([synthetic_trace], 100, 30)
    early: list[str] = []

    def note(rec: Recording, frame: Frame) -> None:
        if frame.at < 1.0:
            early.append(rec.text())

    started = record([synthetic_trace], 100, 30, start_at=StartAt(point="train"), on_frame=note)
    assert early and "{'loss': " in early[0]  # a step line in the very first frame
    assert "Loading checkpoint shards: 100%" in early[0]  # the set-up logs already printed
    assert re.search(r"Training +\d+%\|", early[0])  # and the training bars drawn
    assert started.text() == full.text()
    assert started.markers[0][1] == "Llama-3.2-1B · Training"


def _start(paths: list[Path], start: StartAt) -> tuple[list[Beat], str]:
    """The beats of a run started at `start`, and its live region as the first beat drew it."""
    options = PlayOptions(once=True, start_at=start, timestamps="trace")
    beats = iter_show(paths, options, RenderOptions())
    first = next(beats)
    region = "".join(t for row in first.view.region(120, 40) for t, _ in row) if first.view else ""
    return [first, *beats], region


@pytest.mark.parametrize(
    ("start", "first_text"),
    [
        (StartAt(point="eval"), "Evaluating"),
        (StartAt(point="checkpoint"), "Saving checkpoint"),
        (StartAt(point="export"), "Merging weights"),
        (StartAt(fraction=0.5), None),
        (StartAt(seconds=30.0), None),
    ],
)
def test_start_points(synthetic_trace: Path, start: StartAt, first_text: str | None) -> None:
    beats, region = _start([synthetic_trace], start)
    trace = open_trace(synthetic_trace)
    events = list(trace.events())
    if start.point is not None:
        at = next(ev.t for ev in events if ev.kind == "phase" and ev.phase == start.point)
    else:
        wanted = start.seconds if start.seconds is not None else trace.duration / 2
        at = next(ev.t for ev in events if ev.t >= wanted)
    # The run's clock starts at the point: the last beat is the rest of the run, in time.
    assert beats[0].at == 0.0
    assert abs(beats[-1].at - (events[-1].t - at)) < 1e-9
    if first_text is not None:
        assert first_text in region


def test_a_run_without_the_point_plays_from_its_start(tmp_path: Path) -> None:
    path = write_trace(tmp_path / "run.parquet")
    beats, _ = _start([path], StartAt(seconds=10_000.0))
    assert beats[-1].at == open_trace(path).duration  # all of it, from t = 0


def test_no_playable_trace_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_text("nope")
    beats = iter_show([bad], PlayOptions(once=True), RenderOptions())
    assert next(beats).notice is not None
    with pytest.raises(ShowError):
        next(beats)


def _late(tmp_path: Path, trace: Path, silence: float) -> Path:
    """`trace` with everything after its first row (the Initialization phase) `silence` later."""
    table = pq.read_table(trace)
    assert table.column("kind")[0].as_py() == "phase"
    t = table.column("t").to_numpy().copy()
    t[1:] += silence
    path = tmp_path / "late.parquet"
    pq.write_table(table.set_column(0, "t", pa.array(t)), path)
    return path


def _log_beats(path: Path, **kw: Any) -> list[tuple[float, list[str]]]:
    options = PlayOptions(once=True, **kw)
    return [
        (beat.at, [plain((*line.prefix, *line.body)) for line in beat.logs])
        for beat in iter_show([path], options, RenderOptions(), wall_start=1_800_000_000.0)
        if beat.logs
    ]


def test_silence_before_the_first_visible_row_is_cut(tmp_path: Path, synthetic_trace: Path) -> None:
    before = _log_beats(synthetic_trace, timestamps="trace")
    after = _log_beats(_late(tmp_path, synthetic_trace, 30.0), timestamps="trace")
    assert before[0][0] <= LEAD_IN + 1e-9  # the synthetic run shows something at once
    assert after[0][0] <= LEAD_IN + 1e-9  # ... and so does the late one: its 30 s are cut
    # From there on it plays in time, and prints the same lines.
    gaps = [round(b[0] - a[0], 6) for a, b in itertools.pairwise(before)]
    assert [round(b[0] - a[0], 6) for a, b in itertools.pairwise(after)] == gaps
    assert len(after) == len(before)


def test_after_a_cut_lead_in_wall_stamps_still_follow_the_clock(
    tmp_path: Path, synthetic_trace: Path
) -> None:
    beats = _log_beats(_late(tmp_path, synthetic_trace, 30.0), timestamps="wall")
    stamped = [(at, s) for at, lines in beats for line in lines if (s := _stamp(line, 2027))]
    assert len(stamped) > 10
    for at, stamp in stamped:
        assert abs(stamp - (1_800_000_000.0 + at)) < 1.5, (at, stamp)


@pytest.mark.parametrize("speed", [1.0, 20.0])
def test_rows_within_one_frame_are_drawn_as_one(speed: float) -> None:
    path = BUNDLED_DIR / "llama-3-70b-pretrain.parquet"  # 16 ranks report memory 1 ms apart
    events = list(open_trace(path).events())
    assert any(0 < b.t - a.t < 0.002 for a, b in itertools.pairwise(events))
    options = PlayOptions(once=True, speed=speed, timestamps="trace")
    beats = list(iter_show([path], options, RenderOptions()))
    # A window of rows opens at its first row and is drawn at its last: frames may come closer
    # than FRAME in pairs, never three in one FRAME.
    assert min(c.at - a.at for a, c in zip(beats, beats[2:], strict=False)) > FRAME
    # Every row was fed: the lines printed are those of a play that draws every row.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("llmsim.player.scheduler.playlist.FRAME", 0.0)
        every = list(iter_show([path], options, RenderOptions()))
    assert len(beats) < len(every)
    assert sum(len(b.logs) for b in beats) == sum(len(b.logs) for b in every) > 0
    assert beats[-1].at == every[-1].at  # the last row is shown at its own time
