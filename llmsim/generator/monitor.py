"""The cluster monitor's lines (the run's own tooling, `tool` format): a GPU that runs hot or
slow, named with the numbers of the telemetry sample that shows it, and its recovery."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from llmsim.generator.plan import RunPlan
from llmsim.generator.rows import Rows
from llmsim.generator.telemetry import Samples

ORIGIN: Final = "monitor"


def _name(plan: RunPlan, gpu: int) -> str:
    c = plan.config
    return f"{c.hostnames[gpu // c.gpus_per_node]} GPU {gpu % c.gpus_per_node}"


def episode_lines(
    plan: RunPlan, s: Samples, steps: npt.NDArray[np.int64], t_end: npt.NDArray[np.float64]
) -> Rows:
    """A warning at the first sample inside each episode, a note at the first one after it."""
    rows = Rows()
    if len(s.t) == 0:
        return rows
    for e in plan.episodes:
        if e.last_step < steps[0] or e.first_step > steps[-1]:
            continue
        col = e.gpu
        a = int(np.searchsorted(steps, max(e.first_step, int(steps[0]))))
        b = int(np.searchsorted(steps, min(e.last_step, int(steps[-1]))))
        inside = np.flatnonzero((s.t >= t_end[a] - 1e-9) & (s.t <= t_end[b]))
        others = np.delete(s.clock[:, :], col, axis=1) if s.clock.shape[1] > 1 else s.clock
        if e.first_step >= steps[0] and len(inside):
            i = int(inside[len(inside) // 3])
            ref = float(np.median(others[i])) if others.size else float(s.clock[i, col])
            if e.kind == "thermal":
                text = (
                    f"GPU temperature high: {_name(plan, col)} at {s.temp[i, col]:.0f}°C, "
                    f"SM clock {s.clock[i, col]:.0f} MHz (others {ref:.0f} MHz), "
                    f"{s.power[i, col]:.0f} W"
                )
            else:
                text = (
                    f"Slow GPU: {_name(plan, col)} SM clock {s.clock[i, col]:.0f} MHz "
                    f"(others {ref:.0f} MHz), {s.util[i, col]:.0f}% utilization; the job's "
                    f"step time is up {100 * e.slowdown:.0f}%"
                )
            rows.log(float(s.t[i]), "train", "WARNING", "tool", ORIGIN, text)
        if e.last_step <= steps[-1]:
            after = np.flatnonzero(s.t > t_end[b] + 1.0)
            if len(after):
                i = int(after[0])
                rows.log(
                    float(s.t[i]),
                    s.phase[i],
                    "INFO",
                    "tool",
                    ORIGIN,
                    f"{_name(plan, col)} back to normal: {s.temp[i, col]:.0f}°C, "
                    f"SM clock {s.clock[i, col]:.0f} MHz",
                )
    return rows
