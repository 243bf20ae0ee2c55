"""What `llmsim list` and the `--model/--gpu-type/--stack list` options show: rows of plain data.

Each `*_rows` function returns JSON-ready dicts (the work); `render` draws them as an aligned
text table (the printing). Strings from traces are made inert before they are drawn.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from llmsim.sanitize import clean_name
from llmsim.units import format_duration, format_params

LIST_FORMAT: Final = 1  # version of `llmsim list --json`
CellKind = Literal["text", "params", "duration", "mib", "tflops", "invented"]


@dataclass(frozen=True)
class Column:
    """A table column: the row key, its heading, how to show a value, right-aligned or not,
    and when it gives way on a narrow terminal (1 first, then 2, ...; None: never)."""

    key: str
    heading: str
    right: bool = False
    kind: CellKind = "text"
    drop: int | None = None


def _cell(value: Any, kind: CellKind) -> str:
    if value is None:
        return "?"
    if kind == "params":
        return format_params(int(value))
    if kind == "duration":
        return format_duration(float(value))
    if kind == "mib":
        return f"{int(value):,} MiB"  # as nvidia-smi prints it
    if kind == "tflops":
        return f"{float(value):g}"
    if kind == "invented":
        return "invented" if value else "real"
    return clean_name(str(value))


GAP: Final = 2  # spaces between columns


def render(
    columns: Sequence[Column], rows: Sequence[dict[str, Any]], width: int | None = None
) -> str:
    """An aligned text table with a heading row, fitted to `width` columns when given: the
    columns that give way are left out in their order until it fits, then a last text column
    is wrapped under itself. (`--json` always has every field.)"""
    table = {c: [c.heading, *(_cell(row.get(c.key), c.kind) for row in rows)] for c in columns}
    widths = {c: max(len(v) for v in table[c]) for c in columns}
    shown = _fit(list(columns), widths, width)
    *lead, last = shown
    indent = sum(widths[c] + GAP for c in lead)
    room = None if width is None or last.right else width - indent
    lines = []
    for i in range(len(rows) + 1):
        parts = [
            table[c][i].rjust(widths[c]) if c.right else table[c][i].ljust(widths[c]) for c in lead
        ]
        tail = table[last][i].rjust(widths[last]) if last.right else table[last][i]
        pieces = (
            textwrap.wrap(tail, room) if room is not None and len(tail) > room >= 10 else [tail]
        )
        lines.append((" " * GAP).join([*parts, pieces[0]]).rstrip())
        lines += [" " * indent + more for more in pieces[1:]]
    return "\n".join(lines)


def _fit(shown: list[Column], widths: dict[Column, int], width: int | None) -> list[Column]:
    """The columns kept: those that give way leave, in their order, until the table fits."""
    while width is not None and sum(widths[c] + GAP for c in shown) - GAP > width:
        optional = [c for c in shown if c.drop is not None]
        if not optional:
            break
        shown.remove(min(optional, key=lambda c: c.drop or 0))
    return shown


# On a narrow terminal the run's model gives way first (the run's name and size say it), the
# model's family next (its name says it).
RUN_COLUMNS: Final = (
    Column("name", "RUN"),
    Column("model", "MODEL", drop=1),
    Column("params", "PARAMS", right=True, kind="params"),
    Column("gpus", "GPUS", right=True),
    Column("gpu", "GPU", drop=3),
    Column("stack", "STACK"),
    Column("kind", "KIND", drop=2),
    Column("duration_s", "LENGTH", right=True, kind="duration"),
)
MODEL_COLUMNS: Final = (
    Column("name", "MODEL"),
    Column("params", "PARAMS", right=True, kind="params"),
    Column("invented", "ARCH", kind="invented", drop=3),
    Column("family", "FAMILY", drop=1),
    Column("hub_id", "HUB ID", drop=2),
)
GPU_COLUMNS: Final = (
    Column("short", "GPU TYPE"),
    Column("name", "NAME"),
    Column("memory_mib", "MEMORY", right=True, kind="mib"),
    Column("peak_tflops", "BF16 TFLOPS", right=True, kind="tflops"),
    Column("tdp_w", "TDP W", right=True),
)
STACK_COLUMNS: Final = (Column("name", "STACK"), Column("long_name", "WHAT IT IS"))


def run_rows(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """One row per trace: name, model, size, cluster, stack, kind, length (from its config)."""
    from llmsim.bundled import SUFFIX
    from llmsim.trace import open_trace

    rows = []
    for path in paths:
        trace = open_trace(path)
        config = trace.config
        name = path.name[: -len(SUFFIX)] if path.name.endswith(SUFFIX) else path.name
        rows.append(
            {
                "name": name,
                "model": config.model,
                "params": config.params,
                "invented": config.invented,
                "gpus": config.gpus,
                "gpu": config.gpu_short,
                "stack": config.stack,
                "kind": config.kind,
                "duration_s": round(trace.duration, 3),  # finite, >= 0: the reader's hint
                "seed": config.seed,
                "path": str(path),
            }
        )
    return rows


def model_rows() -> list[dict[str, Any]]:
    """The generator's model catalogue, in its order."""
    from llmsim.generator import models

    return [
        {
            "name": m.name,
            "params": m.params,
            "invented": m.invented,
            "family": m.family,
            "hub_id": m.hub_id or None,
        }
        for m in models()
    ]


def gpu_rows() -> list[dict[str, Any]]:
    """The generator's GPU catalogue."""
    from llmsim.generator import gpu_types

    return [
        {
            "short": g.short,
            "name": g.name,
            "memory_mib": g.memory_mib,
            "peak_tflops": g.peak_tflops,
            "tdp_w": g.tdp_w,
        }
        for g in gpu_types()
    ]


def stack_rows() -> list[dict[str, Any]]:
    """The training stacks a run can be generated with."""
    from llmsim.trace.vocab import STACK_NAMES

    return [{"name": k, "long_name": v} for k, v in STACK_NAMES.items()]
