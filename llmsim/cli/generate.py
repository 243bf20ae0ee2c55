"""`llmsim generate`: precompute training runs into Parquet traces."""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer

from llmsim.cli import listing, params
from llmsim.cli.completion import complete_gpu_types, complete_models
from llmsim.cli.params import LIST, MODEL_CHOICES, choice, completer
from llmsim.cli.stdio import require_stdout
from llmsim.errors import InputError, UsageError
from llmsim.sanitize import clean, clean_name
from llmsim.trace.vocab import INCIDENT_RATES, RUN_KINDS, STACKS
from llmsim.units import format_size

if TYPE_CHECKING:
    from llmsim.generator import RunPlan
    from llmsim.generator.options import GenerateOptions

MAX_COUNT: Final = 1000
MAX_EPOCHS: Final = 1000
MAX_SIZE: Final = "2GB"  # default --max-size: far above any run meant to be watched
EXAMPLES: Final = (
    "llmsim generate -o runs --count 2 --seed 100",
    "llmsim generate -o runs/llama.parquet --model Llama-3-8B --gpus 64 --stack hf-deepspeed",
    "llmsim generate -o runs --models real --duration 2h10min --incidents often",
    "llmsim generate --model list",
)


def generate(
    output: Annotated[
        str,
        typer.Option(
            "-o",
            "--output",
            metavar="PATH",
            help="Folder for the traces (each named after its run), or the .parquet file to "
            "write when --count is 1.",
        ),
    ] = "llmsim-traces",
    count: Annotated[
        int, typer.Option("-n", "--count", metavar="N", help=f"How many runs (1 to {MAX_COUNT}).")
    ] = 1,
    seed: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="Seed of the first run; the next get seed+1, seed+2, ... The same seed and "
            "options give the same trace, byte for byte. Random if omitted.",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            metavar="NAME|list",
            help="A model from the catalogue; `--model list` shows it with parameter counts. "
            "Random if omitted.",
            autocompletion=complete_models,
        ),
    ] = None,
    models: Annotated[
        str | None,
        typer.Option(
            metavar="real|invented|all",
            help="Which models a random pick draws from: real architectures, invented ones or "
            "both. The generator's usual mix of both if omitted.",
            autocompletion=completer(MODEL_CHOICES),
        ),
    ] = None,
    gpus: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="Number of GPUs: 1, 2, 4 or a multiple of 8 up to 4096. Sized to the model if "
            "omitted.",
        ),
    ] = None,
    gpu_type: Annotated[
        str | None,
        typer.Option(
            "--gpu-type",
            metavar="TYPE|list",
            help="GPU type such as H100 or A100; `--gpu-type list` shows them with memory and "
            "TFLOPS. Random if omitted.",
            autocompletion=complete_gpu_types,
        ),
    ] = None,
    stack: Annotated[
        str | None,
        typer.Option(
            metavar=f"{'|'.join(STACKS)}|list",
            help="The training stack whose logs the run prints; `--stack list` names them. "
            "Chosen to suit the model and cluster if omitted.",
            autocompletion=completer((*STACKS, LIST)),
        ),
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            metavar="|".join(RUN_KINDS),
            help="Pretraining (a window late in a long run), a full fine-tune, or post-training: "
            "lora (LoRA/QLoRA adapters), dpo (preference optimisation), grpo (RL with vLLM "
            "rollouts). Random if omitted; a model too big for a full fine-tune on the GPUs "
            "asked for becomes a LoRA run.",
            autocompletion=completer(RUN_KINDS),
        ),
    ] = None,
    incidents: Annotated[
        str,
        typer.Option(
            metavar="|".join(INCIDENT_RATES),
            help="How often things go wrong and recover as in real runs (loss spikes, a slow "
            "or lost rank, a restart from the last checkpoint): none; rare, about one run "
            "in three restarts and most show a smaller incident; often, nearly every "
            "multi-GPU run restarts and spikes (for demos).",
            autocompletion=completer(INCIDENT_RATES),
        ),
    ] = "rare",
    epochs: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help=f"Epochs (1 to {MAX_EPOCHS}). One for pretraining, 2 to 4 for fine-tuning if "
            "omitted.",
        ),
    ] = None,
    steps_per_epoch: Annotated[
        int | None,
        typer.Option(
            "--steps-per-epoch",
            metavar="N",
            help="Optimizer steps per epoch. Follows from --duration if omitted.",
        ),
    ] = None,
    duration: Annotated[
        str | None,
        typer.Option(
            metavar="DURATION",
            help="Simulated length of the whole run, e.g. 20m, 1h30m or 2h10min. 10 to 30 "
            "minutes if omitted.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("-f", "--force", help="Overwrite traces that exist already.")
    ] = False,
    max_size: Annotated[
        str,
        typer.Option(
            "--max-size",
            metavar="SIZE",
            help="Refuse, before anything is written, runs whose traces would take more than "
            "this all together (the generator's estimate), e.g. 500MB or 20GB.",
        ),
    ] = MAX_SIZE,
) -> None:
    """Precompute training runs into Parquet traces.

    `llmsim play` and `llmsim cast` read the traces; `llmsim info` describes them. No options: one random, plausible run. Each trace is written under a temporary name and
    renamed into place only when complete; existing files are kept unless --force is given.
    """
    require_stdout()  # it prints: say a closed stdout before any work
    lists = _catalogue_requests(model, gpu_type, stack)
    if lists:
        listing.show(lists, as_json=False)
        return
    folder = _check_output(output, count)
    params.at_least(count, 1, "--count", MAX_COUNT)
    _check_seeds(seed, count)
    limit = params.size(max_size, "--max-size")
    params.at_least(epochs, 1, "--epochs", MAX_EPOCHS)
    params.at_least(steps_per_epoch, 1, "--steps-per-epoch")
    from llmsim.generator.options import GenerateOptions

    base = GenerateOptions(
        seed=seed,
        model=model,
        models=None if models is None else choice(models, MODEL_CHOICES, "--models"),
        gpus=gpus,
        gpu_type=gpu_type,
        stack=None if stack is None else choice(stack, STACKS, "--stack"),
        kind=None if kind is None else choice(kind, RUN_KINDS, "--kind"),
        incidents=choice(incidents, INCIDENT_RATES, "--incidents"),
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        duration=params.duration(duration, "--duration"),
    )
    _check_model_class(base)
    plans = _plan(base, count)
    targets = _targets(plans, folder, force)
    _check_size(plans, limit)
    _check_space(plans, folder)
    for plan, target in zip(plans, targets, strict=True):
        _write(plan, target, force)


def _check_output(output: str, count: int) -> Path:
    """-o names a folder or (with --count 1) a .parquet file: refuse anything else at once."""
    if not output.strip():
        raise UsageError(f"-o {output!r} names no folder or file")
    if output == "-":
        raise UsageError(
            "-o -: traces are Parquet files, not a stream; give a folder or a .parquet file"
        )
    path = Path(output)
    if path.suffix == ".parquet":
        if count != 1:
            raise UsageError("-o names one .parquet file; give a folder to write --count > 1 runs")
    elif path.exists() and not path.is_dir():
        raise InputError(
            f"{output}: exists and is not a folder (-o names a folder for the traces, "
            "or a .parquet file)"
        )
    return path


def _check_seeds(seed: int | None, count: int) -> None:
    """--seed N with --count M uses seeds N to N+M-1: refuse at once, naming what the user
    typed, a batch whose seeds would go past the largest (not after planning its first run)."""
    if seed is None:
        return
    from llmsim.generator.plan.make import MAX_SEED

    if not 0 <= seed <= MAX_SEED:
        raise UsageError(f"--seed must be from 0 to {MAX_SEED}, not {seed}")
    if seed + count - 1 > MAX_SEED:
        raise UsageError(
            f"--seed {seed} with --count {count} needs seeds up to {seed + count - 1}, over the "
            f"largest, {MAX_SEED}; --seed {MAX_SEED - count + 1} or lower gives {count} runs"
        )


def _catalogue_requests(
    model: str | None, gpu_type: str | None, stack: str | None
) -> list[listing.Section]:
    wanted = (
        (model, listing.MODELS),
        (gpu_type, listing.GPUS),
        (stack, listing.STACKS),
    )
    return [section for value, section in wanted if value is not None and value.lower() == LIST]


def _check_model_class(options: GenerateOptions) -> None:
    """--model and --models must agree (an invented model is not drawn from `real`)."""
    if options.model is None or options.models in (None, "all"):
        return
    from llmsim.generator import models

    entry = next((m for m in models() if m.name.lower() == options.model.lower()), None)
    if entry is not None and entry.invented != (options.models == "invented"):
        what = "an invented" if entry.invented else "a real"
        raise UsageError(
            f"--model {entry.name} is {what} model; it contradicts --models {options.models}"
        )


def _plan(base: GenerateOptions, count: int) -> list[RunPlan]:
    """One plan per run; with --seed the runs get seed, seed+1, ... (random seeds otherwise)."""
    import dataclasses

    from llmsim.generator import plan_run

    def seeded(i: int) -> GenerateOptions:
        return base if base.seed is None else dataclasses.replace(base, seed=base.seed + i)

    return [plan_run(seeded(i)) for i in range(count)]


def _targets(plans: Sequence[RunPlan], output: Path, force: bool) -> list[Path]:
    """Where each run goes; refuse before writing anything if one is there already."""
    from llmsim.fileio import exists_error

    if output.suffix == ".parquet":
        targets = [output]
    else:
        targets = [output / f"{p.config.name}.parquet" for p in plans]
    seen: set[Path] = set()
    for target in targets:
        if target in seen:
            raise UsageError(f"two runs would both be written to {target}; try another --seed")
        seen.add(target)
        if os.path.lexists(target) and not force:
            raise exists_error(target)
    return targets


def _check_size(plans: Sequence[RunPlan], limit: int) -> None:
    """Refuse at once runs whose traces together would exceed --max-size (by estimate)."""
    need = sum(p.estimated_bytes for p in plans)
    if need > limit:
        runs = "the run" if len(plans) == 1 else f"the {len(plans)} runs"
        raise UsageError(
            f"{runs} would write about {format_size(need)} of traces, over the limit of "
            f"{format_size(limit)}; --max-size {_round_up(need)} allows it"
        )


def _round_up(size: int) -> str:
    """A --max-size value just above `size`, as a user would type it: 11GB, 300MB."""
    for unit, scale in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6)):
        if size >= scale:
            return f"{math.ceil(size / scale)}{unit}"
    return "1MB"


def _check_space(plans: Sequence[RunPlan], output: Path) -> None:
    """Refuse at once a batch that cannot fit on the disk, instead of failing half-way."""
    folder = output.parent if output.suffix == ".parquet" else output
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return  # the write itself will say what is wrong
    need = sum(p.estimated_bytes for p in plans)
    if need > free:
        raise InputError(
            f"not enough space in {folder}: the traces need about {format_size(need)}, "
            f"{format_size(free)} are free"
        )


def _write(plan: RunPlan, target: Path, force: bool) -> None:
    from llmsim.cli.signals import terminate_as_interrupt
    from llmsim.generator import write_trace

    with terminate_as_interrupt():
        rows = write_trace(plan, target, overwrite=force)
    c = plan.config
    size = target.stat().st_size
    details = (
        f"{c.model}, {c.kind}, {c.stack}, {c.gpus} x {c.gpu_short}, {c.total_steps:,} steps, "
        f"{rows:,} rows, {size / 1e6:.1f} MB"
    )
    typer.echo(f"wrote {clean_name(str(target))}  ({clean(details)})")
