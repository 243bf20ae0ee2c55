"""Parallelism and per-GPU memory: how a model is split over a cluster, and whether it fits."""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1024**3
# Above this many parameters the model is split with tensor (and pipeline) parallelism.
TP_THRESHOLD = 15e9
TP_SIZE = 8
PP_CHOICES = (1, 2, 4, 8, 16)
MIN_ACTIVATIONS_GIB = 4.0  # activations, NCCL buffers, CUDA context: never below this
MAX_FILL = 0.92  # highest fraction of the GPU memory a plan may use
SMALL_COUNTS = (1, 2, 4)  # a single partial node
MAX_GPUS = 4096


@dataclass(frozen=True)
class Layout:
    """A parallelism plan and the per-GPU model-state memory it implies (GiB)."""

    tp: int
    pp: int
    dp: int
    sharded: bool  # FSDP/ZeRO-3 (everything sharded over dp) vs TP/PP + distributed optimizer
    weights_gib: float
    grads_gib: float
    optimizer_gib: float

    @property
    def states_gib(self) -> float:
        """Weights + gradients + optimizer state per GPU."""
        return self.weights_gib + self.grads_gib + self.optimizer_gib


def valid_gpu_count(gpus: int) -> bool:
    """1, 2, 4 (one partial node) or a multiple of 8 up to MAX_GPUS."""
    return gpus in SMALL_COUNTS or (gpus % 8 == 0 and 8 <= gpus <= MAX_GPUS)


def layout(params: int, gpus: int, memory_mib: int) -> Layout | None:
    """The first plan that fits `params` on `gpus` GPUs of `memory_mib` each, or None."""
    capacity_gib = memory_mib / 1024
    budget = MAX_FILL * capacity_gib - MIN_ACTIVATIONS_GIB
    if params <= TP_THRESHOLD or gpus < TP_SIZE:
        # bf16 weights 2 + bf16 grads 2 + fp32 master/m/v 12 = 16 bytes/param, all sharded
        w = 2 * params / gpus / GIB
        plan = Layout(1, 1, gpus, True, w, w, 6 * w)
        return plan if plan.states_gib <= budget else None
    for pp in PP_CHOICES:
        if gpus % (TP_SIZE * pp):
            continue
        w = 2 * params / (TP_SIZE * pp) / GIB
        opt = 12 * params / gpus / GIB
        plan = Layout(TP_SIZE, pp, gpus // (TP_SIZE * pp), False, w, w, opt)
        if plan.states_gib <= budget:
            return plan
    return None


def min_gpus(params: int, memory_mib: int) -> int | None:
    """The smallest valid GPU count the model fits on, or None if not even MAX_GPUS do."""
    for gpus in (*SMALL_COUNTS, *range(8, MAX_GPUS + 1, 8)):
        if layout(params, gpus, memory_mib) is not None:
            return int(gpus)
    return None


def strategy_name(plan: Layout, gpus: int, zero: bool) -> str:
    """How the init logs and `info` name the plan."""
    if gpus == 1:
        return "single GPU (no sharding)"
    if plan.sharded:
        return "DeepSpeed ZeRO-3" if zero else "FSDP (FULL_SHARD)"
    return (
        f"Megatron 3D parallel (TP={plan.tp}, PP={plan.pp}, DP={plan.dp}) + distributed optimizer"
    )
