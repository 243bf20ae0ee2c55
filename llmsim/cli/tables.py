"""What `llmsim list` and the `--model/--gpu-type/--stack list` options show: rows of plain data.

Each `*_rows` function returns JSON-ready dicts (the work); `render` draws them as an aligned
text table (the printing). Strings from traces are made inert before they are drawn.
"""

from __future__ import annotations

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
    """A table column: the row key, its heading, how to show a value, right-aligned or not."""

    key: str
    heading: str
    right: bool = False
    kind: CellKind = "text"


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


def render(columns: Sequence[Column], rows: Sequence[dict[str, Any]]) -> str:
    """An aligned text table with a heading row (two spaces between columns)."""
    cells = [[c.heading for c in columns]]
    cells += [[_cell(row.get(c.key), c.kind) for c in columns] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = []
    for r in cells:
        parts = [
            v.rjust(w) if c.right else v.ljust(w)
            for v, w, c in zip(r, widths, columns, strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


RUN_COLUMNS: Final = (
    Column("name", "RUN"),
    Column("model", "MODEL"),
    Column("params", "PARAMS", right=True, kind="params"),
    Column("gpus", "GPUS", right=True),
    Column("gpu", "GPU"),
    Column("stack", "STACK"),
    Column("kind", "KIND"),
    Column("duration_s", "LENGTH", right=True, kind="duration"),
)
MODEL_COLUMNS: Final = (
    Column("name", "MODEL"),
    Column("params", "PARAMS", right=True, kind="params"),
    Column("invented", "ARCHITECTURE", kind="invented"),
    Column("family", "FAMILY"),
    Column("hub_id", "HUB ID"),
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
