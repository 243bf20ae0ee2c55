"""StackTerminal: what an engineer types and sees at the shell around one stack's job.

Each stack's folder holds one (`stacks/<name>/terminal.py`), returned by its StackRun's
`terminal()`: the folder it works in, the launch (a command typed at the job's node, or a batch
script submitted from a login node and followed with `tail -f`), its checkpoint converter with
that tool's own output, and how its run logs to W&B (the run's name, folder and the keys it
logs). phases/shell.py lays it all out in time; the defaults below are the common forms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from llmsim.generator.stacks.common import crash
from llmsim.generator.stacks.common.shell import Command, Launch
from llmsim.generator.stacks.common.wandb import History, WandbRun
from llmsim.generator.stacks.context import Context
from llmsim.trace.vocab import LogFormat

# Stages of the export the converter's lines are placed at (phases/export.py's stage ends):
# "start", "gather", "prepare", "serialize", "write", "files".
Stage = str


@dataclass(frozen=True)
class Say:
    """One line a tool prints at a stage of the export (`source` draws its prefix)."""

    stage: Stage
    text: str
    source: LogFormat = "plain"
    origin: str | None = None
    level: str = "INFO"


@dataclass(frozen=True)
class Bar:
    """A tqdm bar of the converter (leave=True), from one stage's end to another's."""

    start: Stage
    end: Stage
    label: str
    total: int


@dataclass(frozen=True)
class Converter:
    """The checkpoint converter typed at the shell, and what it prints while it runs."""

    command: Command
    says: tuple[Say, ...] = ()
    bars: tuple[Bar, ...] = ()


@dataclass(frozen=True)
class Said:
    """A line of the job's own output around W&B's (a logger's line before or after them)."""

    source: LogFormat
    text: str
    origin: str | None = None


@dataclass
class Logged:
    """What the job logged, gathered as its rows are written: the step rows its logger writes
    (each column's values) and its evaluation rows, and the lines its script printed last."""

    steps: dict[str, list[float]] = field(default_factory=dict)
    evals: dict[str, list[float]] = field(default_factory=dict)
    finish: list[str] = field(default_factory=list)

    def step(self, key: str) -> list[float]:
        """A step column's logged values."""
        return self.steps.get(key, [])

    def eval(self, key: str) -> list[float]:
        """An evaluation column's values."""
        return self.evals.get(key, [])


class StackTerminal:
    """The common forms; a stack overrides what differs."""

    folder: str = "llm"  # the folder under $HOME the engineer works in
    containerised: bool = False  # its processes run in a container: nvidia-smi lists none
    wandb_after: str | None = None  # the start-up line W&B's start lines follow (None: the last)
    wandb_before: str | None = None  # the closing line W&B's footer precedes (None: after all)
    wandb_rank: int | None = None  # torchrun's --tee prefix on the process that logs to W&B
    wandb_every_step: bool = False  # it logs every step to W&B (else the steps it prints)

    def cwd(self, ctx: Context) -> str:
        """The shell's working folder."""
        return f"{ctx.plan.terminal.home}/{self.folder}"

    def launch(self, ctx: Context, script_args: str) -> Launch:
        """One node: torchrun typed at the node; several: an sbatch script and tail -f."""
        c = ctx.config
        if c.nodes > 1:
            return batch(ctx, "train.sbatch", "train")
        python = python_window(ctx)
        text = f"torchrun --nproc-per-node {c.gpus_per_node} {ctx.profile.entrypoint}"
        return Launch(Command(f"{text} {script_args}".rstrip(), python))

    def tty(self, launch: Launch) -> bool:
        """Whether the process that prints W&B's lines writes to a terminal."""
        return not launch.batch

    def converter(
        self, ctx: Context, out: str, files: Sequence[tuple[str, int]]
    ) -> Converter | None:
        """The converter typed after the job, writing `files` (name, bytes) into `out` (None:
        the job wrote its Hugging Face files itself)."""
        return None

    def wandb_run(self, ctx: Context) -> WandbRun:
        """The run as wandb.init makes it: named after the job, in the shell's folder."""
        term, c = ctx.plan.terminal, ctx.config
        return WandbRun(
            term.user,
            term.wandb_entity,
            c.name.rsplit("-", 1)[0],
            c.name,
            term.wandb_id,
            self.cwd(ctx),
            self.cwd(ctx),
        )

    def wandb_start(self, ctx: Context) -> tuple[list[Said], list[Said]]:
        """The job's own lines just before and just after W&B's start lines."""
        return [], []

    def wandb_history(self, ctx: Context, logged: Logged) -> History:
        """What the job logged to W&B (the keys its integration writes)."""
        return History()


DEFAULT: StackTerminal = StackTerminal()


def python_window(ctx: Context) -> str:
    """tmux's window name for a Python console script: its interpreter's basename."""
    return ctx.python.rsplit("/", 1)[-1]


def batch(ctx: Context, script: str, job: str, output: str | None = None) -> Launch:
    """`sbatch <script>` answered with the job's id, then `tail -f` of its output file
    (`output`, a pattern with {id} and {job}; by default Slurm's `slurm-%j.out`)."""
    job_id = crash.job_id(ctx)
    out = (output or "slurm-{id}.out").format(id=job_id, job=job)
    return Launch(
        Command(f"tail -f {out}", "tail"),
        submit=Command(f"sbatch {script}", "sbatch"),
        job_id=job_id,
    )


def file_names(files: Sequence[tuple[str, int]]) -> list[str]:
    """The names of (name, bytes) pairs."""
    return [name for name, _ in files]


def last(values: Mapping[str, list[float]], key: str) -> float | None:
    """The last value logged under `key`, if any."""
    got = values.get(key)
    return got[-1] if got else None


def jitter(values: Sequence[float], rng: np.random.Generator, share: float) -> list[float]:
    """Values with a little noise of their own (a metric the trace does not hold exactly)."""
    return [float(v) * (1.0 + float(rng.normal(0.0, share))) for v in values]
