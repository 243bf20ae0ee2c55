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


@dataclass(frozen=True)
class Episode:
    """One GPU slowing the job from `first_step` to `last_step` (both included)."""

    kind: IncidentKind  # "straggler" or "thermal"
    gpu: int  # global rank of the culprit
    first_step: int
    last_step: int
    slowdown: float  # the job's step time grows by this fraction meanwhile
    clock_drop: float  # share of its SM clock the culprit loses
    heat: float  # degrees above its usual temperature (thermal)


def plan_slowdowns(
    rate: IncidentRate,
    gpus: int,
    first: int,
    last: int,
    log: int,
    step_s: float,
    rng: np.random.Generator,
) -> tuple[Episode, ...]:
    """Stragglers and thermal throttles inside steps first..last, aligned to log windows."""
    n = int(rng.poisson(EPISODES_PER_RUN[rate]))
    windows = (last - first + 1) // log
    out: list[Episode] = []
    for _ in range(n):
        span = max(1, round(float(rng.uniform(*EPISODE_SECONDS)) / step_s / log))
        if windows < span + 3:
            break
        start_w = int(rng.integers(2, windows - span))
        a = first + start_w * log
        b = a + span * log - 1
        if any(a <= e.last_step + log and e.first_step <= b + log for e in out):
            continue
        thermal = gpus == 1 or rng.random() < 0.5
        drop = float(rng.uniform(0.08, 0.3))
        out.append(
            Episode(
                kind="thermal" if thermal else "straggler",
                gpu=int(rng.integers(0, gpus)),
                first_step=a,
                last_step=b,
                slowdown=drop * float(rng.uniform(0.8, 1.0)),
                clock_drop=drop,
                heat=float(rng.uniform(20.0, 28.0)) if thermal else float(rng.uniform(0.0, 3.0)),
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
            (steps >= e.first_step) & (steps <= e.last_step), factor * (1 + e.slowdown), factor
        )
    return factor
