"""Row builders: sparse event rows (logs, progress, phases, ...) and merging tables by time."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa

from llmsim.trace.writer import make_table

_FORMATS: dict[str, tuple[str, str | None]] = {
    "torchrun": ("torchrun", "2134401 torch/distributed/run.py:793"),
    "nccl": ("plain", None),
    "trainer": ("hf", "trainer.py:2519"),
    "model": ("hf", "modeling_utils.py:4189"),
    "data": ("hf-script", "__main__"),
    "checkpoint": ("hf", "trainer.py:3910"),
}


class Rows:
    """Accumulates sparse rows in emission order and turns them into one trace table."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, t: float, kind: str, phase: str, **columns: Any) -> None:
        """Append one row; columns not given are null."""
        columns.update(t=float(t), kind=kind, phase=phase)
        self.rows.append(columns)

    def log(self, t: float, phase: str, level: str, source: str, text: str) -> None:
        """Append a log line (temporary: old logger names mapped onto v2 log formats)."""
        fmt, origin = _FORMATS.get(source, ("tool", source))
        self.rows.append(
            {
                "t": float(t),
                "kind": "log",
                "phase": phase,
                "level": level,
                "source": fmt,
                "origin": origin,
                "text": text,
            }
        )

    def phase(self, t: float, phase: str, label: str) -> None:
        """Append the row that opens a chapter."""
        self.rows.append({"t": float(t), "kind": "phase", "phase": phase, "text": label})

    def progress(
        self,
        t0: float,
        duration: float,
        phase: str,
        op: str,
        label: str,
        total: int,
        unit: str,
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

    def table(self) -> pa.Table:
        """The rows as a table in the trace schema (emission order)."""
        names: dict[str, None] = {}
        for r in self.rows:
            names.update(dict.fromkeys(r))
        cols = {name: [r.get(name) for r in self.rows] for name in names}
        return make_table(len(self.rows), cols)


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
