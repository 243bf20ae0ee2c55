"""Assembles the phases in time order and streams them, chunk by chunk, to a TraceWriter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from llmsim.generator import phase_export, phase_init, phase_summary, phase_train
from llmsim.generator.config import build_config
from llmsim.generator.nccl import NcclNames
from llmsim.generator.options import GenerateOptions
from llmsim.generator.rows import Rows, merge
from llmsim.generator.telemetry import Samples, Telemetry
from llmsim.trace.config import RunConfig
from llmsim.trace.writer import TraceWriter, make_table

# Sub-stream keys (np.random.default_rng([seed, key])); config.py uses 0.
RNG_INIT, RNG_LOSS, RNG_RATES, RNG_EVENTS, RNG_EVALS, RNG_TELEMETRY = 1, 2, 3, 4, 5, 6
RNG_EXPORT, RNG_NAMES, RNG_SUMMARY = 7, 8, 9


def _rng(config: RunConfig, key: int) -> np.random.Generator:
    return np.random.default_rng([config.seed, key])


def tables(config: RunConfig) -> Iterator[pa.Table]:
    """The whole run as consecutive time-sorted tables (the last one holds the summary)."""
    tele = Telemetry(config, _rng(config, RNG_TELEMETRY))
    nccl = NcclNames.draw(config, _rng(config, RNG_NAMES))
    agg = phase_summary.Aggregates()

    def emit(table: pa.Table) -> pa.Table:
        agg.observe(table)
        return table

    init = phase_init.events(config, _rng(config, RNG_INIT), nccl)
    yield emit(
        merge([init.rows.table(), _telemetry(config, tele.advance(init.end, init.segments))])
    )
    state = phase_train.TrainState(start=init.end, t=init.end)
    streams = phase_train.Streams(
        _rng(config, RNG_LOSS),
        _rng(config, RNG_RATES),
        _rng(config, RNG_EVENTS),
        _rng(config, RNG_EVALS),
    )
    for table in phase_train.chunks(config, state, streams, tele, nccl):
        yield emit(table)
    runtime = state.t - state.start
    mean_loss = state.loss_sum / config.total_steps
    export = phase_export.events(config, _rng(config, RNG_EXPORT), state.t, runtime, mean_loss)
    yield emit(
        merge(
            [
                export.rows.table(),
                _telemetry(config, tele.advance(export.end, export.segments), config.total_steps),
            ]
        )
    )
    yield phase_summary.events(config, _rng(config, RNG_SUMMARY), agg).table()


def _telemetry(config: RunConfig, s: Samples, step: int | None = None) -> pa.Table:
    """Telemetry rows outside training, followed by their warning lines."""
    n = len(s.t)
    if n == 0:
        return make_table(0, {})
    epoch = None if step is None else config.epochs
    table = s.table(step, epoch)
    logs = Rows()
    for line in s.logs:
        logs.log(line.t, line.phase, line.level, line.source, line.text)
    return merge([table, logs.table()])


def write_trace(config: RunConfig, path: Path, *, overwrite: bool = False) -> int:
    """Generate every event of the run and stream it to `path`; return the rows written."""
    with TraceWriter(Path(path), config, overwrite=overwrite) as writer:
        for table in tables(config):
            writer.write(table)
    return writer.rows


def generate(options: GenerateOptions, path: Path, *, overwrite: bool = False) -> RunConfig:
    """build_config + write_trace."""
    config = build_config(options)
    write_trace(config, path, overwrite=overwrite)
    return config
