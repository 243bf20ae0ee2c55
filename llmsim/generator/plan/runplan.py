"""The RunPlan: every number of a run, decided by plan/make.py before a row is written, frozen.

The phases only read it (with their own seeded random streams for noise); the part the trace
carries is its `config`, the rest stays private to the generator.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmsim.generator.plan.choice import Choice
from llmsim.generator.plan.episodes import Episode
from llmsim.generator.plan.fit import Fit
from llmsim.generator.plan.incidents import Incidents
from llmsim.generator.plan.loss import LossShape
from llmsim.generator.plan.profile import NcclDebug, StackProfile
from llmsim.generator.plan.schedule import Schedule
from llmsim.generator.plan.terminal import Terminal
from llmsim.generator.plan.timing import Io
from llmsim.trace.config import RunConfig
from llmsim.trace.vocab import Launcher


@dataclass(frozen=True)
class Timings:
    """Seconds of the parts around the steps."""

    init_s: float  # launch to the first step, checkpoint or weight loading included
    load_s: float  # of which: loading the checkpoint or the base weights
    eval_batch_s: float
    checkpoint_s: float
    export_s: float
    first_step_extra_s: float  # compilation and warm-up of the job's first step


@dataclass(frozen=True)
class Flags:
    """Options of the job that change what its logs show."""

    launcher: Launcher
    compile: bool  # torchtitan: torch.compile of each block (slow first step)
    log_straggler: bool  # Megatron --log-straggler: the straggler report
    gc_freq: int  # torchtitan's periodic GC
    max_restarts: int  # torchrun --max-restarts (0 where another launcher starts the job)
    nccl_debug: NcclDebug = "WARN"  # NCCL_DEBUG in the launch environment (drawn by plan_run)
    wandb: bool = False  # the run logs to W&B (drawn with the terminal: plan/terminal.py)


@dataclass(frozen=True)
class RunPlan:
    """Everything that defines a run: the trace's config and the generator's private numbers."""

    config: RunConfig
    choice: Choice
    fit: Fit
    io: Io
    schedule: Schedule
    timings: Timings
    loss: LossShape
    episodes: tuple[Episode, ...]
    incidents: Incidents
    flags: Flags
    estimated_bytes: int
    terminal: Terminal  # the engineer's shell and tools around the job (issue 21)

    @property
    def first_step(self) -> int:
        """The first step the trace shows."""
        return self.config.resume_step + 1

    @property
    def profile(self) -> StackProfile:
        """The profile of the stack that trains the run."""
        return self.choice.profile
