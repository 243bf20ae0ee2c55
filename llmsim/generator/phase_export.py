"""Export phase: merge, optimize, serialize, write bf16 SafeTensors shards and companion files."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from llmsim.generator.architecture import shards, spec_of, tensors
from llmsim.generator.catalogue import arch_classes
from llmsim.generator.config import EXPORT_SERIALIZE_GBS
from llmsim.generator.rows import Rows
from llmsim.generator.shim import extra_of
from llmsim.generator.telemetry import EXPORT, Segment, budget_mib
from llmsim.trace.config import RunConfig

MAX_SHARD = 5 * 10**9


@dataclass
class ExportResult:
    """The export rows, when the export ended, and what the GPUs did meanwhile."""

    rows: Rows
    end: float
    segments: list[Segment]


def shard_names(n: int) -> list[str]:
    """Hugging Face weight file names for n shards."""
    if n == 1:
        return ["model.safetensors"]
    return [f"model-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)]


def events(
    config: RunConfig, rng: np.random.Generator, t0: float, train_runtime: float, train_loss: float
) -> ExportResult:
    """Rows of the end of training and the export, starting at t0."""
    c = config
    r = Rows()
    spec = spec_of(c)
    final = f"{c.output_dir}/final"
    t = t0
    samples = c.total_steps * c.global_batch
    r.phase(t, "export", "Export")
    r.log(
        t,
        "export",
        "INFO",
        "trainer",
        "Training completed. Do not forget to share your model on huggingface.co/models =)",
    )
    r.log(
        t,
        "export",
        "INFO",
        "trainer",
        f"{{'train_runtime': {round(train_runtime, 4)}, 'train_samples_per_second': "
        f"{round(samples / train_runtime, 3)}, 'train_steps_per_second': "
        f"{round(c.total_steps / train_runtime, 3)}, 'train_loss': {_f32(train_loss)!r}, "
        f"'epoch': {float(c.epochs)}}}",
    )
    t += float(rng.uniform(0.5, 1.5))
    r.log(
        t,
        "export",
        "INFO",
        "export",
        f"Exporting final model to {final}/ (bf16 SafeTensors, max_shard_size=5GB)",
    )
    total_bytes = 2 * c.params
    layer_s = (0.12 + 0.25 * total_bytes / c.layers / 4e9) * float(rng.uniform(0.9, 1.1))
    merge_s = c.layers * layer_s
    r.progress(
        t,
        merge_s,
        "export",
        "merge_weights",
        "Merging weights",
        c.layers,
        "layers",
        min(c.layers, 16),
    )
    t += merge_s + 0.2
    opt_s = c.layers * layer_s * float(rng.uniform(0.8, 1.1))
    r.progress(
        t,
        opt_s,
        "export",
        "optimize",
        "Optimizing for inference",
        c.layers,
        "layers",
        min(c.layers, 16),
    )
    t += opt_s + 0.2
    tensor_list = tensors(spec)
    ser_s = total_bytes / (EXPORT_SERIALIZE_GBS * 1e9) * float(rng.uniform(0.9, 1.1)) + 0.002 * len(
        tensor_list
    )
    r.progress(
        t,
        ser_s,
        "export",
        "serialize",
        "Serializing to SafeTensors",
        len(tensor_list),
        "tensors",
        min(len(tensor_list), 20),
    )
    t += ser_s + 0.2
    parts = shards(spec, MAX_SHARD)
    names = shard_names(len(parts))
    r.log(t, "export", "INFO", "export", f"Configuration saved in {final}/config.json")
    r.log(t, "export", "INFO", "export", f"Configuration saved in {final}/generation_config.json")
    write_gbs = float(extra_of(c).get("export_write_gbs", 3.0))
    r.add(
        t,
        "progress",
        "export",
        op="write_shards",
        text="Writing shards",
        done=0,
        total=len(parts),
        unit="shards",
        elapsed=0.0,
    )
    w0 = t
    for i, (part, name) in enumerate(zip(parts, names, strict=True), start=1):
        size = sum(b for _, b in part)
        t += size / (write_gbs * 1e9) * float(rng.uniform(0.9, 1.1)) + 0.05
        r.add(t, "shard", "export", path=name, size_bytes=size, done=i, total=len(parts))
        r.add(
            t,
            "progress",
            "export",
            op="write_shards",
            text="Writing shards",
            done=i,
            total=len(parts),
            unit="shards",
            elapsed=t - w0,
        )
    if len(parts) > 1:
        r.log(
            t,
            "export",
            "INFO",
            "export",
            "The model is bigger than the maximum size per checkpoint (5GB) and is going to be "
            f"split in {len(parts)} checkpoint shards. You can find where each parameters has "
            f"been saved in the index located at {final}/model.safetensors.index.json.",
        )
    else:
        r.log(t, "export", "INFO", "export", f"Model weights saved in {final}/model.safetensors")
    files = _files(c, parts, names, rng)
    t += 0.1
    for name, size in files:
        t += float(rng.uniform(0.01, 0.08)) + size / 2e9
        if name == "tokenizer_config.json":
            r.log(t, "export", "INFO", "export", f"tokenizer config file saved in {final}/{name}")
        elif name == "special_tokens_map.json":
            r.log(t, "export", "INFO", "export", f"Special tokens file saved in {final}/{name}")
        r.add(t, "file", "export", path=name, size_bytes=size)
    total = total_bytes + sum(s for _, s in files)
    r.log(
        t,
        "export",
        "INFO",
        "export",
        f"Export complete: {total / 1e9:,.2f} GB in {final}/ ({len(parts)} weight "
        f"file{'s' if len(parts) > 1 else ''} holding {total_bytes:,} bytes of bf16 weights, "
        f"{len(files)} other files)",
    )
    budget = budget_mib(c)
    segments = [Segment(t0, t, "export", EXPORT, budget, 0.35 * budget)]
    return ExportResult(r, t, segments)


def _f32(x: float) -> float:
    """A float as it reaches Python from a float32 tensor (`.item()`): 1.9132871627807617."""
    return float(np.float32(x))


def _files(
    c: RunConfig, parts: list[list[tuple[str, int]]], names: list[str], rng: np.random.Generator
) -> list[tuple[str, int]]:
    """Companion files with plausible sizes (the index is sized exactly as HF would write it)."""
    model_cls = arch_classes(c.family)[1]
    tok = int(extra_of(c).get("tokenizer_bytes", 0)) or int(
        c.vocab * float(rng.uniform(55.0, 72.0))
    )
    out = [
        (
            "config.json",
            640 + len(model_cls) + 2 * len(c.transformers_version) + int(rng.integers(0, 160)),
        ),
        ("generation_config.json", int(rng.integers(150, 260))),
        ("tokenizer.json", tok),
        ("tokenizer_config.json", int(rng.integers(3_000, 55_000))),
        ("special_tokens_map.json", int(rng.integers(290, 620))),
    ]
    if len(parts) > 1:
        index = {
            "metadata": {"total_parameters": c.params, "total_size": 2 * c.params},
            "weight_map": {
                t: name for part, name in zip(parts, names, strict=True) for t, _ in part
            },
        }
        out.append(
            ("model.safetensors.index.json", len(json.dumps(index, indent=2, sort_keys=True)) + 1)
        )
    return out
