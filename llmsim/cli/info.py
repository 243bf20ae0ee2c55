"""`llmsim info`: what traces hold, as text or one versioned JSON document."""

from __future__ import annotations

import json
from typing import Annotated, Final

import typer

from llmsim.cli import params, report
from llmsim.cli.completion import complete_runs
from llmsim.cli.stdio import require_stdout
from llmsim.cli.width import output_width
from llmsim.errors import EXIT_OK, LlmsimError

SPARK_WIDTH: Final = 48  # bars of the loss sparkline (JSON, pipes, wide terminals)
EXAMPLES: Final = (
    "llmsim info llama-3-8b-sft",
    "llmsim info llama-3-8b-sft --json",
    "llmsim info runs/*.parquet",
)


def info(
    traces: Annotated[
        list[str],
        typer.Argument(
            metavar="RUN|TRACE...",
            help="Bundled run names (see `llmsim list`) or trace files.",
            show_default=False,
            autocompletion=complete_runs,
        ),
    ],
    as_json: Annotated[
        bool,
        typer.Option("--json", help="One JSON document for scripts (with a format version)."),
    ] = False,
) -> None:
    """Show what traces hold: config, stack, timings, loss, summary.

    For each trace: the run, its stack, model, cluster, batch and schedule, the phase
    timings, the loss with a sparkline, evals, checkpoints, warnings and the summary. A trace that cannot be read is reported on its own line; the others are still shown and
    the exit status is 1.
    """
    require_stdout()  # it prints: say a closed stdout before any work
    from llmsim.info import VALUE_COLUMN, describe, to_json, to_text

    # On a terminal the text fits its width, the loss sparkline too; JSON is the same anywhere.
    width = None if as_json else output_width()
    spark = SPARK_WIDTH if width is None else max(8, min(SPARK_WIDTH, width - VALUE_COLUMN - 34))
    reports, status = [], EXIT_OK
    for name in traces:
        try:
            reports.append(describe(params.resolve_traces([name])[0], spark_width=spark))
        except LlmsimError as exc:
            report.error(str(exc))
            status = max(status, exc.status)
    if as_json:
        typer.echo(json.dumps(to_json(reports), indent=2, sort_keys=True, allow_nan=False))
    elif reports:
        typer.echo("\n\n".join(to_text(r, width) for r in reports))
    if status:
        raise typer.Exit(status)
