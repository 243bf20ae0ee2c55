"""Export phase: the run's own script converts the sharded checkpoint to Hugging Face format.

It gathers the shards into full tensors, prepares them for inference, serialises them to
SafeTensors and writes bf16 shards of at most 5 GB (transformers 4.x naming), then the
companion files. It prints in the run's tooling format (`tool`, origin `export`); the player
draws its four bars and the `Saved:` lines from the progress, shard and file rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from llmsim.generator.catalog.architecture import MAX_SHARD_LABEL, shard_names, shards, tensors
from llmsim.generator.catalog.models import saved_tokenizer_files, tokenizer_file_bytes
from llmsim.generator.phases import export_adapter
from llmsim.generator.phases.telemetry import EXPORT, Segment
from llmsim.generator.plan.runplan import RunPlan
from llmsim.generator.plan.timing import export_bytes, export_parts, write_seconds
from llmsim.generator.rows import Clock, Rows
from llmsim.generator.stacks.common.hfconfig import generation_config, model_config

ORIGIN = "export"


@dataclass
class ExportResult:
    """The export rows, when the export ended, and what the GPUs did meanwhile."""

    rows: Rows
    end: float
    segments: list[Segment]


def _source(plan: RunPlan) -> str:
    c = plan.config
    return plan.profile.export_source(c.output_dir, c.total_steps, plan.fit.layout)


def events(plan: RunPlan, rng: np.random.Generator, t0: float) -> ExportResult:
    """Rows of the export, starting at t0 (a LoRA run that keeps its adapters saves them)."""
    if export_adapter.exports_adapter(plan):
        return ExportResult(*export_adapter.events(plan, rng, t0))
    c, spec, io = plan.config, plan.choice.model, plan.io
    rows, clock = Rows(), Clock(t0)
    log = rows.logger("export", "tool", clock, ORIGIN)
    final = f"{c.output_dir}/final"
    rows.phase(t0, "export", "Export")
    log.info(
        f"Converting {_source(plan)} to Hugging Face format: {final}/ (bf16 SafeTensors, "
        f"max_shard_size={MAX_SHARD_LABEL})",
        dt=float(rng.uniform(0.5, 1.5)),
    )
    stage = export_parts(spec, io)
    layer_s = stage.gather / spec.num_layers * float(rng.uniform(0.9, 1.1))
    _bar(
        rows,
        clock,
        "merge_weights",
        "Merging weights",
        spec.num_layers,
        "layers",
        spec.num_layers * layer_s,
    )
    _bar(
        rows,
        clock,
        "optimize",
        "Optimizing for inference",
        spec.num_layers,
        "layers",
        stage.prepare * float(rng.uniform(0.8, 1.2)),
    )
    n_tensors = len(tensors(spec))
    _bar(
        rows,
        clock,
        "serialize",
        "Serializing to SafeTensors",
        n_tensors,
        "tensors",
        stage.serialize * float(rng.uniform(0.9, 1.1)),
    )
    parts = shards(spec)
    _write_shards(plan, rows, clock, parts, rng)
    files = _files(plan, parts)
    for name, size in files:
        clock.tick(float(rng.uniform(0.01, 0.08)) + size / 2e9)
        rows.add(clock.t, "file", "export", path=name, size_bytes=size)
    every = export_bytes(spec) + sum(s for _, s in files)
    log.info(
        f"Export complete: {every / 1e9:,.2f} GB in {final}/ ({len(parts)} weight "
        f"file{'s' if len(parts) > 1 else ''}, {len(files)} other files)",
        dt=0.05,
    )
    return ExportResult(rows, clock.t, [Segment(t0, clock.t, "export", EXPORT, 1.0, 0.3)])


def _bar(rows: Rows, clock: Clock, op: str, label: str, total: int, unit: str, span: float) -> None:
    rows.progress(clock.t, span, "export", op, label, total, unit, min(total, 20))  # type: ignore[arg-type]
    clock.tick(span + 0.2)


def _write_shards(
    plan: RunPlan,
    rows: Rows,
    clock: Clock,
    parts: list[list[tuple[str, int]]],
    rng: np.random.Generator,
) -> None:
    """One process writes the shards at the export speed (2-5 GB/s)."""
    names = shard_names(len(parts))
    rows.add(
        clock.t,
        "progress",
        "export",
        op="write_shards",
        text="Writing shards",
        done=0,
        total=len(parts),
        unit="shards",
        elapsed=0.0,
    )
    w0 = clock.t
    for i, (part, name) in enumerate(zip(parts, names, strict=True), start=1):
        size = sum(b for _, b in part)
        clock.tick(write_seconds(size, plan.io) * float(rng.uniform(0.95, 1.05)) + 0.05)
        rows.add(clock.t, "shard", "export", path=name, size_bytes=size, done=i, total=len(parts))
        rows.add(
            clock.t,
            "progress",
            "export",
            op="write_shards",
            text="Writing shards",
            done=i,
            total=len(parts),
            unit="shards",
            elapsed=clock.t - w0,
        )


def _json_bytes(values: dict[str, Any]) -> int:
    """Bytes of a JSON file as transformers writes it (`to_json_file`)."""
    return len(json.dumps(values, indent=2, sort_keys=True).encode()) + 1


def _files(plan: RunPlan, parts: list[list[tuple[str, int]]]) -> list[tuple[str, int]]:
    """Companion files; the index is sized exactly as transformers writes it."""
    c, spec = plan.config, plan.choice.model
    version = c.transformers_version or "4.57.1"
    out = [  # save_pretrained: json.dumps(indent=2, sort_keys=True) and a newline
        ("config.json", _json_bytes(model_config(spec, version))),
        ("generation_config.json", _json_bytes(generation_config(spec, version))),
    ]
    out += [(name, tokenizer_file_bytes(spec, name)) for name in saved_tokenizer_files(spec)]
    if len(parts) > 1:
        names = shard_names(len(parts))
        index = {
            "metadata": {"total_parameters": c.params, "total_size": export_bytes(spec)},
            "weight_map": {t: n for part, n in zip(parts, names, strict=True) for t, _ in part},
        }
        out.append(
            ("model.safetensors.index.json", len(json.dumps(index, indent=2, sort_keys=True)) + 1)
        )
    return out
