"""Step times: the plan's mean step, wobbling per log window, with the job's warm-up, the slower
step after a pause, the stack's own pauses (GC, profiler) and the slowdown episodes.

The stacks report step times averaged over their log window (Megatron's `elapsed time per
iteration`, torchtitan's tps); a step row carries that window's mean, so what a stack prints is
the row's own number and elapsed time is still the sum of the step times.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from llmsim.generator.plan.episodes import slowdown_at
from llmsim.generator.plan.runplan import RunPlan
from llmsim.trace.cadence import printed_steps
from llmsim.trace.config import RunConfig

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
WOBBLE: Final = 0.012  # relative sigma of a log window's mean step time
AFTER_PAUSE: Final = (0.08, 0.3)  # the step after an eval or a save: caches, allocator, NCCL


def window_ids(steps: I64, log: int) -> I64:
    """The log window of each step; step 1 is a window of its own (the stacks log it alone)."""
    ids: I64 = (steps - 1) // log
    if log > 1:
        ids = np.where(steps == 1, -1, ids)
    return ids


def raw_times(
    plan: RunPlan,
    steps: I64,
    after_pause: npt.NDArray[np.bool_],
    pauses: F64,
    rng: np.random.Generator,
    first: int,
) -> F64:
    """Each step's own duration before window averaging (`first`: the job's first step since
    it was launched, slow with compilation and warm-up)."""
    base = plan.fit.throughput.step_s
    log = plan.config.log_interval
    window = window_ids(steps, log)
    first_w = window[0]
    noise = np.exp(np.clip(rng.normal(0.0, WOBBLE, int(window[-1] - first_w) + 1), -0.04, 0.04))
    t = base * noise[window - first_w] * slowdown_at(plan.episodes, steps)
    t = t + np.where(steps == first, plan.timings.first_step_extra_s, 0.0)
    extra = base * rng.uniform(*AFTER_PAUSE, len(steps))
    out: F64 = t + np.where(after_pause, extra, 0.0) + pauses
    return out


def window_means(steps: I64, times: F64, log: int) -> F64:
    """Replace each step's time by the mean of its log window (windows lie inside the chunk)."""
    window = window_ids(steps, log)
    _, start, counts = np.unique(window, return_index=True, return_counts=True)
    sums = np.add.reduceat(times, start)
    out: F64 = np.repeat(sums / counts, counts)
    return out


def window_loss_means(config: RunConfig, steps: I64, losses: F64, decimals: int) -> F64:
    """Losses where printed steps carry the mean of their window (HF, Megatron average)."""
    window = window_ids(steps, config.log_interval)
    _, start, counts = np.unique(window, return_index=True, return_counts=True)
    means = np.add.reduceat(losses, start) / counts
    ends = start + counts - 1
    out = losses.copy()
    printed = printed_steps(config, steps[ends])
    out[ends[printed]] = np.round(means[printed], decimals)
    return out
