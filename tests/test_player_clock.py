"""Scheduling with a fake clock: absolute deadlines, coalesced live frames, logs never dropped."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

from llmsim.player import PlayOptions, RenderOptions, iter_show
from llmsim.player.clock import Clock
from llmsim.player.show import Beat
from llmsim.player.terminal import Signals, TerminalSink
from llmsim.trace import open_trace


class FakeClock:
    """Time moves only when the code sleeps (overshooting like an OS) or writes (slowly)."""

    def __init__(self, overshoot: float = 0.0) -> None:
        self.t = 1000.0
        self.overshoot = overshoot
        self.sleeps = 0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> bool:
        self.sleeps += 1
        self.t += seconds + self.overshoot
        return False


class StubRenderer:
    """Stands in for a Renderer: the region shows a state number."""

    def __init__(self) -> None:
        self.state = 0

    def live(self, width: int, height: int) -> list[str]:
        return [f"state {self.state}"]


def _sink(
    tmp_path: Path, fake: FakeClock, tty: bool = True, write_cost: float = 0.0
) -> tuple[TerminalSink, list[tuple[float, float]], Path]:
    out = tmp_path / "out.txt"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    late: list[tuple[float, float]] = []

    def on_write(at: float, behind: float) -> None:
        late.append((at, behind))
        fake.t += write_cost  # a slow terminal: every frame costs time

    clock = Clock(now=fake.now, sleep=fake.sleep)
    sink = TerminalSink(fd, tty, clock, Signals(False), lambda: (80, 24), on_write)
    return sink, late, out


def _beats(stub: Any, n: int, spacing: float, log_every: int) -> list[Beat]:
    beats = []
    for i in range(n):
        at = (i + 1) * spacing
        logs = [f"log {i}"] if i % log_every == 0 else []
        beats.append(Beat(at, logs, True, None, (i + 2) * spacing if i < n - 1 else None, stub))
    return beats


def _advancing(beats: list[Beat], stub: StubRenderer) -> Any:
    # Like iter_show: the renderer's state is the latest beat's when that beat is handed out.
    for i, beat in enumerate(beats):
        stub.state = i
        yield beat


def test_deadlines_are_absolute_and_errors_do_not_accumulate(tmp_path: Path) -> None:
    fake = FakeClock(overshoot=0.004)  # every sleep wakes 4 ms late
    sink, late, _ = _sink(tmp_path, fake)
    stub = StubRenderer()
    beats = _beats(stub, 500, 1.0, 1)
    sink.start()
    assert sink.run(_advancing(beats, stub), None) == 0
    sink.close()
    assert len(late) == 500
    # Each write is late by one overshoot, never by the sum of earlier ones.
    assert max(behind for _, behind in late) < 0.0041
    assert late[-1][1] < 0.0041
    assert fake.t - 1000.0 < 500 + 0.01


def test_behind_schedule_live_frames_are_coalesced_but_logs_never_dropped(tmp_path: Path) -> None:
    fake = FakeClock()
    sink, _, out = _sink(tmp_path, fake, write_cost=0.35)  # each frame takes 0.35 s
    stub = StubRenderer()
    beats = _beats(stub, 300, 0.05, 7)  # 20 beats a second, every 7th prints a log line
    sink.start()
    assert sink.run(_advancing(beats, stub), None) == 0
    sink.close()
    text = out.read_bytes().decode()
    for i in range(0, 300, 7):
        assert f"log {i}\r\n" in text  # every log line made it
    assert sink.skipped > 0  # live-only frames were skipped while behind
    assert sink.frames < 300 / 2
    assert text.endswith("state 299\x1b[0m\r\n\x1b[?25h")  # the last state is drawn
    # No hang: the run took about as long as its frames, not one write per beat.
    assert fake.t - 1000.0 < 300 * 0.05 + sink.frames * 0.35 + 1


def test_on_time_every_live_frame_is_drawn(tmp_path: Path) -> None:
    fake = FakeClock()
    sink, _, out = _sink(tmp_path, fake)
    stub = StubRenderer()
    beats = _beats(stub, 50, 0.1, 1000)
    sink.start()
    sink.run(_advancing(beats, stub), None)
    sink.close()
    assert sink.frames == 50 and sink.skipped == 0
    text = out.read_bytes().decode()
    assert all(f"state {i}" in text for i in range(50))


def test_exit_after_wakes_before_a_far_deadline(tmp_path: Path) -> None:
    fake = FakeClock()
    sink, _, _ = _sink(tmp_path, fake)
    stub = StubRenderer()
    beats = [
        Beat(1.0, ["a"], True, None, 1000.0, stub),
        Beat(1000.0, ["b"], True, None, None, stub),
    ]
    sink.start()
    assert sink.run(iter(beats), 5.0) == 0
    sink.close()
    assert 5.0 <= fake.t - 1000.0 < 5.01


def test_high_speed_show_finishes_with_every_log_line(
    tmp_path: Path, synthetic_trace: Path
) -> None:
    fake = FakeClock()
    sink, _, out = _sink(tmp_path, fake, tty=False, write_cost=0.001)
    beats = iter_show([synthetic_trace], PlayOptions(speed=1e6, once=True), RenderOptions())
    expected = [
        line
        for beat in iter_show([synthetic_trace], PlayOptions(speed=1e6, once=True), RenderOptions())
        for line in beat.logs
    ]
    sink.start()
    assert sink.run(beats, None) == 0
    sink.close()
    assert out.read_bytes().decode().splitlines() == expected
    assert sink.frames < len(expected)  # batched into few writes while behind


def test_playlist_times_follow_speed_and_pause_between_runs(synthetic_trace: Path) -> None:
    options = PlayOptions(speed=10.0, once=True)
    beats = list(iter_show([synthetic_trace, synthetic_trace], options, RenderOptions()))
    ats = [b.at for b in beats]
    assert ats == sorted(ats)
    transition = [i for i, b in enumerate(beats) if "Starting new training run..." in b.logs]
    assert len(transition) == 1
    i = transition[0]
    assert beats[i].renderer is None  # the region is empty between runs
    end_first = beats[i - 1].at
    assert abs(beats[i].at - (end_first + 0.4)) < 1e-9  # 4 s pause at 10x
    # Within a run, playlist time is trace time / speed.
    last_t = max(ev.t for ev in open_trace(synthetic_trace).events())
    assert abs(end_first - last_t / 10.0) < 1e-9
    assert abs(beats[-1].at - (beats[i].at + 0.15 + last_t / 10.0)) < 1e-9
    for b, nxt in itertools.pairwise(beats):
        if b.next_at is not None:
            assert b.next_at == nxt.at
