"""Parallel layouts: how a model is split over tensor, pipeline and data ranks, and the rules every
split obeys (TP divides heads and KV heads and stays inside a node, pipeline stages hold whole
layers). Which splits a stack uses is its profile's (`StackProfile.splits`); plan/fit.py costs
them and keeps the fastest that fits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from llmsim.generator.catalog.architecture import ModelSpec
from llmsim.trace.vocab import Adapter

Recompute = Literal["none", "selective", "full"]
# How the training states are sharded over the data-parallel ranks: FSDP (fp32 parameters,
# gradients and optimizer state, all sharded), ZeRO-3 and ZeRO-2 (bf16 parameters and
# gradients, fp32 master weights and moments), Megatron's distributed optimizer (only the
# optimizer state sharded).
Sharding = Literal["fsdp", "zero3", "zero2", "dist_opt"]
GPUS_PER_NODE: Final = 8
SMALL_COUNTS: Final = (1, 2, 4)  # one partial node
MAX_GPUS: Final = 4096
TP_CHOICES: Final = (1, 2, 4, 8)
PP_CHOICES: Final = (1, 2, 4, 8, 16)


@dataclass(frozen=True)
class Layout:
    """A parallel layout: sizes, layers per pipeline stage, sharding and recomputation."""

    tp: int
    pp: int
    dp: int
    stage_layers: tuple[int, ...]  # decoder layers on each pipeline stage (first to last)
    zero_stage: int  # 3: params/grads/optimizer sharded over dp (FSDP, ZeRO-3); 2; 1: optimizer
    recompute: Recompute
    micro_batch: int
    adapter: Adapter = "none"  # LoRA adapters on a frozen base (bf16 or QLoRA's NF4), or none

    @property
    def uneven(self) -> bool:
        """True when the first or last stage holds fewer layers (Megatron's uneven split)."""
        return len(set(self.stage_layers)) > 1


def valid_gpu_count(gpus: int) -> bool:
    """1, 2, 4 (one partial node) or a multiple of 8 up to MAX_GPUS."""
    return gpus in SMALL_COUNTS or (gpus % GPUS_PER_NODE == 0 and 8 <= gpus <= MAX_GPUS)


def node_shape(gpus: int) -> tuple[int, int]:
    """(nodes, GPUs per node) of a job on `gpus` GPUs: full nodes, or one partial node."""
    per_node = min(gpus, GPUS_PER_NODE)
    return gpus // per_node, per_node


def tp_allowed(spec: ModelSpec, tp: int, gpus: int) -> bool:
    """TP splits heads and KV heads evenly and stays inside one node."""
    return (
        tp <= min(gpus, GPUS_PER_NODE)
        and spec.num_heads % tp == 0
        and spec.num_kv_heads % tp == 0
        and spec.intermediate_size % tp == 0
    )


def stage_split(layers: int, pp: int) -> tuple[int, ...] | None:
    """Layers per stage: even, or Megatron's uneven first/last stage (one layer less each).

    Llama 3 405B trains 126 layers on 16 stages this way (7 + 14 x 8 + 7); Megatron takes it as
    --decoder-first-pipeline-num-layers / --decoder-last-pipeline-num-layers.
    """
    if pp == 1:
        return (layers,)
    if layers % pp == 0:
        return (layers // pp,) * pp
    if pp > 2 and (layers + 2) % pp == 0:
        mid = (layers + 2) // pp
        return (mid - 1, *((mid,) * (pp - 2)), mid - 1)
    return None


def make(
    spec: ModelSpec,
    gpus: int,
    tp: int,
    pp: int,
    zero_stage: int,
    recompute: Recompute,
    micro_batch: int,
    adapter: Adapter = "none",
) -> Layout:
    """A layout from its sizes (the caller has checked the split with its profile)."""
    split = stage_split(spec.num_layers, pp)
    assert split is not None
    return Layout(tp, pp, gpus // (tp * pp), split, zero_stage, recompute, micro_batch, adapter)
