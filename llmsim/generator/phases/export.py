"""Export phase: the stack's converter turns the last checkpoint into Hugging Face files.

It gathers the sharded checkpoint, prepares and serialises the weights and writes the files its
converter writes (the profile's `export_form`: dtype, split, companion files), as progress,
shard and file rows the classic layout draws as its four bars and `Saved:` lines. The converter
runs at the engineer's shell after the job (phases/shell.py types it and prints its own output
from these stages' times); it prints no line of its own here, and the GPUs are idle meanwhile.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmsim.generator.catalog.architecture import shard_names, tensors
from llmsim.generator.catalog.models import saved_tokenizer_files, tokenizer_file_bytes
from llmsim.generator.phases import export_adapter
from llmsim.generator.phases.telemetry import IDLE, Segment
from llmsim.generator.plan.runplan import RunPlan
from llmsim.generator.plan.timing import export_parts, write_seconds
from llmsim.generator.rows import Clock, Rows
from llmsim.generator.stacks.common.hfconfig import generation_config, model_config


@dataclass
class ExportResult:
    """The export rows, when the export ended, and what the GPUs did meanwhile."""

    rows: Rows
    end: float
    segments: list[Segment]
    files: list[tuple[str, int]] = field(default_factory=list)  # (name, bytes) as written
    stages: dict[str, float] = field(default_factory=dict)  # when each stage ended
    written: dict[str, float] = field(default_factory=dict)  # when each file was written


def events(plan: RunPlan, rng: np.random.Generator, t0: float) -> ExportResult:
    """Rows of the export, starting at t0 (a LoRA run that keeps its adapters saves them: its
    files are what ls -lh and the upload at the shell list)."""
    if export_adapter.exports_adapter(plan):
        rows, end, segments = export_adapter.events(plan, rng, t0)
        made = [r for r in rows.rows if r["kind"] == "file"]
        saved = [(str(r["path"]), int(r["size_bytes"])) for r in made]
        at = {str(r["path"]): float(r["t"]) for r in made}
        return ExportResult(rows, end, segments, saved, {}, at)
    spec, io = plan.choice.model, plan.io
    rows, clock = Rows(), Clock(t0)
    form = plan.profile.export_form
    rows.phase(t0, "export", "Export")
    clock.tick(float(rng.uniform(0.5, 1.5)))  # the converter's imports
    stages = {"start": clock.t}
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
    stages["gather"] = clock.t
    _bar(
        rows,
        clock,
        "optimize",
        "Optimizing for inference",
        spec.num_layers,
        "layers",
        stage.prepare * float(rng.uniform(0.8, 1.2)),
    )
    stages["prepare"] = clock.t
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
    stages["serialize"] = clock.t
    parts = form.parts(spec)
    written = _write_shards(plan, rows, clock, parts, rng)
    stages["write"] = clock.t
    files = [(name, size) for name, size in _files(plan, parts) if form.keeps(name)]
    when = {name: t for name, t in rows_written(rows)}
    for name, size in files:
        clock.tick(float(rng.uniform(0.01, 0.08)) + size / 2e9)
        rows.add(clock.t, "file", "export", path=name, size_bytes=size)
        when[name] = clock.t
    stages["files"] = clock.t
    clock.tick(0.05)
    # the job's processes have exited: the converter runs at the shell, node 0 sits idle
    idle = [Segment(t0, clock.t, "export", IDLE, 0.0, 0.0)]
    return ExportResult(rows, clock.t, idle, [*written, *files], stages, when)


def rows_written(rows: Rows) -> list[tuple[str, float]]:
    """(file, when it was written) of the shard rows written so far."""
    return [(str(r["path"]), float(r["t"])) for r in rows.rows if r["kind"] == "shard"]


def _bar(rows: Rows, clock: Clock, op: str, label: str, total: int, unit: str, span: float) -> None:
    rows.progress(clock.t, span, "export", op, label, total, unit, min(total, 20))  # type: ignore[arg-type]
    clock.tick(span + 0.2)


def _write_shards(
    plan: RunPlan,
    rows: Rows,
    clock: Clock,
    parts: list[list[tuple[str, int]]],
    rng: np.random.Generator,
) -> list[tuple[str, int]]:
    """One process writes the shards at the export speed (2-5 GB/s); returns (name, bytes)."""
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
    out = []
    for i, (part, name) in enumerate(zip(parts, names, strict=True), start=1):
        size = sum(b for _, b in part)
        out.append((name, size))
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
    return out


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
            "metadata": {
                "total_parameters": c.params,
                "total_size": sum(b for part in parts for _, b in part),
            },
            "weight_map": {t: n for part, n in zip(parts, names, strict=True) for t, _ in part},
        }
        out.append(
            ("model.safetensors.index.json", len(json.dumps(index, indent=2, sort_keys=True)) + 1)
        )
    return out
