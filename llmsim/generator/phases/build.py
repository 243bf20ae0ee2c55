"""Assembles the phases in time order and streams them, chunk by chunk, to a TraceWriter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa

from llmsim.generator.phases import export as phase_export
from llmsim.generator.phases import init as phase_init
from llmsim.generator.phases import shell as phase_shell
from llmsim.generator.phases import summary as phase_summary
from llmsim.generator.phases import train as phase_train
from llmsim.generator.phases.node_telemetry import MonitoredTelemetry
from llmsim.generator.phases.state import TrainState, on_disk
from llmsim.generator.phases.telemetry import CKPT, IDLE, Segment, Telemetry
from llmsim.generator.plan.runplan import RunPlan
from llmsim.generator.rows import Clock, Rows, merge
from llmsim.generator.stacks.common.run import StackRun
from llmsim.generator.stacks.context import Context, Ids
from llmsim.generator.stacks.registry import run_for
from llmsim.trace.writer import TraceWriter, make_table

# Sub-stream keys (np.random.default_rng([seed, key])); the plan uses 0, 11-13 and 21, the
# Megatron converter's listing 16.
RNG_IDS, RNG_INIT, RNG_LOSS, RNG_TIMES, RNG_EVALS, RNG_LINES = 1, 2, 3, 4, 5, 6
RNG_TELEMETRY, RNG_EXPORT, RNG_SUMMARY, RNG_FINISH = 7, 8, 9, 10
RNG_SHELL, RNG_MONITOR = 14, 15  # the engineer's shell, rank 0's node at watch's interval
EXIT_S: Final = (0.05, 0.3)  # the script's last line to its processes' exit


def _rng(plan: RunPlan, key: int) -> np.random.Generator:
    return np.random.default_rng([plan.config.seed, key])


def tables(plan: RunPlan) -> Iterator[pa.Table]:
    """The whole run as consecutive time-sorted tables: the shell's prompt and the launch
    typed, the job, then what the engineer does at the shell (the summary row closes the job's
    story; the last row is the open prompt)."""
    run = run_for(plan.config.stack)
    ids = Ids.draw(plan.config, _rng(plan, RNG_IDS))
    tele = MonitoredTelemetry(
        plan, _rng(plan, RNG_TELEMETRY), _rng(plan, RNG_MONITOR), run.terminal().containerised
    )
    agg = phase_summary.Aggregates()
    session = phase_shell.Session(plan, ids, run, _rng(plan, RNG_SHELL))

    def emit(table: pa.Table) -> pa.Table:
        table = merge([table, tele.node_rows(table)])
        agg.observe(table)
        session.observe(table)
        return table

    start = session.launch()
    init = phase_init.events(plan, ids, run, _rng(plan, RNG_INIT), start=start.t0)
    init = session.wandb_start(init)
    samples = _samples(tele, init.end, init.segments)
    yield emit(merge([start.rows.table(), init.rows.table(), samples]))
    c = plan.config
    state = TrainState(
        start=init.end,
        t=init.end,
        step=c.resume_step,
        first=plan.first_step,
        attempt_start=init.end,
        kept=on_disk(c.resume_step, c.checkpoint_interval, c.save_total_limit),
    )
    streams = phase_train.Streams(
        _rng(plan, RNG_LOSS), _rng(plan, RNG_TIMES), _rng(plan, RNG_EVALS), _rng(plan, RNG_LINES)
    )
    for table in phase_train.chunks(plan, ids, streams, tele, run, state):
        yield emit(table)
    yield _end(plan, ids, run, state, tele, agg, session)


def _end(
    plan: RunPlan,
    ids: Ids,
    run: StackRun,
    state: TrainState,
    tele: MonitoredTelemetry,
    agg: phase_summary.Aggregates,
    session: phase_shell.Session,
) -> pa.Table:
    """The script's closing lines (and W&B's footer), the processes' exit, the launcher's end,
    then the shell: the converter (the export's rows), ls, the upload; the summary row."""
    closing, clock = _finish(plan, ids, run, state)
    session.finish(closing, clock)
    t_exit = clock.t + float(_rng(plan, RNG_FINISH).uniform(*EXIT_S))
    after, export, t_summary, t_last = session.after(
        run.close, t_exit, lambda t: phase_export.events(plan, _rng(plan, RNG_EXPORT), t)
    )
    segments = [
        Segment(state.t, t_exit, "train", CKPT, 1.0, 1.0),  # the script winds down
        Segment(t_exit, export.segments[0].t0, "summary", IDLE, 0.0, 0.0),  # its processes exit
        *export.segments,
        Segment(export.end, t_last + 1.0, "summary", IDLE, 0.0, 0.0),
    ]
    samples = _samples(tele, t_last + 1e-6, segments)
    table = merge([closing.table(), after.table(), export.rows.table(), samples])
    table = merge([table, tele.node_rows(table)])
    agg.observe(table)
    agg.take_telemetry(tele)
    summary = phase_summary.events(plan, agg, t_summary).table()
    return merge([table, summary])


def _finish(plan: RunPlan, ids: Ids, run: StackRun, state: TrainState) -> tuple[Rows, Clock]:
    """The script's closing lines after the last step, and the clock after them."""
    rows = Rows()
    rng = _rng(plan, RNG_FINISH)
    clock = Clock(state.t + 0.05)
    ctx = Context(plan, ids, rows, clock, rng)
    runtime = state.t - state.attempt_start  # the last launch's train() (a restart's own)
    train_loss = state.loss_sum / max(plan.config.total_steps, 1)
    run.finish(ctx, runtime, train_loss)
    return rows, clock


def _samples(tele: Telemetry, end: float, segments: list[Segment]) -> pa.Table:
    samples = tele.advance(end, segments)
    if len(samples.t) == 0:
        return make_table(0, {})
    return samples.table(None, None)


def write_trace(plan: RunPlan, path: Path, *, overwrite: bool = False) -> int:
    """Generate every event of the run and stream it to `path` atomically; return the rows."""
    with TraceWriter(Path(path), plan.config, overwrite=overwrite) as writer:
        for table in tables(plan):
            writer.write(table)
    return writer.rows
