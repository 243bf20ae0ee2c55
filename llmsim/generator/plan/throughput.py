"""Step time from FLOPs, efficiency, the pipeline bubble and the collectives that do not overlap.

The model: a step executes `hw_flops_per_token` x tokens (the matmuls of forward and backward,
causal attention, plus the recomputed forward) at `efficiency` x peak on every GPU. Efficiency
is the matmuls' share of the peak, which grows with the hidden size (larger GEMMs have higher
arithmetic intensity), slowed by the time the stack spends in unfused, memory-bound kernels
(norms, rotary embeddings, activations: a cost that weighs more on a GPU whose FLOPs outrun its
memory bandwidth) and by the run's luck; it never exceeds HW_CEILING of peak. Tensor-parallel
collectives (sequence parallel: all-gathers and reduce-scatters around each block) move
activations over NVLink; the share the stack does not overlap with its GEMMs adds to every
micro-batch. Pipelines idle for (pp - 1) / m of the compute (m micro-batches per step).
Data-parallel collectives move the bytes the stack's sharding needs over NVLink (one node) or
InfiniBand (several), mostly hidden behind compute; what is not hidden adds to the step. MFU is
then what each stack prints: torchtitan and Megatron with their own FLOP formulas (attention
counted), the others with 6N.

Calibration (docs/realism.md, "Throughput against the published benchmarks"; the table is made
by scripts/throughput): Megatron-LM's weak-scaling table (README at core_v0.15.0, H100, TE
kernels with --tp-comm-overlap) fixes the matmul curve and its TP overlap; torchtitan's own
benchmarks (benchmarks/llama3_h100_202412_torchtitan.md, asyncTP_llama3_h100_2025-06) its
kernel overhead with and without torch.compile and its TP overlap; HF Trainer runs sit below
both at the same size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from llmsim.generator.catalog.architecture import ModelSpec, embedding_params, param_count
from llmsim.generator.catalog.gpus import GpuSpec, find_gpu
from llmsim.generator.catalog.models import find_model
from llmsim.generator.plan import layout as lay
from llmsim.generator.plan.layout import GPUS_PER_NODE, Layout
from llmsim.generator.plan.profile import Benchmark, StackProfile

HW_CEILING: Final = 0.78  # executed FLOP/s never above this share of the dense bf16 peak
# Matmul share of the dense peak a GPU type reaches for very wide models, and the hidden size at
# which half of it is reached. H100: fitted to Megatron-LM's weak-scaling table (41 % MFU at
# hidden 2048, 47 % at 4096 with TP 2, 49 % at 6144 with TP 4, 46 % at 7168 with TP 8). A100s
# fill up at smaller widths and reach a larger share of their (3x lower) peak.
EFFICIENCY: Final[dict[str, tuple[float, float]]] = {"H100": (0.59, 860.0), "H200": (0.59, 860.0)}
EFFICIENCY_DEFAULT: Final = (0.66, 500.0)
# Peak FLOPs per byte of HBM bandwidth of the GPU the stacks' kernel overheads are given for (an
# H100 SXM: 989 TFLOPS over 3.35 TB/s); a GPU with fewer FLOPs per byte loses less to them.
REFERENCE_INTENSITY: Final = 989.0 / 3.35
# Activation bytes a tensor-parallel rank sends per token, layer and hidden unit: sequence
# parallelism all-gathers and reduce-scatters bf16 activations twice per block in the forward
# pass (attention, MLP) and twice in the backward pass: 8 collectives of 2 bytes x hidden, and
# 4 more when the forward pass is recomputed in full.
TP_COLLECTIVES: Final[dict[str, int]] = {"none": 8, "selective": 8, "full": 12}
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
    pure_s: float  # per step: the executed FLOPs alone, at `efficiency`
    tp_s: float  # tensor-parallel collectives per step (bubble not included)
    compute_s: float  # per step, at `efficiency`, exposed TP collectives and bubble included
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


def kernel_overhead(profile: StackProfile, gpu: GpuSpec, compiled: bool) -> float:
    """Time in the stack's unfused kernels per second of matmuls, on this GPU.

    The profile gives it for an H100; memory-bound kernels cost in proportion to the GPU's
    FLOPs per byte of memory bandwidth, so an A100 (312 TFLOPS over 2.0 TB/s) loses about half
    as much and an H200 (4.8 TB/s) less than an H100.
    """
    base = profile.kernel_overhead(compiled)
    if gpu.mem_bw_gbs <= 0:
        return base
    return base * gpu.peak_tflops / (gpu.mem_bw_gbs / 1000) / REFERENCE_INTENSITY


def efficiency(
    spec: ModelSpec, gpu: GpuSpec, profile: StackProfile, compiled: bool, run_factor: float
) -> float:
    """Executed FLOP/s over peak while computing: the matmuls' width, the stack's kernels and
    the run's own luck."""
    best, half = EFFICIENCY.get(gpu.short, EFFICIENCY_DEFAULT)
    width = spec.hidden_size / (spec.hidden_size + half)
    kernels = 1.0 + kernel_overhead(profile, gpu, compiled)
    return min(HW_CEILING, best * width * run_factor / kernels)


def tp_seconds(spec: ModelSpec, layout: Layout, gpu: GpuSpec, tokens: int) -> float:
    """Seconds a tensor-parallel rank spends in TP collectives per step (sequence parallel over
    NVLink; a ring of tp ranks moves (tp - 1) / tp of each tensor)."""
    if layout.tp == 1:
        return 0.0
    per_token_layer = TP_COLLECTIVES[layout.recompute] * 2.0 * spec.hidden_size
    share = (layout.tp - 1) / layout.tp
    layers = max(layout.stage_layers)  # the slowest stage sets the pace
    sent = tokens / layout.dp * layers * per_token_layer * share
    return sent / (gpu.nvlink_gbs * BUS_EFFICIENCY * 1e9)


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
    compiled: bool = False,
) -> Throughput:
    """The mean step of a run (`compiled`: the job torch.compiles its blocks)."""
    tokens = layout.dp * layout.micro_batch * grad_accum * seq_len
    hw = hw_flops_per_token(spec, profile, layout, seq_len)
    eff = efficiency(spec, gpu, profile, compiled, run_factor)
    bubble = (layout.pp - 1) / grad_accum
    pure = tokens * hw / gpus / (gpu.peak_tflops * 1e12 * eff)
    tp = tp_seconds(spec, layout, gpu, tokens)
    compute = (pure + tp * (1.0 - profile.tp_overlap)) * (1.0 + bubble)
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
        pure_s=pure,
        tp_s=tp,
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


def benchmark_model(bench: Benchmark) -> ModelSpec:
    """The model a benchmark trained: a catalogue model, or a GPT of Megatron's table
    (multi-head attention and a 4h MLP: a SwiGLU of width 8h/3 has its parameters and FLOPs)."""
    if bench.gpt is not None:
        hidden, layers, heads = bench.gpt
        return ModelSpec(
            name=bench.model,
            family="gpt",
            vocab_size=131072,
            hidden_size=hidden,
            num_layers=layers,
            num_heads=heads,
            num_kv_heads=heads,
            intermediate_size=8 * hidden // 3,
        )
    spec = find_model(bench.model)
    if spec is None:
        raise ValueError(f"benchmark model {bench.model!r} is not in the catalogue")
    return spec


def at_benchmark(profile: StackProfile, bench: Benchmark) -> tuple[Throughput, float]:
    """The mean step at a benchmark's own layout on a cluster of the best luck (speed 1.0: the
    published runs are tuned ones), and its MFU with the stack's FLOP formula."""
    spec, gpu = benchmark_model(bench), find_gpu(bench.gpu)
    if gpu is None:
        raise ValueError(f"benchmark GPU {bench.gpu!r} is not in the catalogue")
    zero = profile.modes_for(spec)[0][0] if bench.gpt is None else profile.modes[0][0]
    layout = lay.make(
        spec, bench.gpus, bench.tp, bench.pp, zero, bench.recompute, bench.micro_batch
    )
    accum = max(1, bench.global_batch // (layout.dp * bench.micro_batch))
    th = step_time(
        spec, profile, layout, gpu, bench.gpus, bench.seq_len, accum, 1.0, bench.compiled
    )
    return th, mfu(th.flops_per_token, th.tokens_per_s, bench.gpus, gpu.peak_tflops)
