"""The engineer's terminal around the job, in time: trace 2.4's `shell` rows and the lines of
the tools run there (the stack's StackTerminal says what they are; this module says when).

At t = 0 the prompt, then the launch typed (an sbatch script answered with the job's id and its
output followed with `tail -f`, or the launcher itself), the job's rows, W&B's start lines at
the stack's place in its start-up and its footer at the end, the launcher's end, Ctrl-C for
`tail -f`, the prompt; then the stack's converter typed, with its own output at the export's
stages, `ls -lh` of what it wrote, an upload of it with hf-xet's bars (when it takes minutes,
not hours) and the repository's URL, and the prompt left open: the next job is typed there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from llmsim.generator.phases import hub
from llmsim.generator.phases.export import ExportResult
from llmsim.generator.phases.init import InitResult
from llmsim.generator.phases.telemetry import Segment
from llmsim.generator.plan.runplan import RunPlan
from llmsim.generator.rows import Clock, Rows
from llmsim.generator.stacks.common import wandb
from llmsim.generator.stacks.common.run import StackRun
from llmsim.generator.stacks.common.shell import Command, Launch, Shell, ls_lines, prompt
from llmsim.generator.stacks.common.terminal import Converter, Logged, Said
from llmsim.generator.stacks.context import Context, Ids
from llmsim.trace.cadence import printed_steps
from llmsim.trace.vocab import LogFormat

FIRST_KEY: Final = (0.3, 0.8)  # the first key after the prompt: within a second
SUBMIT_REPLY: Final = (0.15, 0.5)  # sbatch's answer
JOB_AFTER_ENTER: Final = (0.3, 1.2)  # the launcher's first line after Enter
NOTICE: Final = (3.0, 15.0)  # the job has ended: the engineer notices and presses Ctrl-C
THINK: Final = (1.5, 4.0)  # before typing the next command
WANDB_INIT: Final = (1.2, 2.8)  # wandb.init: login, run creation
WANDB_FINISH: Final = (1.5, 4.0)  # run.finish: the last uploads
UPLOAD_MAX_S: Final = 150.0  # an upload that would take longer is left for later
STEP_COLUMNS: Final = (
    "t",
    "step",
    "loss",
    "grad_norm",
    "lr",
    "epoch_progress",
    "mem_gib",
    "mem_pct",
    "mfu",
    "tflops",
    "tokens",
    "tokens_per_s_gpu",
    "step_time",
)
EVAL_COLUMNS: Final = ("t", "step", "val_loss", "elapsed", "samples_per_s", "steps_per_s")
EVAL_COLUMNS_EPOCH: Final = (*EVAL_COLUMNS, "epoch_progress")


@dataclass
class Start:
    """The shell's rows before the job, and when the job's first line may come."""

    rows: Rows
    t0: float


class Session:
    """One run's shell session: the launch before the job, the export and upload after it."""

    def __init__(self, plan: RunPlan, ids: Ids, run: StackRun, rng: np.random.Generator) -> None:
        self.plan, self.run, self.rng = plan, run, rng
        self.term = run.terminal()
        self.ctx = Context(plan, ids, Rows(), Clock(0.0), rng)  # names: pids, job id, hosts
        t = plan.terminal
        self.cwd = self.term.cwd(self.ctx)
        self.prompt = prompt(t.user, t.login_host, self.cwd, t.home)
        self.launched: Launch | None = None
        self.logged = Logged()
        self.wandb_run: wandb.WandbRun | None = None  # made by wandb.init (its start lines)
        self.wandb_t = 0.0  # when wandb.init printed them

    # --- before the job

    def launch(self) -> Start:
        """The prompt at t = 0, the launch typed, what prints before the job's own lines."""
        rows, clock = Rows(), Clock(0.0)
        shell = Shell(rows, clock, self.rng, self.prompt, "init")
        launch = self.term.launch(self.ctx, self.run.script_args(self.ctx))
        self.launched = launch
        shell.prompt()
        think = float(self.rng.uniform(*FIRST_KEY))
        if launch.submit is not None:
            shell.type(launch.submit, think)
            shell.output(
                f"Submitted batch job {launch.job_id}", float(self.rng.uniform(*SUBMIT_REPLY))
            )
            shell.prompt(0.01)
            think = float(self.rng.uniform(0.8, 2.0))
        shell.type(launch.run, think)
        log = rows.logger("init", "plain", clock)
        for i, line in enumerate(launch.preamble):
            log.info(line, dt=float(self.rng.uniform(0.05, 0.3)) if i == 0 else 0.001)
        return Start(rows, clock.t + float(self.rng.uniform(*JOB_AFTER_ENTER)))

    def wandb_start(self, init: InitResult) -> InitResult:
        """W&B's start lines where the stack's start-up calls wandb.init; the lines after them
        move by the time it takes."""
        if not self.plan.flags.wandb:
            return init
        rows = init.rows
        at = _anchor(rows.rows, self.term.wandb_after)
        t = rows.rows[at]["t"] if at is not None else _last_log(rows.rows, init.end)
        clock = Clock(t)
        ctx = Context(self.plan, self.ctx.ids, Rows(), clock, self.rng)
        before, after = self.term.wandb_start(ctx)
        added = Rows()
        clock.tick(0.05)
        self._said(added, clock, before, "init")
        clock.tick(float(self.rng.uniform(*WANDB_INIT)) * 0.5)
        run = self.term.wandb_run(ctx)
        self._wandb(added, clock, wandb.start_lines(run), "init")
        self.wandb_run, self.wandb_t = run, clock.t
        clock.tick(float(self.rng.uniform(*WANDB_INIT)) * 0.5)
        self._said(added, clock, after, "init")
        shift = clock.t - t
        moved = Rows()
        moved.rows = [
            {**r, "t": r["t"] + shift} if r["t"] > t else r for r in rows.rows
        ] + added.rows
        segments = [_shifted(s, t, shift) for s in init.segments]
        return InitResult(moved, init.end + shift, segments)

    # --- while the job runs

    def observe(self, table: pa.Table) -> None:
        """Gather what the job logs (for W&B's footer) from a table about to be written."""
        if not self.plan.flags.wandb or table.num_rows == 0:
            return
        kind = table.column("kind")
        steps = table.filter(pc.equal(kind, pa.scalar("step")))
        if steps.num_rows:
            if not self.term.wandb_every_step:
                step = steps.column("step").to_numpy(zero_copy_only=False)
                steps = steps.filter(pa.array(printed_steps(self.plan.config, step)))
            _gather(self.logged.steps, steps, STEP_COLUMNS)
        evals = table.filter(pc.equal(kind, pa.scalar("eval")))
        if evals.num_rows:
            _gather(self.logged.evals, evals, EVAL_COLUMNS_EPOCH)

    # --- after the job

    def finish(self, finish: Rows, clock: Clock) -> None:
        """W&B's footer in the script's closing lines (`finish`, whose clock it moves)."""
        self.logged.finish = [str(r.get("text") or "") for r in finish.rows]
        if not self.plan.flags.wandb:
            return
        at = _anchor(finish.rows, self.term.wandb_before)
        t = finish.rows[at]["t"] - 0.01 if at is not None else clock.t
        fclock = Clock(t + float(self.rng.uniform(0.05, 0.3)))
        ctx = Context(self.plan, self.ctx.ids, Rows(), fclock, self.rng)
        run = self.wandb_run or self.term.wandb_run(ctx)
        history = self.term.wandb_history(ctx, self.logged)
        added = Rows()
        piped = not self._tty()
        fclock.tick(float(self.rng.uniform(*WANDB_FINISH)))
        back = fclock.t + 0.01 - self.wandb_t  # _wandb prints 10 ms on
        lines = wandb.footer_lines(run, history, back, self.rng, piped)
        self._wandb(added, fclock, lines, "summary")
        shift = fclock.t - t
        finish.rows = [
            {**r, "t": r["t"] + shift} if r["t"] > t else r for r in finish.rows
        ] + added.rows
        clock.t = max(clock.t + shift if at is not None else fclock.t, fclock.t)

    def after(
        self,
        close: Callable[[Context], None],
        t_exit: float,
        export: Callable[[float], ExportResult],
    ) -> tuple[Rows, ExportResult, float, float]:
        """The launcher's end, the prompt, the converter and its output, `ls -lh`, the upload;
        returns the rows, the export, when the summary row goes and the last row's time."""
        rows, clock = Rows(), Clock(t_exit + float(self.rng.uniform(0.02, 0.2)))
        ctx = Context(self.plan, self.ctx.ids, rows, clock, self.rng)
        close(ctx)
        shell = Shell(rows, clock, self.rng, self.prompt, "summary")
        launch = self.launched
        if launch is not None and launch.batch:
            shell.interrupt(float(self.rng.uniform(*NOTICE)))
            shell.prompt(0.01)
        else:
            shell.prompt(float(self.rng.uniform(0.05, 0.3)))
        out = f"{self.plan.config.output_dir}/final"
        typed = self.term.converter(ctx, out, [])  # the command does not depend on the files
        if typed is not None:
            start = shell.type(typed.command, float(self.rng.uniform(*THINK)))
        else:
            start = clock.t
        result = export(start)
        converter = self.term.converter(ctx, out, result.files)
        if converter is not None:
            self._converter(rows, converter, result)
        clock.t = result.end
        summary_at = clock.t + 0.02
        shell.prompt(0.05)
        self._listing(shell, out, result)
        self._upload(shell, rows, out, result)
        return rows, result, summary_at, clock.t

    # --- pieces

    def _tty(self) -> bool:
        return self.launched is not None and self.term.tty(self.launched)

    def _converter(self, rows: Rows, converter: Converter, result: ExportResult) -> None:
        """The converter's lines and bars at the export's stages (a stage's lines before a bar
        that starts there: the tools print, then start their loop)."""
        stages = dict(result.stages)
        for say in converter.says:
            t = stages.get(say.stage, result.end)
            rows.add(
                t,
                "shell",
                "export",
                op="output",
                text=say.text,
                source=say.source,
                origin=say.origin,
                level=say.level,
            )
            stages[say.stage] = t + 0.001  # lines of one stage keep their order
        for bar in converter.bars:
            t0 = stages.get(bar.start, result.end)
            t1 = result.stages.get(bar.end, result.end) - 0.002
            updates = min(bar.total, max(2, int((t1 - t0) / 0.5)))
            rows.progress(
                t0, max(t1 - t0, 0.01), "export", "convert", bar.label, bar.total, "files", updates
            )

    def _listing(self, shell: Shell, out: str, result: ExportResult) -> None:
        """`ls -lh` of the converter's folder: the files as written, dated when written."""
        command = Command(f"ls -lh {out.removeprefix('./')}", "ls")
        shell.type(command, float(self.rng.uniform(*THINK)))
        at = shell.clock.t + 0.02
        ages = [
            (name, size, at - result.written.get(name, result.end)) for name, size in result.files
        ]
        for i, line in enumerate(ls_lines(ages, self.plan.terminal.user)):
            shell.output(line, 0.02 if i == 0 else 0.0, "inline-stamp")
        shell.prompt(0.01)

    def _upload(self, shell: Shell, rows: Rows, out: str, result: ExportResult) -> None:
        """`hf upload` of the folder with hf-xet's bars, when it takes minutes."""
        t = self.plan.terminal
        total = sum(size for _, size in result.files)
        if total / (t.upload_mbs * 1e6) > UPLOAD_MAX_S:
            return
        repo = f"{t.hub_owner}/{self.plan.config.name.rsplit('-', 1)[0]}"
        command = Command(f"hf upload {repo} {out.removeprefix('./')} .", "python3")
        shell.type(command, float(self.rng.uniform(*THINK)))
        hub.upload(shell, rows, out, result.files, t.upload_mbs, self.rng)
        shell.output(f"https://huggingface.co/{repo}/tree/main/.", 0.2)
        shell.prompt(0.01)

    def _said(self, rows: Rows, clock: Clock, said: list[Said], phase: Any) -> None:
        for s in said:
            clock.tick(float(self.rng.uniform(0.005, 0.05)))
            rows.log(clock.t, phase, "INFO", s.source, s.origin, s.text, self.term.wandb_rank)

    def _wandb(self, rows: Rows, clock: Clock, lines: list[str], phase: Any) -> None:
        """W&B's lines: `wandb: ` drawn by the player on a terminal, plain bytes in a file."""
        tty = self._tty()
        source: LogFormat = "wandb" if tty else "inline-stamp"  # marks: its run folder's time
        clock.tick(0.01)
        for line in lines:  # termlog writes a message's lines at once
            text = line if tty else f"wandb: {line}"
            rows.log(clock.t, phase, "INFO", source, None, text, self.term.wandb_rank)


def _anchor(rows: list[dict[str, Any]], prefix: str | None) -> int | None:
    """The first log row (in time) whose text starts with `prefix`."""
    if prefix is None:
        return None
    hits = [
        (r["t"], i)
        for i, r in enumerate(rows)
        if r.get("kind") == "log" and str(r.get("text") or "").startswith(prefix)
    ]
    return min(hits)[1] if hits else None


def _last_log(rows: list[dict[str, Any]], end: float) -> float:
    times = [r["t"] for r in rows if r.get("kind") == "log"]
    return max(times) if times else end


def _shifted(s: Segment, t: float, shift: float) -> Segment:
    return replace(s, t0=s.t0 + shift if s.t0 > t else s.t0, t1=s.t1 + shift if s.t1 > t else s.t1)


def _gather(into: dict[str, list[float]], table: pa.Table, columns: tuple[str, ...]) -> None:
    for name in columns:
        values = table.column(name).to_pylist()
        into.setdefault(name, []).extend(float(v) if v is not None else 0.0 for v in values)
