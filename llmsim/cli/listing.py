"""`llmsim list`: the bundled runs, or the catalogue (models, GPU types, stacks), as text or JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Final

import typer

from llmsim.cli import tables
from llmsim.cli.stdio import require_stdout
from llmsim.cli.width import output_width

EXAMPLES: Final = (
    "llmsim list",
    "llmsim list --models",
    "llmsim list --gpus --stacks",
    "llmsim list --json",
)

# Section key in --json, columns, rows: one entry per catalogue `llmsim list` can show.
Section = tuple[str, Sequence[tables.Column], Callable[[], list[dict[str, Any]]]]
MODELS: Final[Section] = ("models", tables.MODEL_COLUMNS, tables.model_rows)
GPUS: Final[Section] = ("gpus", tables.GPU_COLUMNS, tables.gpu_rows)
STACKS: Final[Section] = ("stacks", tables.STACK_COLUMNS, tables.stack_rows)


def bundled_section() -> Section:
    """The bundled runs, read from their traces' configs."""
    from llmsim.bundled import bundled_traces

    return ("runs", tables.RUN_COLUMNS, lambda: tables.run_rows(bundled_traces()))


def show(sections: Sequence[Section], as_json: bool) -> None:
    """Print the sections: aligned tables separated by a blank line, or one JSON document."""
    if as_json:
        doc: dict[str, Any] = {"format": tables.LIST_FORMAT}
        doc.update({key: rows() for key, _, rows in sections})
        typer.echo(json.dumps(doc, indent=2, allow_nan=False))
        return
    width = output_width()
    typer.echo("\n\n".join(tables.render(cols, rows(), width) for _, cols, rows in sections))


def list_command(
    models: Annotated[
        bool,
        typer.Option("--models", help="The model catalogue: parameter count, real or invented."),
    ] = False,
    gpus: Annotated[
        bool, typer.Option("--gpus", help="The GPU types: memory and peak bf16 TFLOPS.")
    ] = False,
    stacks: Annotated[
        bool, typer.Option("--stacks", help="The training stacks a run can be generated with.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON document for scripts (with a format version).")
    ] = False,
) -> None:
    """List the bundled runs, or the models, GPU types and stacks.

    The bundled runs are what `llmsim play RUN`, `llmsim cast RUN` and `llmsim info RUN`
    accept by name. With --models, --gpus or --stacks, list what `llmsim generate` can make instead.
    """
    require_stdout()  # it prints: say a closed stdout before any work
    chosen = [s for s, on in ((MODELS, models), (GPUS, gpus), (STACKS, stacks)) if on]
    show(chosen or [bundled_section()], as_json)
