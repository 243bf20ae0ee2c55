"""Row builders: a clock, phase-bound loggers, sparse event rows, and merging tables by time.

A phase writes its lines as `log = rows.logger("init", "hf", clock)` then
`log.info("***** Running training *****", origin="trainer.py:2519")`: the phase, the format
and the time stamp come from the logger, the text and the logger slot from the call.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa

from llmsim.trace.vocab import Kind, Level, LogFormat, Op, Phase, Unit
from llmsim.trace.writer import make_table


class Clock:
    """Simulated time of the phase being written (seconds since the run started)."""

    def __init__(self, t: float = 0.0) -> None:
        self.t = float(t)

    def tick(self, dt: float) -> float:
        """Advance by dt seconds; return the new time."""
        self.t += float(dt)
        return self.t


class Rows:
    """Accumulates sparse rows in emission order and turns them into one trace table."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, t: float, kind: Kind, phase: Phase, **columns: Any) -> None:
        """Append one row; columns not given are null."""
        columns.update(t=float(t), kind=kind, phase=phase)
        self.rows.append(columns)

    def log(
        self,
        t: float,
        phase: Phase,
        level: Level,
        source: LogFormat,
        origin: str | None,
        text: str,
        rank: int | None = None,
    ) -> None:
        """Append one log line."""
        self.rows.append(
            {
                "t": float(t),
                "kind": "log",
                "phase": phase,
                "level": level,
                "source": source,
                "origin": origin,
                "text": text,
                "rank": rank,
            }
        )

    def phase(self, t: float, phase: Phase, label: str) -> None:
        """Append the row that opens a chapter."""
        self.rows.append({"t": float(t), "kind": "phase", "phase": phase, "text": label})

    def progress(
        self,
        t0: float,
        duration: float,
        phase: Phase,
        op: Op,
        label: str,
        total: int,
        unit: Unit,
        updates: int,
    ) -> None:
        """Rows of a long operation: done = 0 at t0 up to done = total at t0 + duration."""
        k = max(1, min(updates, total))
        for i in range(k + 1):
            frac = i / k
            self.add(
                t0 + duration * frac,
                "progress",
                phase,
                op=op,
                text=label,
                done=round(total * frac),
                total=total,
                unit=unit,
                elapsed=duration * frac,
            )

    def logger(
        self,
        phase: Phase,
        source: LogFormat,
        clock: Clock,
        origin: str | None = None,
        rank: int | None = None,
    ) -> Logger:
        """A logger writing `phase` lines in `source` format, stamped by `clock`."""
        return Logger(self, phase, source, clock, origin, rank)

    def table(self) -> pa.Table:
        """The rows as a table in the trace schema (emission order)."""
        names: dict[str, None] = {}
        for r in self.rows:
            names.update(dict.fromkeys(r))
        cols = {name: [r.get(name) for r in self.rows] for name in names}
        return make_table(len(self.rows), cols)


class Logger:
    """Writes one phase's lines in one log format; the origin may change per line."""

    def __init__(
        self,
        rows: Rows,
        phase: Phase,
        source: LogFormat,
        clock: Clock,
        origin: str | None,
        rank: int | None,
    ) -> None:
        self.rows, self.phase, self.source, self.clock = rows, phase, source, clock
        self.origin, self.rank = origin, rank

    def line(self, level: Level, text: str, origin: str | None = None, dt: float = 0.0) -> None:
        """One line at the clock's time (advanced by dt first)."""
        t = self.clock.tick(dt)
        self.rows.log(t, self.phase, level, self.source, origin or self.origin, text, self.rank)

    def info(self, text: str, origin: str | None = None, dt: float = 0.0) -> None:
        """An INFO line."""
        self.line("INFO", text, origin, dt)

    def warning(self, text: str, origin: str | None = None, dt: float = 0.0) -> None:
        """A WARNING line."""
        self.line("WARNING", text, origin, dt)

    def lines(
        self,
        texts: Iterable[str],
        origin: str | None = None,
        level: Level = "INFO",
        dt: float = 0.0,
    ) -> None:
        """Several lines at the same instant (one message printed over several lines)."""
        for i, text in enumerate(texts):
            self.line(level, text, origin, dt if i == 0 else 0.0)

    def at(self, source: LogFormat, origin: str | None = None) -> Logger:
        """A logger for the same phase and clock in another format."""
        return Logger(self.rows, self.phase, source, self.clock, origin, self.rank)


def merge(tables: Iterable[pa.Table]) -> pa.Table:
    """Concatenate and stably sort by t: ties keep the order of `tables`, then row order."""
    parts = [t for t in tables if t.num_rows]
    if not parts:
        return make_table(0, {})
    table = pa.concat_tables(parts)
    t = table.column("t").to_numpy()
    if len(t) > 1 and bool((t[1:] < t[:-1]).any()):
        table = table.take(np.argsort(t, kind="stable"))
    return table
