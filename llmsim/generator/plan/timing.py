"""How long the parts of a run around the steps take: storage speeds and their formulas.

Checkpoints are written by every node in parallel at a few GB/s per node, capped by the shared
file system (50-100 GB/s in all); the final export is written by one process at 2-5 GB/s;
evaluation runs the forward pass only. Each formula lives here once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NamedTuple

import numpy as np

from llmsim.generator.catalog.architecture import BF16_BYTES, ModelSpec, param_count
from llmsim.generator.plan.fit import Fit
from llmsim.generator.plan.layout import Sharding
from llmsim.generator.plan.memory import checkpoint_bytes_per_param
from llmsim.generator.plan.profile import StackProfile

NODE_WRITE_GBS: Final = (2.0, 6.0)  # what one node writes to the shared file system
FS_CAP_GBS: Final = (50.0, 100.0)  # the file system's aggregate ceiling
EXPORT_WRITE_GBS: Final = (2.0, 4.5)  # one process writing safetensors
EXPORT_GATHER_GBS: Final = (4.0, 9.0)  # merging the sharded checkpoint into full tensors
SERIALIZE_GBS: Final = 6.0  # converting tensors to safetensors buffers
HUB_READ_GBS: Final = (1.0, 2.5)  # reading a cached Hub checkpoint, per node
# What an evaluation batch spends besides its forward pass, per second of it: the eval loader
# (fewer workers, no prefetch across the pause), the loss gathered and copied to the host every
# batch (`.item()` / gather_for_metrics) and the smaller kernels of a forward-only batch.
EVAL_HOST_GAP: Final = 0.3


@dataclass(frozen=True)
class Io:
    """Storage speeds of the run's cluster (GB/s)."""

    checkpoint_gbs: float  # aggregate write speed of a checkpoint save
    load_gbs: float  # aggregate read speed of a checkpoint load
    export_gbs: float  # the single export writer
    gather_gbs: float  # merging the sharded checkpoint for export
    hub_gbs: float  # loading Hub weights from the local cache


def draw_io(nodes: int, rng: np.random.Generator) -> Io:
    """Storage speeds for a cluster of `nodes` nodes."""
    per_node = float(rng.uniform(*NODE_WRITE_GBS))
    cap = float(rng.uniform(*FS_CAP_GBS))
    write = min(nodes * per_node, cap)
    return Io(
        checkpoint_gbs=write,
        load_gbs=min(write * float(rng.uniform(1.2, 1.6)), cap),
        export_gbs=float(rng.uniform(*EXPORT_WRITE_GBS)),
        gather_gbs=float(rng.uniform(*EXPORT_GATHER_GBS)),
        hub_gbs=float(rng.uniform(*HUB_READ_GBS)),
    )


def checkpoint_bytes(spec: ModelSpec, sharding: Sharding) -> int:
    """Size of one training checkpoint: model and optimizer state as the stack saves them
    (FSDP/DCP: fp32 parameters and Adam moments; ZeRO and Megatron: bf16 parameters with fp32
    master weights and moments)."""
    return round(checkpoint_bytes_per_param(sharding) * param_count(spec))


def export_bytes(spec: ModelSpec) -> int:
    """Size of the exported bf16 weights."""
    return BF16_BYTES * param_count(spec)


def checkpoint_seconds(size: int, io: Io) -> float:
    """Time to write a checkpoint of `size` bytes (plus the barrier and metadata)."""
    return size / (io.checkpoint_gbs * 1e9) + 1.5


def load_seconds(size: int, io: Io) -> float:
    """Time to read a checkpoint of `size` bytes back."""
    return size / (io.load_gbs * 1e9) + 2.0


class ExportParts(NamedTuple):
    """The export's stages, in seconds (the phase draws each one's jitter around them)."""

    gather: float  # merge the sharded checkpoint into whole tensors
    prepare: float  # per-layer preparation for inference
    serialize: float  # to SafeTensors bytes


def export_parts(spec: ModelSpec, io: Io) -> ExportParts:
    """The stages before the shards are written."""
    size = export_bytes(spec)
    return ExportParts(
        size / (io.gather_gbs * 1e9), 0.05 * spec.num_layers, size / (SERIALIZE_GBS * 1e9)
    )


def write_seconds(size: int, io: Io) -> float:
    """Writing `size` bytes of the exported model (one writer)."""
    return size / (io.export_gbs * 1e9)


def export_seconds(spec: ModelSpec, io: Io) -> float:
    """The export: gather the sharded checkpoint, prepare, serialize and write the shards."""
    gather, prepare, serialize = export_parts(spec, io)
    return gather + prepare + serialize + write_seconds(export_bytes(spec), io) + 3.0


def eval_forward_seconds(fit: Fit, profile: StackProfile) -> float:
    """The forward pass of one evaluation batch (no recomputation, no backward).

    Megatron's eval iteration runs a whole global batch through the pipeline
    (`eval_global_batch`); the others a micro-batch per rank.
    """
    fwd_share = 1.0 / 3.0 / (1.0 + (1 / 3 if fit.layout.recompute == "full" else 0.05))
    per_micro = fit.throughput.compute_s / (1.0 + fit.throughput.bubble) / fit.grad_accum
    if profile.eval_global_batch:
        return per_micro * fit.grad_accum * fwd_share * (1.0 + fit.throughput.bubble)
    return per_micro * fwd_share


def eval_batch_seconds(fit: Fit, profile: StackProfile) -> float:
    """One evaluation batch: its forward pass and what the host does around it."""
    forward = eval_forward_seconds(fit, profile)
    return forward * (1.0 + EVAL_HOST_GAP) + (0.05 if profile.eval_global_batch else 0.01)


def eval_busy_share(fit: Fit, profile: StackProfile) -> float:
    """Share of an evaluation's time a kernel runs (nvidia-smi's utilisation follows it)."""
    return eval_forward_seconds(fit, profile) / eval_batch_seconds(fit, profile)


def hub_load_seconds(spec: ModelSpec, io: Io) -> float:
    """Loading the base model's bf16 weights from the Hub cache."""
    return export_bytes(spec) / (io.hub_gbs * 1e9) + 1.0
