"""vLLM 0.10.2's engine start-up as TRL's colocated GRPO prints it (every rank builds an `LLM`).

Source: the vllm 0.10.2 wheel (logger.py:25-27 `%(levelname)s %(asctime)s [%(fileinfo)s:
%(lineno)d] %(message)s`, datefmt `%m-%d %H:%M:%S`; the file:line of each call below). TRL's
colocate mode (trl/trainer/grpo_trainer.py:501-547) builds `LLM(..., tensor_parallel_size=
vllm_tensor_parallel_size, gpu_memory_utilization=..., max_num_seqs=per_device_batch x tp x
steps_per_generation, max_model_len=max_prompt+max_completion, distributed_executor_backend=
"external_launcher", seed=process_index // tp, max_num_batched_tokens=4096)`: the V1 engine runs
inside each training process (no `(EngineCore_DP0 pid=...)` prefix), its logger is not
rank-filtered, so each rank's start-up reaches the console; the weight-shard bar is rank 0's
(torch.distributed rank 0) and the CUDA-graph bar the global first rank's. Generation itself
prints nothing (`use_tqdm=False`).
"""

from __future__ import annotations

from typing import Final

from llmsim.generator.catalog.architecture import param_count
from llmsim.generator.catalog.models import arch_classes, base_repo
from llmsim.generator.plan import postcost
from llmsim.generator.rows import Logger
from llmsim.generator.stacks.context import Context
from llmsim.units import format_clock

VERSION: Final = "0.10.2"
AT: Final[dict[str, str]] = {
    "platform": "__init__.py:216",
    "arch": "__init__.py:742",
    "max_len": "__init__.py:1815",
    "chunked": "scheduler.py:222",
    "external": "parallel.py:348",
    "engine": "core.py:76",
    "ranks": "parallel_state.py:1165",
    "flashinfer": "topk_topp_sampler.py:69",
    "load_model": "gpu_model_runner.py:2338",
    "flash_attn": "cuda.py:322",
    "weights": "default_loader.py:268",
    "model_loading": "gpu_model_runner.py:2392",
    "cache_dir": "backends.py:539",
    "dynamo": "backends.py:550",
    "cache_graph": "backends.py:194",
    "compile_graph": "backends.py:215",
    "compile_total": "monitor.py:34",
    "kv_memory": "gpu_worker.py:298",
    "kv_size": "kv_cache_utils.py:864",
    "concurrency": "kv_cache_utils.py:868",
    "graphs": "gpu_model_runner.py:3118",
    "init_engine": "core.py:218",
    "tasks": "llm.py:295",
}
SPLITTING_OPS: Final = (
    '["vllm.unified_attention","vllm.unified_attention_with_output","vllm.mamba_mixer2",'
    '"vllm.mamba_mixer","vllm.short_conv","vllm.linear_attention","vllm.plamo2_mamba_mixer",'
    '"vllm.gdn_attention"]'
)
GIB: Final = 1024**3


def capture_sizes(max_seqs: int) -> list[int]:
    """CUDA graph batch sizes: 1, 2, 4, then multiples of 8 up to the largest (descending)."""
    top = max(8, min(512, max_seqs // 8 * 8))
    return sorted([1, 2, 4, *range(8, top + 1, 8)], reverse=True)


def engine_config(ctx: Context, rank: int, max_len: int, tp: int, max_seqs: int) -> str:
    """VllmConfig.__str__ (config/__init__.py:3709-3739) as the engine line prints it."""
    model = base_repo(ctx.plan.choice.model)
    sizes = capture_sizes(max_seqs)
    compilation = (
        '{"level":3,"debug_dump_path":"","cache_dir":"","backend":"","custom_ops":[],'
        f'"splitting_ops":{SPLITTING_OPS},"use_inductor":true,"compile_sizes":[],'
        '"inductor_compile_config":{"enable_auto_functionalized_v2":false},'
        '"inductor_passes":{},"cudagraph_mode":1,"use_cudagraph":true,'
        '"cudagraph_num_of_warmups":1,"cudagraph_capture_sizes":'
        f"[{','.join(str(s) for s in sizes)}],"
        '"cudagraph_copy_inputs":false,"full_cuda_graph":false,"pass_config":{},'
        f'"max_capture_size":{sizes[0]},"local_cache_dir":null}}'
    )
    return (
        f"Initializing a V1 LLM engine (v{VERSION}) with config: model='{model}', "
        f"speculative_config=None, tokenizer='{model}', skip_tokenizer_init=False, "
        "tokenizer_mode=auto, revision=None, tokenizer_revision=None, trust_remote_code=False, "
        f"dtype=torch.bfloat16, max_seq_len={max_len}, download_dir=None, load_format=auto, "
        f"tensor_parallel_size={tp}, pipeline_parallel_size=1, data_parallel_size=1, "
        "disable_custom_all_reduce=False, quantization=None, enforce_eager=False, "
        "kv_cache_dtype=auto, device_config=cuda, decoding_config=DecodingConfig("
        "backend='auto', disable_fallback=False, disable_any_whitespace=False, "
        "disable_additional_properties=False, reasoning_backend=''), observability_config="
        "ObservabilityConfig(show_hidden_metrics_for_version=None, otlp_traces_endpoint=None, "
        f"collect_detailed_traces=None), seed={rank // tp}, served_model_name={model}, "
        "enable_prefix_caching=True, chunked_prefill_enabled=True, use_async_output_proc=True, "
        f"pooler_config=None, compilation_config={compilation}"
    )


def _bar_line(desc: str, done: int, total: int, seconds: float) -> str:
    """weight_utils.py's `_BAR_FORMAT`: a line per update (it ends in a newline)."""
    pct = 100 * done // total if total else 100
    if done == 0:
        return f"{desc}: {pct:3d}% Completed | {done}/{total} [00:00<?, ?it/s]"
    rate = done / max(seconds, 1e-3)
    left = (total - done) / rate
    return (
        f"{desc}: {pct:3d}% Completed | {done}/{total} "
        f"[{format_clock(seconds)}<{format_clock(left)}, {rate:5.2f}it/s]"
    )


def _finished_bar(desc: str, n: int, seconds: float) -> str:
    """A finished default tqdm bar as the log keeps it."""
    rate = n / max(seconds, 1e-3)
    return f"{desc}: 100%|██████████| {n}/{n} [{format_clock(seconds)}<00:00, {rate:.2f}it/s]"


def startup(ctx: Context, ranks: list[int], max_seqs: int) -> float:
    """Every printing rank's engine start-up, interleaved in time; returns the seconds it took
    (the slowest rank's)."""
    post = ctx.plan.choice.post
    assert post is not None and post.rollout is not None
    rollout = post.rollout
    spec, gpu = ctx.plan.choice.model, ctx.plan.choice.gpu
    tp = rollout.rollout_tp
    max_len = rollout.max_prompt + rollout.max_completion
    model = base_repo(spec)
    weights_gib = 2.0 * param_count(spec) / tp / GIB
    kv_tokens = postcost.kv_tokens(spec, gpu, tp, rollout.gpu_memory_utilization)
    kv_gib = kv_tokens * postcost.kv_bytes_per_token(spec, tp) / GIB
    cached = bool(ctx.rng.random() < 0.5)  # the compile cache from an earlier launch
    flashinfer = bool(ctx.rng.random() < 0.7)  # vLLM's wheel does not bring FlashInfer
    cache_hex = "".join(f"{int(b):02x}" for b in ctx.rng.integers(0, 256, 5))
    shards = spec.hub.weight_files if spec.hub else 1
    start = ctx.clock.t
    ends = []
    for i, rank in enumerate(ranks):
        log = ctx.logger("init", "vllm")
        ctx.clock.t = start + 0.02 * i + float(ctx.rng.uniform(0.0, 0.3))
        _one_rank(
            ctx,
            log,
            rank,
            rank == 0,
            max_len,
            tp,
            max_seqs,
            model,
            weights_gib,
            kv_tokens,
            kv_gib,
            cached,
            flashinfer,
            cache_hex,
            shards,
        )
        ends.append(ctx.clock.t)
    ctx.clock.t = max(ends)
    return ctx.clock.t - start


def _one_rank(
    ctx: Context,
    log: Logger,
    rank: int,
    first: bool,
    max_len: int,
    tp: int,
    max_seqs: int,
    model: str,
    weights_gib: float,
    kv_tokens: int,
    kv_gib: float,
    cached: bool,
    flashinfer: bool,
    cache_hex: str,
    shards: int,
) -> None:
    c, rng = ctx.config, ctx.rng
    log.info(f"Resolved architecture: {arch_classes(c.family)[1]}", AT["arch"], dt=0.6)
    log.info(f"Using max model len {max_len}", AT["max_len"], dt=0.01)
    log.info("Chunked prefill is enabled with max_num_batched_tokens=4096.", AT["chunked"], dt=0.01)
    log.info("Disabling V1 multiprocessing for external launcher.", AT["external"])
    log.info(engine_config(ctx, rank, max_len, tp, max_seqs), AT["engine"], dt=0.2)
    log.info(
        f"rank {rank} in world size {c.gpus} is assigned as DP rank 0, PP rank 0, "
        f"TP rank {rank % tp}, EP rank 0",
        AT["ranks"],
        dt=float(rng.uniform(0.3, 1.5)),
    )
    if flashinfer:
        log.warning(
            "FlashInfer is not available. Falling back to the PyTorch-native implementation of "
            "top-p & top-k sampling. For the best performance, please install FlashInfer.",
            AT["flashinfer"],
            dt=0.05,
        )
    log.info(f"Starting to load model {model}...", AT["load_model"], dt=0.1)
    log.info("Using Flash Attention backend on V1 engine.", AT["flash_attn"], dt=0.05)
    load_s = weights_gib * float(rng.uniform(0.12, 0.3))
    if first:
        plain = log.at("plain")
        desc = "Loading safetensors checkpoint shards"
        for k in range(shards + 1):
            plain.info(
                _bar_line(desc, k, shards, load_s * k / shards), dt=load_s / shards if k else 0.05
            )
    else:
        ctx.clock.tick(load_s)
    log.info(f"Loading weights took {load_s:.2f} seconds", AT["weights"], dt=0.05)
    took = load_s + float(rng.uniform(0.3, 1.0))
    log.info(
        f"Model loading took {weights_gib:.4f} GiB and {took:.6f} seconds", AT["model_loading"]
    )
    log.info(
        f"Using cache directory: /root/.cache/vllm/torch_compile_cache/{cache_hex}/rank_{rank}_0/"
        "backbone for vLLM's torch.compile",
        AT["cache_dir"],
        dt=float(rng.uniform(0.5, 1.5)),
    )
    dynamo = float(rng.uniform(4.0, 8.0))
    log.info(f"Dynamo bytecode transform time: {dynamo:.2f} s", AT["dynamo"], dt=dynamo)
    if cached:
        load = float(rng.uniform(0.8, 2.5))
        log.info(
            f"Directly load the compiled graph(s) for dynamic shape from the cache, took {load:.3f} s",
            "backends.py:161",
            dt=load,
        )
        total = dynamo + load
    else:
        log.info("Cache the graph for dynamic shape for later use", AT["cache_graph"], dt=2.0)
        compile_s = float(rng.uniform(15.0, 30.0))
        log.info(
            f"Compiling a graph for dynamic shape takes {compile_s:.2f} s",
            AT["compile_graph"],
            dt=compile_s,
        )
        total = dynamo + compile_s
    log.info(f"torch.compile takes {total:.2f} s in total", AT["compile_total"], dt=0.01)
    log.info(f"Available KV cache memory: {kv_gib:.2f} GiB", AT["kv_memory"], dt=1.2)
    log.info(f"GPU KV cache size: {kv_tokens:,} tokens", AT["kv_size"], dt=0.05)
    log.info(
        f"Maximum concurrency for {max_len:,} tokens per request: {kv_tokens / max_len:.2f}x",
        AT["concurrency"],
    )
    graphs = len(capture_sizes(max_seqs))
    capture = graphs * float(rng.uniform(0.05, 0.12))
    if first:
        log.at("plain").info(
            _finished_bar(
                "Capturing CUDA graphs (mixed prefill-decode, PIECEWISE)", graphs, capture
            ),
            dt=capture,
        )
    else:
        ctx.clock.tick(capture)
    log.info(
        f"Graph capturing finished in {capture:.0f} secs, took {float(rng.uniform(0.3, 0.8)):.2f} GiB",
        AT["graphs"],
    )
    engine = took + total + capture + float(rng.uniform(2.0, 6.0))
    log.info(
        f"init engine (profile, create kv cache, warmup model) took {engine:.2f} seconds",
        AT["init_engine"],
        dt=0.1,
    )
    log.info("Supported_tasks: ['generate']", AT["tasks"], dt=0.05)


def platform(ctx: Context, ranks: list[int]) -> None:
    """`import vllm` in every process (TRL imports it with its GRPO trainer)."""
    for _ in ranks:
        ctx.logger("init", "vllm").info(
            "Automatically detected platform cuda.",
            AT["platform"],
            dt=float(ctx.rng.uniform(0.0, 0.08)),
        )
