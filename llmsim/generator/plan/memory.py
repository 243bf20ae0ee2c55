"""GPU memory from its parts: weights, gradients, optimizer state, activations, logits, buffers.

Per pipeline stage, in GiB, for the stack's sharding (FSDP and ZeRO-3 shard everything over the
data-parallel ranks; Megatron's distributed optimizer shards only the optimizer state):

- states: bytes per parameter held by the rank, by how the stack shards them (`STATE_BYTES`,
  the one table of bytes per parameter: a training checkpoint holds the weights and the
  optimizer state of it, `checkpoint_bytes_per_param`);
- activations: per layer and micro-batch, from the hidden and MLP widths (flash attention keeps
  no s x s scores), divided by TP (sequence parallelism), for the recompute mode; a pipeline
  stage holds as many micro-batches in flight as stages follow it (1F1B), the first the most;
- logits on the last stage (the vocabulary over the TP ranks, upcast to fp32 for the loss);
- buffers: gathered layers (FSDP/ZeRO-3 working copies), gradient buckets, cuBLAS workspace;
- the caching allocator reserves a few percent more than it has allocated (fragmentation),
  and the CUDA context and NCCL's own buffers sit outside it (nvidia-smi sees them, torch not).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from llmsim.generator.catalog.architecture import ModelSpec, layer_params
from llmsim.generator.plan.layout import Layout, Sharding
from llmsim.generator.plan.profile import StackProfile

GIB: Final = 1024**3
# (weights, grads, optimizer) bytes per parameter the rank holds, by sharding. FSDP/torchtitan
# keep fp32 sharded parameters and gradients (bf16 only for compute); ZeRO keeps bf16
# parameters/gradients and fp32 master + Adam moments; Megatron keeps bf16 parameters, an fp32
# main-gradient buffer and (distributed optimizer) sharded fp32 state.
STATE_BYTES: Final[dict[Sharding, tuple[float, float, float]]] = {
    "fsdp": (4.0, 4.0, 8.0),
    "zero3": (2.0, 2.0, 12.0),
    "zero2": (2.0, 2.0, 12.0),
    "dist_opt": (2.0, 4.0, 12.0),
}
# What each sharding splits over the data-parallel ranks besides the optimizer state.
WEIGHTS_SHARDED: Final[frozenset[Sharding]] = frozenset({"fsdp", "zero3"})
GRADS_SHARDED: Final[frozenset[Sharding]] = frozenset({"fsdp", "zero3", "zero2"})
# Activation bytes per token and layer: COEF_H x hidden + COEF_F x intermediate + COEF_KV x kv
# (bf16 tensors saved for backward by a SwiGLU/GQA layer with flash attention).
COEF_H, COEF_F, COEF_KV = 14.0, 6.0, 4.0
WORKSPACE_GIB: Final = 1.2  # cuBLAS workspace, allocator blocks for small tensors
CONTEXT_MIB: Final = 560.0  # CUDA context as nvidia-smi counts it, before NCCL


@dataclass(frozen=True)
class StageMemory:
    """What one pipeline stage's ranks hold (GiB, allocated by PyTorch)."""

    weights: float
    grads: float
    optimizer: float
    activations: float
    logits: float
    buffers: float

    @property
    def allocated(self) -> float:
        """Peak allocated GiB: the sum of the parts."""
        return (
            self.weights
            + self.grads
            + self.optimizer
            + self.activations
            + self.logits
            + self.buffers
        )


@dataclass(frozen=True)
class Memory:
    """Per-stage memory of a run, with the allocator's fragmentation and the CUDA context."""

    stages: tuple[StageMemory, ...]
    fragmentation: float  # reserved / allocated - 1
    context_mib: float  # CUDA context + NCCL buffers, outside the caching allocator

    def reserved_gib(self, stage: int) -> float:
        """torch's max reserved on a rank of this stage (torchtitan's `memory:`)."""
        return self.stages[stage].allocated * (1.0 + self.fragmentation)

    def smi_mib(self, stage: int) -> float:
        """What nvidia-smi shows as used on a rank of this stage during training."""
        return self.reserved_gib(stage) * 1024.0 + self.context_mib

    @property
    def peak_smi_mib(self) -> float:
        """The fullest stage as nvidia-smi shows it."""
        return max(self.smi_mib(i) for i in range(len(self.stages)))


def checkpoint_bytes_per_param(sharding: Sharding) -> float:
    """Bytes per parameter of a training checkpoint: the weights and the optimizer state as
    the stack holds them (gradients are not saved)."""
    weights, _, optimizer = STATE_BYTES[sharding]
    return weights + optimizer


def layer_activation_bytes(spec: ModelSpec, seq_len: int, micro_batch: int, tp: int) -> float:
    """Bytes one layer saves for backward for one micro-batch, without recomputation."""
    kv = spec.num_kv_heads * spec.dim_per_head
    per_token = COEF_H * spec.hidden_size + COEF_F * spec.intermediate_size + COEF_KV * kv
    return per_token * seq_len * micro_batch / tp


def _activations(
    spec: ModelSpec,
    profile: StackProfile,
    layout: Layout,
    stage: int,
    seq_len: int,
    in_flight: int,
) -> float:
    full = layer_activation_bytes(spec, seq_len, layout.micro_batch, layout.tp)
    layers = layout.stage_layers[stage]
    if layout.recompute == "full":  # the layer inputs, plus one layer being recomputed
        kept = 2.0 * spec.hidden_size * seq_len * layout.micro_batch / layout.tp
        return (layers * kept * in_flight + full) / GIB
    share = profile.selective_share if layout.recompute == "selective" else 1.0
    return layers * full * share * in_flight / GIB


def _buffers(spec: ModelSpec, sharding: Sharding, layout: Layout) -> float:
    if sharding in WEIGHTS_SHARDED:  # the gathered bf16 layer being computed and the prefetched one
        gathered = 2 * 2.0 * layer_params(spec) / layout.tp
        root = 2.0 * spec.vocab_size * spec.hidden_size / layout.tp
        return (gathered + root) / GIB + WORKSPACE_GIB
    return WORKSPACE_GIB + 0.5  # gradient buckets


def stage_memory(
    spec: ModelSpec,
    profile: StackProfile,
    layout: Layout,
    stage: int,
    seq_len: int,
    micro_batches: int,
) -> StageMemory:
    """The memory of one pipeline stage's ranks at the peak of a step."""
    sharding = profile.sharding(layout)
    n = profile.rank_params(spec, layout, stage)
    w, g, o = STATE_BYTES[sharding]
    dp = layout.dp
    sharded_w = sharding in WEIGHTS_SHARDED
    sharded_g = sharding in GRADS_SHARDED
    in_flight = min(layout.pp - stage, max(1, micro_batches))
    last = stage == layout.pp - 1
    vocab_share = spec.vocab_size / layout.tp
    logits = profile.logit_bytes * seq_len * layout.micro_batch * vocab_share if last else 0.0
    return StageMemory(
        weights=n * w / (dp if sharded_w else 1) / GIB,
        grads=n * g / (dp if sharded_g else 1) / GIB,
        optimizer=n * o / dp / GIB,
        activations=_activations(spec, profile, layout, stage, seq_len, in_flight),
        logits=logits / GIB,
        buffers=_buffers(spec, sharding, layout),
    )


def memory(
    spec: ModelSpec,
    profile: StackProfile,
    layout: Layout,
    seq_len: int,
    micro_batches: int,
    fragmentation: float,
    nccl_mib: float,
) -> Memory:
    """Every stage's memory."""
    stages = tuple(
        stage_memory(spec, profile, layout, i, seq_len, micro_batches) for i in range(layout.pp)
    )
    return Memory(stages, fragmentation, CONTEXT_MIB + nccl_mib)
