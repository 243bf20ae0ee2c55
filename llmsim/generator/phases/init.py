"""Init phase: from the launcher to the first step, in the stack's own words (stacks/)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from llmsim.generator.phases import processes
from llmsim.generator.phases.telemetry import IDLE, LOAD, Segment
from llmsim.generator.plan.memory import CONTEXT_MIB
from llmsim.generator.plan.runplan import RunPlan
from llmsim.generator.rows import Clock, Rows
from llmsim.generator.stacks.common.run import StackRun
from llmsim.generator.stacks.context import Attempt, Context, Ids


@dataclass
class InitResult:
    """The init rows, when training starts, and what the GPUs did meanwhile."""

    rows: Rows
    end: float
    segments: list[Segment]


def events(
    plan: RunPlan,
    ids: Ids,
    run: StackRun,
    rng: np.random.Generator,
    attempt: Attempt | None = None,
    start: float = 0.0,
) -> InitResult:
    """Rows of the init phase: the job's launch at `start` (once its command is typed at the
    shell, phases/shell.py), or a relaunch at `attempt.started` (whose chapter is the restart
    incident that precedes it)."""
    first = attempt is None
    attempt = attempt if attempt is not None else Attempt(started=start)
    t0 = attempt.started
    rows, clock = Rows(), Clock(t0)
    if first:
        rows.phase(0.0, "init", "Initialization")
    ctx = Context(plan, ids, rows, clock, rng, attempt)
    workers, load0, end = run.init(ctx)
    processes.started(ctx, workers, run.terminal().containerised)  # issue 21: nvidia-smi's list
    end = max(end, clock.t) + 0.05
    context = CONTEXT_MIB / max(plan.fit.memory.peak_smi_mib, 1.0)
    segments = [
        Segment(t0, workers, "init", IDLE, 0.0, 0.0),
        Segment(workers, load0, "init", LOAD, context, context),
        Segment(load0, end, "init", LOAD, context, 0.85),
    ]
    return InitResult(rows, end, segments)
