"""Init phase: torchrun launch, NCCL set-up, model config and weights, optimizer, data, banner."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from llmsim.generator.architecture import layer_tensors, shards, size_label, spec_of
from llmsim.generator.catalogue import arch_classes, hub_id
from llmsim.generator.nccl import (
    ZERO_PREFETCH_BUCKET,
    ZERO_REDUCE_BUCKET,
    CommPlan,
    NcclNames,
    comm_plan,
)
from llmsim.generator.rows import Rows
from llmsim.generator.shim import extra_of
from llmsim.generator.telemetry import IDLE, LOAD, Segment, budget_mib
from llmsim.trace.config import RunConfig

MAX_SHARD = 5 * 10**9


@dataclass
class InitResult:
    """The init rows, when training starts, and what the GPUs did meanwhile."""

    rows: Rows
    end: float
    segments: list[Segment]


def events(config: RunConfig, rng: np.random.Generator, nccl: NcclNames) -> InitResult:
    """Rows of the init phase (starting at t = 0)."""
    c = config
    r = Rows()
    target = float(extra_of(c).get("init_seconds", 40.0))
    t = 0.0
    r.phase(t, "init", "Initialization")
    # --- torchrun
    t += 0.04
    glog = "*****************************************"
    for text in (
        "",
        glog,
        "Setting OMP_NUM_THREADS environment variable for each process to be 1 in default, "
        "to avoid your system being overloaded, please further tune the variable for optimal "
        "performance in your application as needed. ",
        glog,
    ):
        r.log(t, "init", "WARNING", "torchrun", text)
    t += float(rng.uniform(0.05, 0.3))
    master = c.hostnames[0]
    run_id = int(rng.integers(10**8, 10**9))
    for text in (
        "Starting elastic_operator with launch configs:",
        "  entrypoint       : train.py",
        f"  min_nodes        : {c.nodes}",
        f"  max_nodes        : {c.nodes}",
        f"  nproc_per_node   : {c.gpus_per_node}",
        f"  run_id           : {run_id}",
        "  rdzv_backend     : c10d",
        f"  rdzv_endpoint    : {master}:29500",
        "  rdzv_configs     : {'timeout': 900}",
        "  max_restarts     : 0",
        "  monitor_interval : 0.1",
        f"  log_dir          : /tmp/torchelastic_{_hex(rng, 8)}",
        "  metrics_cfg      : {}",
        "",
        "[default] starting workers for entrypoint: python3",
        "[default] Rendezvous'ing worker group",
    ):
        r.log(t, "init", "INFO", "torchrun", text)
        t += 0.002
    t += float(rng.uniform(0.8, 4.0)) if c.nodes > 1 else float(rng.uniform(0.1, 0.5))
    local = list(range(c.gpus_per_node))
    world = [c.gpus] * c.gpus_per_node
    for text in (
        "[default] Rendezvous complete for workers. Result:",
        "  restart_count=0",
        f"  master_addr={master}",
        "  master_port=29500",
        "  group_rank=0",
        f"  group_world_size={c.nodes}",
        f"  local_ranks={local}",
        f"  role_ranks={local}",
        f"  global_ranks={local}",
        f"  role_world_sizes={world}",
        f"  global_world_sizes={world}",
        "",
        "[default] Starting worker group",
    ):
        r.log(t, "init", "INFO", "torchrun", text)
    t += float(rng.uniform(2.0, 5.0))  # python start-up and imports in every worker
    r.log(
        t,
        "init",
        "INFO",
        "trainer",
        f"PyTorch {c.torch_version}+cu{c.cuda_version.replace('.', '')}, CUDA {c.cuda_version}, "
        f"NCCL {c.nccl_version}, transformers {c.transformers_version}",
    )
    r.log(
        t,
        "init",
        "INFO",
        "trainer",
        f"Initialized process group: backend nccl, world size {c.gpus} "
        f"({c.nodes} node{'s' if c.nodes > 1 else ''} x {c.gpus_per_node} {c.gpu_short}), "
        "rank 0, local rank 0",
    )
    r.log(
        t,
        "init",
        "INFO",
        "trainer",
        f"Parallelism: {c.strategy}; tensor {c.tp}, pipeline {c.pp}, data {c.dp}",
    )
    idle_end = t
    # --- NCCL communicator
    t = nccl.init_lines(r, t, rng)
    # --- model config and tokenizer
    spec = spec_of(c)
    cfg_cls, model_cls, model_type = arch_classes(c.family)
    base = hub_id(c.model)
    finetune = c.kind == "finetune"
    t += float(rng.uniform(0.3, 1.2))
    where = f"{base}/config.json" if finetune else f"configs/{c.model.lower()}.json"
    r.log(t, "init", "INFO", "model", f"loading configuration file {where}")
    r.log(t, "init", "INFO", "model", f"Model config {cfg_cls} {{")
    for line in _config_lines(c, model_cls, model_type):
        r.log(t, "init", "INFO", "model", line)
    r.log(t, "init", "INFO", "model", "}")
    t += float(rng.uniform(0.4, 1.5))
    tok_src = base
    for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        r.log(
            t,
            "init",
            "INFO",
            "data",
            f"loading file {f} from cache at "
            f"~/.cache/huggingface/hub/models--{tok_src.replace('/', '--')}/{f}",
        )
        t += 0.01
    r.log(
        t,
        "init",
        "INFO",
        "data",
        f"Tokenizer loaded: {c.vocab:,} tokens, model_max_length {c.seq_len}",
    )
    # --- weights
    after_load = float(rng.uniform(3.0, 7.0))
    remaining = max(5.0, target - t - after_load)
    load_start = t + 0.2
    states_mib = (c.mem_weights_gib + c.mem_grads_gib + c.mem_optimizer_gib) * 1024
    ctx_mib = float(rng.uniform(480.0, 620.0))
    if finetune:
        n = len(shards(spec, MAX_SHARD))
        r.log(
            t,
            "init",
            "INFO",
            "model",
            f"loading weights file model.safetensors from cache at "
            f"~/.cache/huggingface/hub/models--{base.replace('/', '--')}/"
            + ("model.safetensors.index.json" if n > 1 else "model.safetensors"),
        )
        r.progress(
            load_start,
            remaining,
            "init",
            "load_checkpoint",
            "Loading checkpoint shards",
            n,
            "shards",
            n,
        )
        t = load_start + remaining
        r.log(
            t,
            "init",
            "INFO",
            "model",
            f"All model checkpoint weights were used when initializing {model_cls}.",
        )
        r.log(
            t,
            "init",
            "INFO",
            "model",
            f"All the weights of {model_cls} were initialized from the model checkpoint at {base}.",
        )
    else:
        r.log(
            t,
            "init",
            "INFO",
            "model",
            f"Initializing {model_cls} from scratch (init std 0.02, {c.layers} layers)",
        )
        r.progress(
            load_start,
            remaining,
            "init",
            "init_weights",
            "Initializing weights",
            c.layers,
            "layers",
            min(c.layers, 16),
        )
        t = load_start + remaining
    load_end = t
    r.log(
        t,
        "init",
        "INFO",
        "model",
        f"Model {c.model}: {c.params:,} parameters ({size_label(c.params)}), {c.layers} layers, "
        f"hidden {c.hidden}, {c.heads} heads ({c.kv_heads} KV), vocab {c.vocab:,}",
    )
    t += float(rng.uniform(0.3, 1.0))
    if c.tp > 1:
        local_params = c.params // (c.tp * c.pp)
        r.log(
            t,
            "init",
            "INFO",
            "model",
            f" > number of parameters on (tensor, pipeline) model parallel rank (0, 0): "
            f"{local_params}",
        )
    for text in _wrap_lines(c, model_cls, comm_plan(c)):
        r.log(t, "init", "INFO", "model", text)
    r.log(
        t, "init", "INFO", "model", f"Applied activation checkpointing to {c.layers} decoder layers"
    )
    r.log(
        t,
        "init",
        "WARNING",
        "model",
        "`use_cache=True` is incompatible with gradient checkpointing. Setting `use_cache=False`.",
    )
    cap_gib = c.gpu_memory_mib / 1024
    weights_gib = c.mem_weights_gib
    r.log(
        t,
        "init",
        "INFO",
        "model",
        f"CUDA memory usage for model: {weights_gib:.2f}GiB({100 * weights_gib / cap_gib:.2f}%)",
    )
    t += float(rng.uniform(0.5, 1.5))
    r.log(
        t,
        "init",
        "INFO",
        "trainer",
        f"Optimizer: AdamW(lr={c.lr_peak:g}, betas=({c.adam_beta1}, {c.adam_beta2}), eps=1e-08, "
        f"weight_decay={c.weight_decay}, fused=True)",
    )
    r.log(
        t,
        "init",
        "INFO",
        "trainer",
        f"LR scheduler: linear warmup for {c.warmup_steps:,} steps, cosine decay to "
        f"{c.lr_min:.2e} at step {c.total_steps:,}",
    )
    t += float(rng.uniform(0.5, 1.5))
    examples = c.steps_per_epoch * c.global_batch
    r.log(t, "init", "INFO", "data", f"Loading dataset {c.dataset}")
    t += max(0.5, target - t - 0.5)
    r.log(
        t,
        "init",
        "INFO",
        "data",
        f"Packed {examples:,} sequences of {c.seq_len:,} tokens: {c.dataset_tokens:,} tokens "
        f"per epoch ({c.dataset_tokens / 1e9:.2f}B)",
    )
    t += 0.3
    lines = [
        "***** Running training *****",
        f"  Num examples = {examples:,}",
        f"  Num Epochs = {c.epochs:,}",
        f"  Instantaneous batch size per device = {c.micro_batch:,}",
        f"  Total train batch size (w. parallel, distributed & accumulation) = {c.global_batch:,}",
        f"  Gradient Accumulation steps = {c.grad_accum}",
        f"  Total optimization steps = {c.total_steps:,}",
        f"  Number of trainable parameters = {c.params:,}",
    ]
    for text in lines:
        r.log(t, "init", "INFO", "trainer", text)
    end = t + 0.05
    budget = budget_mib(c)
    segments = [
        Segment(0.0, idle_end, "init", IDLE, 0.0, 0.0),
        Segment(idle_end, load_start, "init", IDLE, ctx_mib, ctx_mib),
        Segment(load_start, load_end, "init", LOAD, ctx_mib, ctx_mib + weights_gib * 1024),
        Segment(
            load_end,
            end,
            "init",
            LOAD,
            ctx_mib + weights_gib * 1024,
            max(ctx_mib + states_mib, 0.9 * budget),
        ),
    ]
    return InitResult(r, end, segments)


def _wrap_lines(c: RunConfig, model_cls: str, plan: CommPlan | None) -> list[str]:
    """How the model is wrapped for data parallelism, with its gradient bucket plan."""
    if plan is None:
        return [f"Model on a single GPU ({c.strategy}), bf16 mixed precision"]
    if plan.stack == "megatron":
        return [f"Number of buckets for gradient all-reduce / reduce-scatter: {plan.grad_buckets}"]
    if plan.stack == "fsdp":
        layer = sum(n for _, n in layer_tensors(spec_of(c), 0))
        cls = model_cls.replace("ForCausalLM", "DecoderLayer")
        return [
            f"Wrapped model with {c.strategy}: {c.layers + 1} units ({c.layers} x {cls} of "
            f"{layer:,} params, root of {c.params - c.layers * layer:,} params), sharded over "
            f"{c.dp} ranks, bf16 mixed precision"
        ]
    wrap = (
        f"Wrapped model with {c.strategy}: parameters, gradients and optimizer state "
        f"partitioned over {c.dp} ranks, bf16 mixed precision"
    )
    if plan.stack != "zero3":
        return [wrap]
    return [
        wrap,
        f"ZeRO-3: reduce_bucket_size={ZERO_REDUCE_BUCKET}, stage3_prefetch_bucket_size="
        f"{ZERO_PREFETCH_BUCKET}, overlap_comm=True, contiguous_gradients=True; gradients "
        f"reduce-scattered in {plan.grad_buckets} buckets, parameters all-gathered in "
        f"{plan.gather_buckets} per micro-batch",
    ]


def _config_lines(c: RunConfig, model_cls: str, model_type: str) -> list[str]:
    """The `Model config` JSON body as Hugging Face prints it (keys sorted, 2-space indent)."""
    cfg: dict[str, object] = {
        "architectures": [model_cls],
        "attention_bias": c.qkv_bias,
        "attention_dropout": 0.0,
        "head_dim": c.head_dim,
        "hidden_act": "silu",
        "hidden_size": c.hidden,
        "initializer_range": 0.02,
        "intermediate_size": c.ffn,
        "max_position_embeddings": max(c.seq_len, 4096 if c.vocab < 100000 else 8192),
        "model_type": model_type,
        "num_attention_heads": c.heads,
        "num_hidden_layers": c.layers,
        "num_key_value_heads": c.kv_heads,
        "rms_norm_eps": 1e-05,
        "rope_theta": 500000.0 if c.vocab == 128256 else 1000000.0 if c.vocab > 100000 else 10000.0,
        "tie_word_embeddings": c.tied_embeddings,
        "torch_dtype": "bfloat16",
        "transformers_version": c.transformers_version,
        "use_cache": True,
        "vocab_size": c.vocab,
    }
    body = json.dumps(cfg, indent=2, sort_keys=True).splitlines()[1:-1]
    # HF prints lists on several lines; keep it compact like its short arrays.
    return [line for line in body]


def _hex(rng: np.random.Generator, n: int) -> str:
    return "".join("0123456789abcdefghijklmnopqrstuvwxyz"[int(i)] for i in rng.integers(0, 36, n))
