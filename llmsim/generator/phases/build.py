"""Assembles the phases in time order and streams them, chunk by chunk, to a TraceWriter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa

from llmsim.generator.phases import export as phase_export
from llmsim.generator.phases import init as phase_init
from llmsim.generator.phases import summary as phase_summary
from llmsim.generator.phases import train as phase_train
from llmsim.generator.phases.state import TrainState, on_disk
from llmsim.generator.phases.telemetry import CKPT, Segment, Telemetry
from llmsim.generator.plan.runplan import RunPlan
from llmsim.generator.rows import Clock, Rows, merge
from llmsim.generator.stacks.common.run import StackRun
from llmsim.generator.stacks.context import Context, Ids
from llmsim.generator.stacks.registry import run_for
from llmsim.trace.writer import TraceWriter, make_table

# Sub-stream keys (np.random.default_rng([seed, key])); the plan uses 0.
RNG_IDS, RNG_INIT, RNG_LOSS, RNG_TIMES, RNG_EVALS, RNG_LINES = 1, 2, 3, 4, 5, 6
RNG_TELEMETRY, RNG_EXPORT, RNG_SUMMARY, RNG_FINISH = 7, 8, 9, 10
EXPORT_GAP: Final = (1.0, 4.0)  # seconds between the script's last line and the export


def _rng(plan: RunPlan, key: int) -> np.random.Generator:
    return np.random.default_rng([plan.config.seed, key])


def tables(plan: RunPlan) -> Iterator[pa.Table]:
    """The whole run as consecutive time-sorted tables (the last one holds the summary)."""
    run = run_for(plan.config.stack)
    ids = Ids.draw(plan.config, _rng(plan, RNG_IDS))
    tele = Telemetry(plan, _rng(plan, RNG_TELEMETRY))
    agg = phase_summary.Aggregates()

    def emit(table: pa.Table) -> pa.Table:
        agg.observe(table)
        return table

    init = phase_init.events(plan, ids, run, _rng(plan, RNG_INIT))
    yield emit(merge([init.rows.table(), _samples(tele, init.end, init.segments)]))
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
    closing, t_export = _finish(plan, ids, run, state)
    export = phase_export.events(plan, _rng(plan, RNG_EXPORT), t_export)
    idle = Segment(state.t, t_export, "train", CKPT, 1.0, 1.0)  # the script winds down
    samples = _samples(tele, export.end, [idle, *export.segments])
    yield emit(merge([closing, export.rows.table(), samples]))
    agg.take_telemetry(tele)
    yield phase_summary.events(plan, ids, run, _rng(plan, RNG_SUMMARY), agg).table()


def _finish(plan: RunPlan, ids: Ids, run: StackRun, state: TrainState) -> tuple[pa.Table, float]:
    """The script's closing lines after the last step; returns them and the export's start."""
    rows = Rows()
    rng = _rng(plan, RNG_FINISH)
    clock = Clock(state.t + 0.05)
    ctx = Context(plan, ids, rows, clock, rng)
    runtime = state.t - state.attempt_start  # the last launch's train() (a restart's own)
    train_loss = state.loss_sum / max(plan.config.total_steps, 1)
    run.finish(ctx, runtime, train_loss)
    return rows.table(), clock.t + float(rng.uniform(*EXPORT_GAP))


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
