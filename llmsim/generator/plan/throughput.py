"""Step time from FLOPs, efficiency, the pipeline bubble and the collectives that do not overlap.

The model: a step executes `hw_flops_per_token` x tokens (the matmuls of forward and backward,
causal attention, plus the recomputed forward) at `efficiency` x peak on every GPU. Efficiency
grows with the hidden size (small matmuls do not fill an H100), loses a little to tensor-parallel
communication, and never exceeds HW_CEILING of peak. Pipelines idle for (pp - 1) / m of the
compute (m micro-batches per step). Data-parallel collectives move the bytes the stack's
sharding needs over NVLink (one node) or InfiniBand (several), mostly hidden behind compute;
what is not hidden adds to the step. MFU is then what each stack prints: torchtitan and
Megatron with their own FLOP formulas (attention counted), the others with 6N.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from llmsim.generator.catalog.architecture import ModelSpec, embedding_params, param_count
from llmsim.generator.catalog.gpus import GpuSpec
from llmsim.generator.plan.layout import GPUS_PER_NODE, Layout
from llmsim.generator.plan.profile import StackProfile

HW_CEILING: Final = 0.78  # executed FLOP/s never above this share of the dense bf16 peak
# Best matmul efficiency of a GPU type and the hidden size at which half of it is reached.
EFFICIENCY: Final[dict[str, tuple[float, float]]] = {"H100": (0.80, 3000.0), "H200": (0.80, 3000.0)}
EFFICIENCY_DEFAULT: Final = (0.80, 1800.0)  # A100s fill up at smaller widths
TP_PENALTY: Final = 0.05  # efficiency lost per doubling of TP (exposed TP/SP collectives)
RECOMPUTE_EXTRA: Final[dict[str, float]] = {"none": 0.0, "selective": 0.05, "full": 1 / 3}
BUS_EFFICIENCY: Final = 0.8  # NCCL bus bandwidth / link bandwidth
OVERLAP: Final = 0.85  # share of the compute that collectives can hide behind
RING_HOP_S: Final = 5e-6  # per-hop latency of a ring step
HOST_OVERHEAD: Final = 0.015  # dataloader, Python, optimizer step: share of the step


@dataclass(frozen=True)
class Throughput:
    """How fast a step goes, and why."""

    flops_per_token: float  # the stack's own model-FLOP definition (what it prints)
    hw_flops_per_token: float  # executed: causal attention and recomputation included
    efficiency: float  # executed FLOP/s / peak while computing
    bubble: float  # (pp - 1) / micro-batches
    compute_s: float  # per step, at `efficiency`, bubble included
    comm_s: float  # data-parallel collectives per step
    exposed_s: float  # the part of comm_s not hidden behind compute
    step_s: float  # mean step time
    tokens_per_step: int
    busbw_gbs: float  # bus bandwidth the data-parallel collectives reach
    gen_s: float = 0.0  # of step_s: generating the step's completions (RL runs; 0 otherwise)

    @property
    def tokens_per_s(self) -> float:
        """Job throughput at the mean step time."""
        return self.tokens_per_step / self.step_s


def hw_flops_per_token(
    spec: ModelSpec, profile: StackProfile, layout: Layout, seq_len: int
) -> float:
    """FLOPs actually executed per token: matmuls, causal attention, recomputed forward."""
    # The input embedding is a lookup; the output layer is a matmul even when it is tied.
    lookup = 0 if spec.tied_embeddings else embedding_params(spec)
    dense = 6.0 * (param_count(spec) - lookup)
    attention = 6.0 * spec.num_layers * spec.num_heads * spec.dim_per_head * seq_len
    extra = RECOMPUTE_EXTRA[layout.recompute]
    if layout.recompute == "selective" and profile.selective_extra is not None:
        extra = profile.selective_extra
    return (dense + attention) * (1.0 + extra)


def efficiency(spec: ModelSpec, gpu: GpuSpec, tp: int, run_factor: float) -> float:
    """Executed FLOP/s over peak while computing: width, TP and the run's own luck."""
    best, half = EFFICIENCY.get(gpu.short, EFFICIENCY_DEFAULT)
    width = spec.hidden_size / (spec.hidden_size + half)
    tp_loss = 1.0 - TP_PENALTY * math.log2(tp)
    return min(HW_CEILING, best * width * tp_loss * run_factor)


def dp_bytes(spec: ModelSpec, profile: StackProfile, layout: Layout, grad_accum: int) -> float:
    """Bytes each GPU sends through data-parallel collectives per step (ring: (n-1)/n)."""
    n = profile.rank_params(spec, layout, 0)
    share = (layout.dp - 1) / layout.dp
    sharding = profile.sharding(layout)
    if sharding == "dist_opt":  # fp32 gradient reduce-scatter + bf16 parameter all-gather, once
        return 6.0 * n * share
    if sharding == "zero2":
        return (2.0 * grad_accum + 2.0) * n * share
    return 3 * 2.0 * n * grad_accum * share  # two all-gathers + a reduce-scatter per micro-batch


def bus_bandwidth(gpu: GpuSpec, gpus: int) -> float:
    """GB/s the data-parallel ring reaches: NVLink inside a node, the GPU's NIC across nodes."""
    link = gpu.nvlink_gbs if gpus <= GPUS_PER_NODE else gpu.ib_gbs
    return link * BUS_EFFICIENCY


def step_time(
    spec: ModelSpec,
    profile: StackProfile,
    layout: Layout,
    gpu: GpuSpec,
    gpus: int,
    seq_len: int,
    grad_accum: int,
    run_factor: float,
) -> Throughput:
    """The mean step of a run."""
    tokens = layout.dp * layout.micro_batch * grad_accum * seq_len
    hw = hw_flops_per_token(spec, profile, layout, seq_len)
    eff = efficiency(spec, gpu, layout.tp, run_factor)
    bubble = (layout.pp - 1) / grad_accum
    pure = tokens * hw / gpus / (gpu.peak_tflops * 1e12 * eff)
    compute = pure * (1.0 + bubble)
    busbw = bus_bandwidth(gpu, gpus)
    comm = 0.0
    if layout.dp > 1:
        rings = 2 * (layout.dp - 1) * RING_HOP_S * 3 * grad_accum
        comm = dp_bytes(spec, profile, layout, grad_accum) / (busbw * 1e9) + rings
    exposed = max(0.0, comm - OVERLAP * pure) + 0.03 * comm
    step = (compute + exposed) * (1.0 + HOST_OVERHEAD)
    return Throughput(
        flops_per_token=profile.flops_per_token(spec, seq_len, layout.tp),
        hw_flops_per_token=hw,
        efficiency=eff,
        bubble=bubble,
        compute_s=compute,
        comm_s=comm,
        exposed_s=exposed,
        step_s=step,
        tokens_per_step=tokens,
        busbw_gbs=busbw,
    )


def mfu(flops_per_token: float, tokens_per_s: float, gpus: int, peak_tflops: float) -> float:
    """Model FLOPs utilisation with a given FLOP definition."""
    return flops_per_token * tokens_per_s / (gpus * peak_tflops * 1e12)
