"""StackRun: what a stack prints besides its step, eval and checkpoint rows (the player's
dialects print those), phase by phase: start-up, around evaluations and saves, on the side of
its steps, when a rank is lost, at the end of the script and of the launcher.

Each stack's run (generator/stacks/<name>/run.py) subclasses StackRun and overrides what it
prints; the defaults print nothing, and a lost rank's watchdog, abort and launcher report are
the common ones (generator/stacks/common/crash.py), told by the run's collective and launcher.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from llmsim.generator.plan.incidents import TEARDOWN_S, Failure
from llmsim.generator.plan.poststats import PostStats
from llmsim.generator.stacks.common import crash
from llmsim.generator.stacks.common.terminal import DEFAULT, StackTerminal
from llmsim.generator.stacks.common.torchlines import torch_lines
from llmsim.generator.stacks.context import Context


@dataclass(frozen=True)
class Reading:
    """What NVML reports for every GPU at one sample (what torch.cuda's utilization(),
    temperature(), power_draw() and clock_rate() return in a process at that moment); the
    telemetry (phases/telemetry.py) makes them from its samples."""

    util: npt.NDArray[np.float32]
    temp: npt.NDArray[np.float32]
    power: npt.NDArray[np.float32]  # W, as nvidia-smi shows it
    clock: npt.NDArray[np.float32]


# The GPUs' readings at a time: what a stack that reports NVML figures reads then.
Readings = Callable[[float], Reading | None]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class StepView:
    """A chunk of post-training steps as a stack's own metric keys report them: the sampled
    statistics and what the trace's columns already hold."""

    stats: PostStats
    times: F64  # each step's time (its log window's mean)
    losses: F64  # the loss each printed step shows
    lr: F64
    grads: F64
    tokens: I64  # tokens each step counts
    total_tokens: I64  # ... since the run started (num_tokens)
    epochs: I64  # 1-based epoch of each step
    eval_s: F64  # validation seconds after each step (0: none)
    save_s: F64  # checkpoint seconds after each step (0: none)


class StackRun(ABC):
    """The lines one stack prints that are not step, eval or checkpoint rows."""

    @abstractmethod
    def init(self, ctx: Context) -> tuple[float, float, float]:
        """Launch to the first step; returns (workers start, weight/checkpoint load start, end)."""

    def eval_begin(self, ctx: Context, step: int) -> None:
        """Lines before an evaluation pass."""
        return None

    @abstractmethod
    def save(
        self, ctx: Context, step: int, seconds: float, last: bool, dropped: int | None
    ) -> None:
        """Lines of a checkpoint save taking `seconds` (the checkpoint row follows them);
        `dropped`: the checkpoint the rotation deletes, if any."""

    def saved(self, ctx: Context, step: int, seconds: float) -> None:
        """Lines right after the checkpoint row."""
        return None

    def pauses(self, ctx: Context, steps: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """Seconds the stack spends inside these steps besides compute (GC, profiler dumps)."""
        return np.zeros(len(steps))

    def extras(
        self,
        ctx: Context,
        steps: npt.NDArray[np.int64],
        t_end: npt.NDArray[np.float64],
        lr: npt.NDArray[np.float64],
        step_time: npt.NDArray[np.float64],
        readings: Readings,
    ) -> None:
        """Side lines of a chunk of steps (reports, GC, profiler), at their times; `readings`
        gives the GPUs' telemetry, which the chunk's samples already hold."""
        return None

    def finish(self, ctx: Context, runtime: float, train_loss: float) -> None:
        """The training script's last lines, before the export."""
        return None

    def close(self, ctx: Context) -> None:
        """The launcher's lines after everything."""
        return None

    def metric_values(self, ctx: Context, view: StepView) -> dict[str, F64]:
        """Per-step values of the stack's own keys (config.metric_keys) that no trace column
        holds; a key left out reads as absent (NaN) on the row."""
        return {}

    def eval_metric_values(
        self, ctx: Context, step: int, stats: dict[str, float]
    ) -> dict[str, float]:
        """The same for an evaluation row (config.eval_metric_keys); `stats`: the validation's
        sampled statistics."""
        return {}

    def script_args(self, ctx: Context) -> str:
        """The training script's arguments, as a launcher prints its command."""
        return ""

    def terminal(self) -> StackTerminal:
        """The shell around the job: its launch, converter and W&B run (issue 21)."""
        return DEFAULT

    # --- a lost rank

    def collective(self, ctx: Context, failure: Failure, steps_done: int) -> crash.Collective:
        """The collective every healthy rank waits in when the culprit stops: FSDP and ZeRO-3
        gather a block's parameters or reduce-scatter its gradients over the whole world."""
        return crash.world_collective(ctx, steps_done)

    def recorded(self, ctx: Context, coll: crash.Collective) -> crash.Stack | None:
        """The failed collective's Python stack when the job runs torch's flight recorder
        (None: the recorder is off, torch's default)."""
        return None

    def crash(self, ctx: Context, failure: Failure, t_wd: float, steps_done: int) -> float:
        """Watchdog lines of the printing ranks and the abort of each that aborts on its own;
        returns when the last of them died."""
        coll = self.collective(ctx, failure, steps_done)
        ranks = [r for r in crash.printing_ranks(ctx) if r != failure.gpu]
        t_wd += float(ctx.rng.uniform(0.0, 0.9))  # the watchdog wakes every second
        thrown = crash.watchdog(ctx, failure, coll, ranks, t_wd, self.recorded(ctx, coll))
        tl = torch_lines(ctx.config.torch_version)
        end = ctx.clock.t
        for rank in crash.aborting(ctx, failure, ranks):
            at, ran = thrown[rank]
            ctx.clock.t = at + float(ctx.rng.uniform(*crash.ABORT_AFTER_S))
            crash.terminate(ctx, failure, coll, rank, ran, tl)
            end = max(end, ctx.clock.t)
        ctx.clock.t = end
        return end

    def report(self, ctx: Context, failure: Failure) -> float:
        """The launcher's report once the processes are down; returns when it is done."""
        c = ctx.config
        ctx.clock.tick(float(ctx.rng.uniform(*TEARDOWN_S)) * 0.1)
        ab = crash.aborts(ctx, failure)
        if ctx.merged:
            crash.srun_report(ctx, failure, crash.job_id(ctx))
        elif c.launcher == "deepspeed":
            crash.deepspeed_report(ctx, self.script_args(ctx))
        else:
            crash.torchrun_report(ctx, failure, ab, ctx.profile.entrypoint, info=ctx.agent_info)
        return ctx.clock.t
