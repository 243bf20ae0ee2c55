"""The cluster monitor's lines (the run's own tooling, `tool` format): a GPU that runs hot or
slow, named with the numbers of the telemetry sample that shows it, and its recovery."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Final

import numpy as np
import numpy.typing as npt

from llmsim.generator.phases.rows import Rows
from llmsim.generator.phases.telemetry import Samples
from llmsim.generator.plan.make import RunPlan
from llmsim.generator.stacks.context import MONITOR, gpu_name


def episode_lines(
    plan: RunPlan,
    hosts: Sequence[str],
    s: Samples,
    steps: npt.NDArray[np.int64],
    t_end: npt.NDArray[np.float64],
) -> Rows:
    """A warning at the first sample inside each episode that shows it, a note at the first
    one after it."""
    rows = Rows()
    if len(s.t) == 0:
        return rows
    name = partial(gpu_name, hosts, plan.config.gpus_per_node)
    for e in plan.episodes:
        if e.last_step < steps[0] or e.first_step > steps[-1]:
            continue
        col = e.gpu
        a = int(np.searchsorted(steps, max(e.first_step, int(steps[0]))))
        b = int(np.searchsorted(steps, min(e.last_step, int(steps[-1]))))
        inside = np.flatnonzero((s.t >= t_end[a] - 1e-9) & (s.t <= t_end[b]))
        others = np.delete(s.clock[:, :], col, axis=1) if s.clock.shape[1] > 1 else s.clock
        if e.first_step >= steps[0] and len(inside):
            i = _alert_sample(e.kind, s, col, inside)
            ref = float(np.median(others[i])) if others.size else float(s.clock[i, col])
            if e.kind == "thermal":
                text = (
                    f"GPU temperature high: {name(col)} at {s.temp[i, col]:.0f}°C, "
                    f"SM clock {s.clock[i, col]:.0f} MHz (others {ref:.0f} MHz), "
                    f"{s.power[i, col]:.0f} W"
                )
            else:
                text = (
                    f"Slow GPU: {name(col)} SM clock {s.clock[i, col]:.0f} MHz "
                    f"(others {ref:.0f} MHz), {s.util[i, col]:.0f}% utilization; the job's "
                    f"step time is up {100 * e.slowdown:.0f}%"
                )
            rows.log(float(s.t[i]), "train", "WARNING", "tool", MONITOR, text)
        if e.last_step <= steps[-1]:
            after = np.flatnonzero(s.t > t_end[b] + 1.0)
            if len(after):
                i = int(after[0])
                rows.log(
                    float(s.t[i]),
                    s.phase[i],
                    "INFO",
                    "tool",
                    MONITOR,
                    f"{name(col)} back to normal: {s.temp[i, col]:.0f}°C, "
                    f"SM clock {s.clock[i, col]:.0f} MHz",
                )
    return rows


# How far the GPU must stand out from the job's other GPUs before the monitor alerts.
ALERT_HEAT_C: Final = 8.0
ALERT_CLOCK_MHZ: Final = 30.0


def _alert_sample(kind: str, s: Samples, col: int, inside: npt.NDArray[np.intp]) -> int:
    """The first sample inside the episode where the GPU stands out (hotter than the others
    for thermal throttling, a lower clock for a straggler), else the one where it stands out
    most: a monitor alerts on what it reads, so its line must show the symptom."""
    gpus = np.arange(s.clock.shape[1])
    rest = np.delete(gpus, col) if len(gpus) > 1 else gpus
    if kind == "thermal":
        score = s.temp[inside, col] - np.median(s.temp[np.ix_(inside, rest)], axis=1)
        limit = ALERT_HEAT_C
    else:
        score = np.median(s.clock[np.ix_(inside, rest)], axis=1) - s.clock[inside, col]
        limit = ALERT_CLOCK_MHZ
    over = np.flatnonzero(score >= limit)
    return int(inside[over[0]] if len(over) else inside[int(np.argmax(score))])
