"""Parallel layouts each stack accepts: how a model is split over tensor, pipeline and data ranks.

A layout is legal for its stack (TP divides heads and KV heads and stays inside a node, the
pipeline stages hold whole layers) and fits in memory (`memory.per_stage`); `choose_layout`
returns the smallest model-parallel split that does, as a real user would pick it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from llmsim.generator.catalog.architecture import ModelSpec
from llmsim.trace.vocab import HF_STACKS, Stack

Recompute = Literal["none", "selective", "full"]
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

    @property
    def uneven(self) -> bool:
        """True when the first or last stage holds fewer layers (Megatron's uneven split)."""
        return len(set(self.stage_layers)) > 1


def valid_gpu_count(gpus: int) -> bool:
    """1, 2, 4 (one partial node) or a multiple of 8 up to MAX_GPUS."""
    return gpus in SMALL_COUNTS or (gpus % GPUS_PER_NODE == 0 and 8 <= gpus <= MAX_GPUS)


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


def candidates(spec: ModelSpec, stack: Stack, gpus: int) -> list[tuple[int, int]]:
    """(tp, pp) pairs the stack would use for this model and GPU count, smallest first."""
    if stack in HF_STACKS:
        return [(1, 1)]
    if stack == "torchtitan":  # FSDP2 + TP (the shipped 70B/405B configs use TP 8, no PP)
        return [(tp, 1) for tp in (1, 8) if tp_allowed(spec, tp, gpus) and gpus % tp == 0]
    out = []
    for tp in TP_CHOICES:
        for pp in PP_CHOICES:
            if not tp_allowed(spec, tp, gpus) or gpus % (tp * pp):
                continue
            if stage_split(spec.num_layers, pp) is None or spec.num_layers < 2 * pp:
                continue
            out.append((tp, pp))
    return sorted(out, key=lambda c: (c[0] * c[1], c[1]))


def make(
    spec: ModelSpec,
    stack: Stack,
    gpus: int,
    tp: int,
    pp: int,
    zero_stage: int,
    recompute: Recompute,
    micro_batch: int,
) -> Layout:
    """A layout from its sizes (the caller has checked `candidates`)."""
    split = stage_split(spec.num_layers, pp)
    assert split is not None
    return Layout(tp, pp, gpus // (tp * pp), split, zero_stage, recompute, micro_batch)


def strategy_name(layout: Layout, stack: Stack, gpus: int) -> str:
    """How `llmsim info` and the docs name the layout."""
    if gpus == 1:
        return "single GPU (no sharding)"
    if stack == "hf":
        return f"FSDP FULL_SHARD over {layout.dp} ranks"
    if stack == "hf-deepspeed":
        return f"DeepSpeed ZeRO-{layout.zero_stage} over {layout.dp} ranks"
    if stack == "torchtitan":
        dims = f"dp_shard={layout.dp}" + (f", tp={layout.tp}" if layout.tp > 1 else "")
        return f"FSDP2 ({dims})"
    return f"Megatron TP={layout.tp} PP={layout.pp} DP={layout.dp} (distributed optimizer)"
