"""The run's episode schedule: what goes wrong when, decided once, with its consequences sized.

Each episode spans whole log windows (the stacks average step times over a log window, so an
episode that began mid-window would smear into steps it never touched). Stragglers and thermal
throttling slow every synchronous step while they last; loss spikes raise the gradient norm,
then the loss. Incidents that end the job (rank failures, restarts) will be added here too: the
train loop already runs a list of attempts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from llmsim.generator.plan.loss import Spike
from llmsim.trace.vocab import IncidentKind, IncidentRate

# Expected slowdown episodes (stragglers + throttles) per trace, and loss spikes per 1,000 steps.
EPISODES_PER_RUN: Final[dict[IncidentRate, float]] = {"none": 0.0, "rare": 0.6, "often": 2.5}
SPIKES_PER_KSTEP: Final[dict[IncidentRate, float]] = {"none": 0.0, "rare": 0.4, "often": 3.0}
EPISODE_SECONDS: Final = (60.0, 300.0)
HEATING_S: Final = 45.0  # a GPU whose cooling fails climbs to its slowdown temperature in ~this


@dataclass(frozen=True)
class Episode:
    """One GPU slowing the job from `throttle_step` to `last_step` (both included).

    A straggler is slow from `first_step`. A thermal episode starts when the GPU's cooling
    fails: it heats up through the first log windows (`first_step` to `throttle_step` - 1, at
    full clock, so at full speed) until it reaches its slowdown temperature; from then the
    driver lowers its clock to hold it there (`hold_c`), and the job waits for it.
    """

    kind: IncidentKind  # "straggler" or "thermal"
    gpu: int  # global rank of the culprit
    first_step: int
    last_step: int
    slowdown: float  # the job's step time grows by this fraction while the culprit is slow
    clock_drop: float  # share of its SM clock the culprit loses
    heat: float  # degrees above its usual temperature (a straggler's; thermal: see hold_c)
    throttle_step: int = 0  # first slow step (0: first_step)
    hold_c: float = 0.0  # thermal: the temperature its clock holds it at (its slowdown temp)

    @property
    def slow_from(self) -> int:
        """The first step the culprit holds the job back."""
        return self.throttle_step or self.first_step

    def slows(self, step: int) -> bool:
        """Whether the culprit holds the job back at `step`."""
        return self.slow_from <= step <= self.last_step


@dataclass(frozen=True)
class Pace:
    """What the episodes need of the run: its steps, log grid and how its time is spent."""

    first: int  # first step of the window
    last: int
    log: int  # log interval: episodes span whole log windows
    step_s: float
    compute_share: float  # share of a step spent computing (what a lower clock stretches)
    slowdown_c: float  # the GPU type's slowdown temperature (nvidia-smi -q)


def plan_slowdowns(
    rate: IncidentRate, gpus: int, pace: Pace, rng: np.random.Generator
) -> tuple[Episode, ...]:
    """Stragglers and thermal throttles inside the window's steps, aligned to log windows.

    A culprit whose SM clock drops by d computes 1 / (1 - d) times as long; the job's step
    grows by that over the share of the step spent computing.
    """
    n = int(rng.poisson(EPISODES_PER_RUN[rate]))
    windows = (pace.last - pace.first + 1) // pace.log
    heating = max(1, round(HEATING_S / pace.step_s / pace.log))  # log windows
    out: list[Episode] = []
    for _ in range(n):
        span = max(1, round(float(rng.uniform(*EPISODE_SECONDS)) / pace.step_s / pace.log))
        thermal = gpus == 1 or rng.random() < 0.5
        warm = heating if thermal else 0
        if windows < span + warm + 3:
            break
        start_w = int(rng.integers(2, windows - span - warm))
        a = pace.first + start_w * pace.log
        slow = a + warm * pace.log
        b = slow + span * pace.log - 1
        if any(a <= e.last_step + pace.log and e.first_step <= b + pace.log for e in out):
            continue
        drop = float(rng.uniform(0.08, 0.3))
        stretch = (1.0 / (1.0 - drop) - 1.0) * pace.compute_share
        out.append(
            Episode(
                kind="thermal" if thermal else "straggler",
                gpu=int(rng.integers(0, gpus)),
                first_step=a,
                last_step=b,
                slowdown=stretch,
                clock_drop=drop,
                heat=0.0 if thermal else float(rng.uniform(0.0, 3.0)),
                throttle_step=slow,
                hold_c=pace.slowdown_c + float(rng.uniform(-1.0, 1.5)) if thermal else 0.0,
            )
        )
    return tuple(sorted(out, key=lambda e: e.first_step))


def plan_spikes(
    rate: IncidentRate, first: int, last: int, rng: np.random.Generator
) -> tuple[Spike, ...]:
    """Loss spikes in steps first..last, at least 80 steps apart and not at the very edges."""
    lo, hi = first + 10, last - 30
    if hi <= lo:
        return ()
    n = int(rng.poisson(SPIKES_PER_KSTEP[rate] * (last - first + 1) / 1000.0))
    steps = np.sort(rng.choice(np.arange(lo, hi), size=min(n, hi - lo), replace=False))
    out: list[Spike] = []
    for s in steps:
        if out and s - out[-1].step < 80:
            continue
        amp = float(rng.uniform(0.15, 0.45))
        out.append(Spike(int(s), float(rng.uniform(2.5, 8.0)), amp, int(rng.integers(20, 51))))
    return tuple(out)


def spike_somewhere(
    first: int, last: int, spans: tuple[tuple[int, int], ...], rng: np.random.Generator
) -> tuple[Spike, ...]:
    """One spike clear of `spans` (steps run twice), for a run that must show one."""
    room = [
        s
        for s in range(first + 3, max(first + 3, last - 8))
        if not any(a - 1 <= s <= b + 1 for a, b in spans)
    ]
    if not room:
        return ()
    step = room[int(rng.integers(0, len(room)))]
    amp = float(rng.uniform(0.15, 0.45))
    return (Spike(step, float(rng.uniform(2.5, 8.0)), amp, int(rng.integers(20, 51))),)


def slowdown_at(episodes: tuple[Episode, ...], steps: np.ndarray) -> np.ndarray:
    """Per-step multiplier of the step time from the slowdown episodes."""
    factor = np.ones(len(steps))
    for e in episodes:
        factor = np.where(
            (steps >= e.slow_from) & (steps <= e.last_step), factor * (1 + e.slowdown), factor
        )
    return factor
