"""Memory and step time of post-training runs: LoRA/QLoRA, DPO and GRPO.

- LoRA: the frozen base (bf16, or NF4 for QLoRA: plan/adapters.py) on every GPU (DDP), the fp32
  adapters with their gradients and AdamW moments (16 bytes a trainable parameter), activations
  under gradient checkpointing (TRL's default) and the fp32 logits. A step runs the base's
  forward, its backward for the activations only (no weight gradients), and the recomputed
  forward: 6 FLOPs a frozen parameter and token, as many as full training without
  recomputation; QLoRA dequantises every weight it multiplies, a little slower.
- DPO: chosen and rejected answers go through the policy together (a pair's tokens); the
  reference model's forward adds 2 FLOPs a parameter (with LoRA it is the base with the
  adapters disabled, no copy; fully fine-tuned, a frozen bf16 copy sharded like the policy).
- GRPO: each step generates prompts x generations completions with vLLM, then trains on them.
  Decoding is bound by memory bandwidth (the weights and the KV cache read at every token)
  until the batch is large enough to be bound by compute; the longest completions finish with
  few sequences left (the tail). Training runs the policy's forward and backward on the actual
  tokens, plus the forwards the stack adds (verl's old log-probs; the reference model when
  the KL term is on). vLLM's share of memory sits beside training all the time (TRL colocate)
  or is given back while training (verl frees its KV cache).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from llmsim.generator.catalog.architecture import ModelSpec, param_count
from llmsim.generator.catalog.gpus import GpuSpec
from llmsim.generator.plan.adapters import ADAPTER_BYTES, base_bytes, lookup_params, lora_params
from llmsim.generator.plan.choice import Choice
from llmsim.generator.plan.layout import GPUS_PER_NODE, Layout
from llmsim.generator.plan.memory import (
    CONTEXT_MIB,
    GIB,
    WORKSPACE_GIB,
    Memory,
    StageMemory,
    layer_activation_bytes,
    stage_memory,
)
from llmsim.generator.plan.postspec import LoraSpec, PostSpec, RolloutSpec
from llmsim.generator.plan.profile import StackProfile
from llmsim.generator.plan.throughput import (
    BUS_EFFICIENCY,
    HOST_OVERHEAD,
    OVERLAP,
    RING_HOP_S,
    Throughput,
    efficiency,
    step_time,
)
from llmsim.trace.vocab import Adapter

QLORA_SPEED: Final = 0.82  # bitsandbytes' 4-bit matmuls against bf16 ones (dequantise, then GEMM)
# PEFT's LoRA layers run their A and B matmuls, dropout and scaling apart from the frozen GEMM
# on every targeted module: against a fused full fine-tune's rate (LLaMA-Factory's LoRA and
# QLoRA figures on an A100-40GB land here).
LORA_SPEED: Final = 0.78
SMALL_BATCH_TOKENS: Final = 4096  # tokens per micro-batch below which GEMMs fill the GPU less
ADAM_BYTES: Final = 8  # two fp32 moments per trainable parameter
# vLLM decoding: share of the memory bandwidth reached, share of the bf16 peak a decode step's
# small GEMMs reach, and the scheduler/sampler time of each step (V1 engine with CUDA graphs).
# Calibrated on vLLM's throughput benchmark (8B, one H100, 256 concurrent requests).
DECODE_BW: Final = 0.8
DECODE_COMPUTE: Final = 0.25
DECODE_STEP_S: Final = 0.004
PREFILL_COMPUTE: Final = 0.55
TAIL_SHARE: Final = 0.1  # sequences still running while the longest completions finish
TAIL_LENGTH: Final = 2.4  # the longest completions against the mean (capped at the maximum)
ACTIVATION_PEAK_GIB: Final = 1.5  # vLLM's profiled activation peak, besides weights and KV
SYNC_GBS: Final = 80.0  # loading the updated weights into vLLM (same GPUs), GB/s
REWARD_S: Final = 0.4  # scoring a step's completions (rule-based rewards)
PADDING: Final = 1.08  # TRL pads a batch to its longest completion; verl removes padding


def adapter_checkpoint_bytes(spec: ModelSpec, lora: LoraSpec) -> int:
    """A LoRA run's checkpoint: the fp32 adapters, AdamW's two moments of them (optimizer.pt),
    the tokenizer files the Trainer saves with it, and the small state files."""
    trainable = lora_params(spec, lora)
    return (ADAPTER_BYTES + ADAM_BYTES) * trainable + spec.tokenizer_bytes + 64_000


def mode_fits(adapter: Adapter, zero_stage: int, gpus: int) -> bool:
    """Adapters train under DDP (every GPU holds the base: ZeRO stage 0); a full post-training
    run shards its states (FSDP, stage 3) once it has several GPUs."""
    if adapter != "none":
        return zero_stage == 0
    return zero_stage == 3 or gpus == 1


def kv_bytes_per_token(spec: ModelSpec, tp: int) -> float:
    """bf16 K and V of every layer for one token, on one GPU of a TP group."""
    return 2.0 * spec.num_layers * spec.num_kv_heads * spec.dim_per_head * 2.0 / tp


def decode_step_s(spec: ModelSpec, gpu: GpuSpec, tp: int, batch: float, context: float) -> float:
    """One decoding step of `batch` sequences of `context` tokens on a TP group of `tp` GPUs."""
    weights = 2.0 * param_count(spec) / tp
    kv = batch * context * kv_bytes_per_token(spec, tp)
    memory_s = (weights + kv) / (gpu.mem_bw_gbs * 1e9 * DECODE_BW)
    compute_s = 2.0 * param_count(spec) / tp * batch / (gpu.peak_tflops * 1e12 * DECODE_COMPUTE)
    return max(memory_s, compute_s) + DECODE_STEP_S


def kv_tokens(spec: ModelSpec, gpu: GpuSpec, tp: int, utilization: float) -> int:
    """Tokens vLLM's KV cache holds on an engine: its share of memory less weights and the
    activation peak, in blocks of 16 tokens (`GPU KV cache size`)."""
    total = gpu.memory_mib * 2**20 * utilization
    free = total - 2.0 * param_count(spec) / tp - ACTIVATION_PEAK_GIB * GIB
    return max(0, int(free / kv_bytes_per_token(spec, tp)) // 16 * 16)


def generation_s(
    spec: ModelSpec, gpu: GpuSpec, gpus: int, completions: int, rollout: RolloutSpec, length: float
) -> float:
    """Seconds to generate `completions` completions of mean `length` tokens."""
    tp = rollout.rollout_tp
    engines = max(1, gpus // tp)
    per_engine = completions / engines
    longest = min(float(rollout.max_completion), TAIL_LENGTH * length)
    fits = kv_tokens(spec, gpu, tp, rollout.gpu_memory_utilization) / (rollout.prompt_len + longest)
    batch = max(1.0, min(per_engine, fits, 1024.0))
    context = rollout.prompt_len + length / 2
    bulk = per_engine * length / batch * decode_step_s(spec, gpu, tp, batch, context)
    tail_batch = max(1.0, batch * TAIL_SHARE)
    tail = (longest - length) * decode_step_s(spec, gpu, tp, tail_batch, context + length)
    prefill = (
        per_engine
        * rollout.prompt_len
        * 2.0
        * param_count(spec)
        / tp
        / (gpu.peak_tflops * 1e12 * PREFILL_COMPUTE)
    )
    return bulk + max(0.0, tail) + prefill + 0.5


def validation_s(choice: Choice, gpus: int, prompts: int) -> float:
    """A validation pass: one greedy completion of each test prompt, then scoring."""
    post = choice.post
    assert post is not None and post.rollout is not None
    rollout = post.rollout
    length = mean_length(rollout)
    return generation_s(choice.model, choice.gpu, gpus, prompts, rollout, length) + REWARD_S


def generated_tokens_per_s(
    spec: ModelSpec, gpu: GpuSpec, gpus: int, completions: int, rollout: RolloutSpec, length: float
) -> float:
    """Completion tokens per second and GPU while generating (what vLLM's `output:` says)."""
    seconds = generation_s(spec, gpu, gpus, completions, rollout, length)
    return completions * length / seconds / gpus


def mean_length(rollout: RolloutSpec) -> float:
    """The run's mean completion length (the lengths move from start to end)."""
    return (rollout.len_start + rollout.len_end) / 2


def _small_batch(layout: Layout, seq_len: int) -> float:
    """GEMMs of a small micro-batch fill the GPU less."""
    tokens = layout.micro_batch * seq_len
    return float(min(1.0, (tokens / SMALL_BATCH_TOKENS) ** 0.12))


def _attention(spec: ModelSpec, seq_len: int, passes: float) -> float:
    """Causal attention FLOPs per token for `passes` forward-equivalents (backward = 2)."""
    return 2.0 * spec.num_layers * spec.num_heads * spec.dim_per_head * seq_len * passes


def adapter_memory(
    spec: ModelSpec, profile: StackProfile, layout: Layout, seq_len: int, post: PostSpec
) -> StageMemory:
    """One GPU of a LoRA/QLoRA run (DDP: every GPU holds the whole base)."""
    assert post.lora is not None
    trainable = lora_params(spec, post.lora)
    base = base_bytes(spec, layout.adapter, post.lora.double_quant)
    tokens = layout.micro_batch * seq_len
    kept = 2.0 * spec.hidden_size * tokens * spec.num_layers  # checkpointed layer inputs
    one_layer = layer_activation_bytes(spec, seq_len, layout.micro_batch, 1)
    dequant = 0.0
    if layout.adapter == "qlora":  # the bf16 copy of the weight being multiplied, and its grad
        dequant = 2 * 2.0 * spec.hidden_size * spec.intermediate_size
    return StageMemory(
        weights=(base + ADAPTER_BYTES * trainable) / GIB,
        grads=ADAPTER_BYTES * trainable / GIB,
        optimizer=ADAM_BYTES * trainable / GIB,
        activations=(kept + one_layer) / GIB,
        logits=profile.logit_bytes * tokens * spec.vocab_size / GIB,
        buffers=WORKSPACE_GIB + dequant / GIB,
    )


def _vllm_mib(gpu: GpuSpec, rollout: RolloutSpec) -> float:
    """What vLLM takes of each GPU (its gpu_memory_utilization of the total)."""
    return gpu.memory_mib * rollout.gpu_memory_utilization


def memory(
    choice: Choice,
    layout: Layout,
    seq_len: int,
    accum: int,
    fragmentation: float,
    nccl_mib: float,
) -> Memory:
    """Per-GPU memory of a post-training run."""
    spec, profile, post = choice.model, choice.profile, choice.post
    assert post is not None
    if layout.adapter != "none":
        stage = adapter_memory(spec, profile, layout, seq_len, post)
        return Memory((stage,), fragmentation, CONTEXT_MIB + nccl_mib)
    stage = stage_memory(spec, profile, layout, 0, seq_len, accum)
    reference = choice.kind == "dpo" or (post.rollout is not None and post.rollout.beta > 0)
    if reference:  # a frozen bf16 copy, sharded like the policy
        ref = 2.0 * param_count(spec) / (layout.dp if layout.zero_stage == 3 else 1)
        stage = replace(stage, weights=stage.weights + ref / GIB)
    context = CONTEXT_MIB + nccl_mib
    if post.rollout is not None:
        vllm = _vllm_mib(choice.gpu, post.rollout)
        style = profile.post_style
        if style is not None and style.colocated:
            context += vllm
        else:  # the KV cache is freed while training: the larger of the two shows
            train = stage.allocated * (1.0 + fragmentation) * 1024.0
            context += max(0.0, vllm - train)
    return Memory((stage,), fragmentation, context)


def _adapter_step(
    choice: Choice, layout: Layout, gpus: int, seq_len: int, accum: int, speed: float
) -> Throughput:
    spec, gpu, post = choice.model, choice.gpu, choice.post
    assert post is not None and post.lora is not None
    tokens = layout.dp * layout.micro_batch * accum * seq_len
    frozen = param_count(spec) - lookup_params(spec)
    trainable = lora_params(spec, post.lora)
    passes = 3.0  # forward, backward for the activations, recomputed forward
    if choice.kind == "dpo":
        passes += 1.0  # the reference: the base with its adapters disabled
    hw = 2.0 * frozen * passes + 6.0 * trainable + _attention(spec, seq_len, passes + 1.0)
    eff = efficiency(spec, gpu, 1, speed) * _small_batch(layout, seq_len) * LORA_SPEED
    if layout.adapter == "qlora":
        eff *= QLORA_SPEED
    pure = tokens * hw / gpus / (gpu.peak_tflops * 1e12 * eff)
    busbw = _busbw(gpu, gpus)
    comm = 0.0
    if layout.dp > 1:  # DDP all-reduces the fp32 adapter gradients (a ring: its hops too)
        ring = 2 * (layout.dp - 1) * RING_HOP_S
        comm = 2.0 * ADAPTER_BYTES * trainable * (layout.dp - 1) / layout.dp / (busbw * 1e9)
        comm += ring
    exposed = max(0.0, comm - OVERLAP * pure) + 0.03 * comm
    step = (pure + exposed) * (1.0 + HOST_OVERHEAD)
    return Throughput(
        flops_per_token=choice.profile.flops_per_token(spec, seq_len, 1),
        hw_flops_per_token=hw,
        efficiency=eff,
        bubble=0.0,
        compute_s=pure,
        comm_s=comm,
        exposed_s=exposed,
        step_s=step,
        tokens_per_step=tokens,
        busbw_gbs=busbw,
    )


def _busbw(gpu: GpuSpec, gpus: int) -> float:
    link = gpu.nvlink_gbs if gpus <= GPUS_PER_NODE else gpu.ib_gbs
    return link * BUS_EFFICIENCY


def _extra_forwards(choice: Choice, th: Throughput, seq_len: int, forwards: float) -> Throughput:
    """`th` with `forwards` more forward passes over the step's tokens (reference, old
    log-probs), at the same efficiency."""
    spec = choice.model
    frozen = param_count(spec) - lookup_params(spec)
    per_token = (2.0 * frozen + _attention(spec, seq_len, 1.0)) * forwards
    share = per_token / th.hw_flops_per_token
    extra = th.compute_s * share
    return replace(
        th,
        hw_flops_per_token=th.hw_flops_per_token + per_token,
        compute_s=th.compute_s + extra,
        step_s=th.step_s + extra * (1.0 + HOST_OVERHEAD),
    )


def step(
    choice: Choice, layout: Layout, gpus: int, seq_len: int, accum: int, speed: float
) -> Throughput:
    """The mean step of a post-training run."""
    post = choice.post
    assert post is not None
    if layout.adapter != "none":
        return _adapter_step(choice, layout, gpus, seq_len, accum, speed)
    spec, profile, gpu = choice.model, choice.profile, choice.gpu
    th = step_time(spec, profile, layout, gpu, gpus, seq_len, accum, speed)
    if choice.kind == "dpo":
        return _extra_forwards(choice, th, seq_len, 1.0)
    rollout = post.rollout
    if rollout is None:
        return th
    style = profile.post_style
    completions = th.tokens_per_step // seq_len
    length = mean_length(rollout)
    actual = completions * (rollout.prompt_len + length)
    pad = 1.0 if style is not None and style.old_log_prob else PADDING
    share = min(1.0, actual * pad / th.tokens_per_step)
    trained = replace(
        th,
        compute_s=th.compute_s * share,
        exposed_s=th.exposed_s,
        step_s=(th.compute_s * share + th.exposed_s) * (1.0 + HOST_OVERHEAD),
        tokens_per_step=int(actual),
    )
    forwards = float(rollout.beta > 0) + float(style is not None and style.old_log_prob)
    if forwards:
        trained = _extra_forwards(choice, trained, seq_len, forwards)
    gen = generation_s(spec, gpu, gpus, completions, rollout, length)
    sync = 2.0 * param_count(spec) / (SYNC_GBS * 1e9)  # every engine loads the new weights
    return replace(trained, gen_s=gen, step_s=trained.step_s + gen + sync + REWARD_S)
