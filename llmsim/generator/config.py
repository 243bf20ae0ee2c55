"""Options + seed -> RunConfig: model, cluster, parallelism, memory, batch, schedule, cadences."""

from __future__ import annotations

import math
import secrets

import numpy as np

from llmsim import __version__
from llmsim.generator import cluster
from llmsim.generator.architecture import param_count, tensors
from llmsim.generator.catalogue import (
    FINETUNE_DATASETS,
    GPU_TYPES,
    GPUS,
    MODEL_NAMES,
    MODELS,
    PRETRAIN_DATASETS,
    SOFTWARE,
    GpuSpec,
    ModelSpec,
    find_gpu,
    find_model,
    hub_id,
)
from llmsim.generator.options import GenerateOptions, GeneratorError
from llmsim.generator.shim import remember
from llmsim.trace.config import MAX_STEPS, RunConfig
from llmsim.trace.vocab import Stack

# Sub-stream keys: np.random.default_rng([seed, KEY]) per part, so parts never share draws.
RNG_CONFIG = 0
YEAR_2025 = 1_735_689_600  # 2025-01-01T00:00:00Z
MIN_DURATION = 120.0
MAX_DURATION = 400 * 86400.0
MAX_SEED = 2**63 - 1
CKPT_BYTES_PER_PARAM = 14  # bf16 weights + fp32 master weights + Adam m and v
STEP_MAX = 5.0  # longest mean step time (s) a watchable run uses
BIG_MODEL = 30e9  # from here on: steps near STEP_MAX with the biggest batch that allows
BUS_EFFICIENCY = (0.7, 0.9)  # NCCL ring bus bandwidth / link bandwidth
EXPORT_SERIALIZE_GBS = 6.0
# Random GPU counts by model size (parameters up to, candidate counts).
_CLUSTER_SIZES: tuple[tuple[float, tuple[int, ...]], ...] = (
    (2.5e9, (8, 8, 16, 32, 64)),
    (10e9, (16, 32, 64, 64, 128, 256)),
    (40e9, (64, 128, 256, 512)),
    (100e9, (256, 512, 512, 1024)),
    (math.inf, (1024, 2048, 4096)),
)


def build_config(options: GenerateOptions) -> RunConfig:
    """Derive the whole run configuration deterministically from the options and the seed."""
    seed = _seed(options.seed)
    rng = np.random.default_rng([seed, RNG_CONFIG])
    kind = _kind(options.kind, rng)
    gpu = _gpu(options.gpu_type, rng) if options.gpu_type is not None else None
    model = find_model(options.model) if options.model is not None else None
    if options.model is not None and model is None:
        raise GeneratorError(
            f"unknown model {options.model!r}; choose one of: {', '.join(MODEL_NAMES)}"
        )
    if options.gpus is not None and not cluster.valid_gpu_count(options.gpus):
        raise GeneratorError(
            f"--gpus {options.gpus} is not possible: use 1, 2, 4 or a multiple of 8 "
            f"from 8 to {cluster.MAX_GPUS}"
        )
    model, gpu, gpus = _model_and_cluster(model, gpu, options.gpus, rng)
    epochs, spe_opt, duration = _lengths(options, kind, rng)
    params = param_count(model)
    plan = cluster.layout(params, gpus, gpu.memory_mib)
    assert plan is not None  # _model_and_cluster only returns fitting combinations
    return _derive(
        options, seed, rng, kind, model, gpu, gpus, plan, params, epochs, spe_opt, duration
    )


def _seed(seed: int | None) -> int:
    if seed is None:
        return secrets.randbelow(2**31)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise GeneratorError(f"--seed must be an integer from 0 to {MAX_SEED}, not {seed!r}")
    return seed


def _kind(kind: str | None, rng: np.random.Generator) -> str:
    if kind is None:
        return "finetune" if rng.random() < 0.55 else "pretrain"
    k = kind.strip().lower()
    if k in ("pretrain", "pre-train", "pretraining"):
        return "pretrain"
    if k in ("finetune", "fine-tune", "sft", "finetuning"):
        return "finetune"
    raise GeneratorError(f"unknown kind {kind!r}; choose pretrain or finetune")


def _gpu(name: str, rng: np.random.Generator) -> GpuSpec:
    gpu = find_gpu(name)
    if gpu is None:
        raise GeneratorError(f"unknown GPU type {name!r}; choose one of: {', '.join(GPU_TYPES)}")
    return gpu


def _pick_gpu(rng: np.random.Generator, allowed: list[GpuSpec]) -> GpuSpec:
    weights = {"H100": 0.55, "A100": 0.25, "H200": 0.12, "A100-40GB": 0.08}
    w = np.array([weights.get(g.short, 0.1) for g in allowed])
    return allowed[int(rng.choice(len(allowed), p=w / w.sum()))]


def _pick_model(rng: np.random.Generator, allowed: list[ModelSpec]) -> ModelSpec:
    w = np.array([0.3 if param_count(m) > 100e9 else 1.0 for m in allowed])
    return allowed[int(rng.choice(len(allowed), p=w / w.sum()))]


def _fits(model: ModelSpec, gpu: GpuSpec, gpus: int) -> bool:
    return cluster.layout(param_count(model), gpus, gpu.memory_mib) is not None


def _model_and_cluster(
    model: ModelSpec | None, gpu: GpuSpec | None, gpus: int | None, rng: np.random.Generator
) -> tuple[ModelSpec, GpuSpec, int]:
    """Fill in what the user left open so that the model fits; explain when it cannot."""
    gpu_choices = [gpu] if gpu is not None else list(GPUS)
    if model is None:
        pairs = [(m, g) for m in MODELS for g in gpu_choices if gpus is None or _fits(m, g, gpus)]
        if not pairs:
            assert gpu is not None and gpus is not None
            raise GeneratorError(f"no model in the catalogue fits on {gpus} {gpu.short} GPUs")
        model = _pick_model(rng, sorted({m for m, _ in pairs}, key=MODELS.index))
        gpu_choices = [g for m, g in pairs if m == model]
    if gpus is not None:
        fitting = [g for g in gpu_choices if _fits(model, g, gpus)]
        if not fitting:
            g = gpu_choices[0]
            need = cluster.min_gpus(param_count(model), g.memory_mib)
            raise GeneratorError(
                f"{model.name} does not fit in the memory of {gpus} {g.short} GPUs; "
                f"it needs at least {need} (use --gpus {need} or more)"
                if need
                else f"{model.name} does not fit on any {g.short} cluster of up to "
                f"{cluster.MAX_GPUS} GPUs"
            )
        return model, (gpu if gpu is not None else _pick_gpu(rng, fitting)), gpus
    if gpu is None:
        gpu = _pick_gpu(
            rng, [g for g in GPUS if cluster.min_gpus(param_count(model), g.memory_mib)]
        )
    need = cluster.min_gpus(param_count(model), gpu.memory_mib)
    if need is None:
        raise GeneratorError(f"{model.name} does not fit on any {gpu.short} cluster")
    params = param_count(model)
    sizes = next(s for limit, s in _CLUSTER_SIZES if params <= limit)
    count = int(rng.choice(sizes))
    count = max(count, need)
    while not _fits(model, gpu, count):  # pipeline stages must divide the count
        count += 8
    return model, gpu, count


def _lengths(
    options: GenerateOptions, kind: str, rng: np.random.Generator
) -> tuple[int, int | None, float | None]:
    epochs = options.epochs
    if epochs is None:
        epochs = 1 if kind == "pretrain" else int(rng.integers(2, 5))
    if epochs < 1 or epochs > 1000:
        raise GeneratorError(f"--epochs must be from 1 to 1000, not {epochs}")
    spe = options.steps_per_epoch
    if spe is not None and (spe < 1 or spe * epochs > MAX_STEPS):
        raise GeneratorError(
            f"--steps-per-epoch must be at least 1 and epochs x steps at most {MAX_STEPS:,}"
        )
    duration = options.duration
    if duration is not None and not (MIN_DURATION <= duration <= MAX_DURATION):
        raise GeneratorError(
            f"--duration must be from {MIN_DURATION:.0f} s to {MAX_DURATION / 86400:.0f} days, "
            f"not {duration:g} s"
        )
    return epochs, spe, duration


def nice(x: float) -> int:
    """Round up to a number a person would configure: 1, 2, 5, 10, 20, 25, 50, 100, 200, ..."""
    if x <= 1:
        return 1
    e = 10 ** math.floor(math.log10(x))
    for m in (1, 2, 2.5, 5, 10):
        if m * e >= x and float(m * e).is_integer():
            return int(m * e)
    return int(10 * e)  # pragma: no cover


def _derive(
    options: GenerateOptions,
    seed: int,
    rng: np.random.Generator,
    kind: str,
    model: ModelSpec,
    gpu: GpuSpec,
    gpus: int,
    plan: cluster.Layout,
    params: int,
    epochs: int,
    spe_opt: int | None,
    duration_opt: float | None,
) -> RunConfig:
    gpn = min(gpus, 8)
    nodes = gpus // gpn
    zero = bool(rng.random() < 0.4)
    # --- memory: states + activations land at 78-92 % of the GPU memory
    capacity_gib = gpu.memory_mib / 1024
    fill = float(rng.uniform(0.78, cluster.MAX_FILL))
    activations = max(cluster.MIN_ACTIVATIONS_GIB, fill * capacity_gib - plan.states_gib)
    # --- throughput from MFU
    mfu = float(rng.uniform(gpu.mfu_lo + 0.06, gpu.mfu_hi - 0.04))
    tps = mfu * gpus * gpu.peak_tflops * 1e12 / (6.0 * params)
    seq_opts = [
        s
        for s in ((2048, 4096, 8192) if kind == "pretrain" else (2048, 4096))
        if s <= model.max_seq
    ]
    seq_len = int(rng.choice(seq_opts))
    # --- lengths: duration -> steps (or steps given)
    duration = duration_opt if duration_opt is not None else float(rng.uniform(600.0, 1800.0))
    init_s = float(
        rng.uniform(20.0, 45.0) + (25.0 if kind == "finetune" else 0.0) + min(20.0, params / 2e10)
    )
    ckpt_bytes = CKPT_BYTES_PER_PARAM * params
    ckpt_gbs = float(rng.uniform(20.0, 60.0))
    ckpt_s = ckpt_bytes / (ckpt_gbs * 1e9) + 1.5
    write_gbs = float(min(20.0, max(2.0, 1.5 * nodes)) * rng.uniform(0.8, 1.2))
    export_s = export_seconds(2 * params, model.layers, len(tensors(model)), write_gbs)
    n_evals = int(rng.integers(4, 9))
    n_ckpts = int(rng.integers(2, 5)) if ckpt_s < 60 else 1
    eval_s = float(rng.uniform(6.0, 20.0))
    per_epoch = max(1, round(n_evals / epochs))
    evals_total = per_epoch * epochs

    def train_seconds(eval_seconds: float) -> float:
        pauses = evals_total * eval_seconds + n_ckpts * ckpt_s
        return max(60.0, duration - init_s - export_s - 10.0 - pauses)

    # the gradient collectives must fit in a step: keep steps >= 1.5x their time. Their bus
    # bandwidth is per direction: NVLink (900 GB/s is both directions together) when the dp
    # group sits inside one node (tp is the innermost group), else the GPU's InfiniBand NIC.
    link = gpu.nvlink_gbs / 2 if plan.tp * plan.dp <= gpn else gpu.ib_gbs
    bus = link * float(rng.uniform(*BUS_EFFICIENCY))
    comm = 2.0 * (plan.dp - 1) / plan.dp * 2 * params / (plan.tp * plan.pp) / (bus * 1e9)
    floor = min(STEP_MAX, 1.5 * comm)
    fixed = spe_opt is not None and duration_opt is not None
    if spe_opt is not None and duration_opt is not None:
        step_target = min(STEP_MAX, max(0.3, floor, train_seconds(eval_s) / (spe_opt * epochs)))
    else:
        lo, hi = (
            (4.8, STEP_MAX) if params >= BIG_MODEL else (2.0, 4.5) if params >= 10e9 else (0.8, 3.5)
        )
        step_target = max(floor, float(np.exp(rng.uniform(np.log(lo), np.log(hi)))))
    # --- batch: dp x micro x accum x seq_len, chosen for the target step time
    micro_cap = 8 if params < 4e9 else 4 if params < 16e9 else 2
    if params >= BIG_MODEL and not fixed:
        # big models: the most tokens per step the target step time allows
        fits = [
            (s, *mb)
            for s in seq_opts
            if (mb := _largest_batch(step_target * tps / (s * plan.dp), micro_cap, plan.pp))
        ]
        fits = fits or [(min(seq_opts), 1, plan.pp)]
        most = max(b[0] * b[1] * b[2] for b in fits)  # then the longest sequences near that
        seq_len, micro, accum = max(
            (b for b in fits if b[0] * b[1] * b[2] >= 0.85 * most), key=lambda b: b[0]
        )
    else:
        per_rank = step_target * tps / (seq_len * plan.dp)
        micro = 1
        for m in (1, 2, 4, 8, 16, 32):
            if m <= per_rank and (m <= micro_cap or per_rank / m > 64):
                micro = m
        accum = max(1, round(per_rank / micro), plan.pp)  # a pipeline needs >= pp micro-batches
    global_batch = plan.dp * micro * accum
    gbt = global_batch * seq_len
    step_time = gbt / tps
    eval_batch_s = step_time / accum * 2 / 3
    eval_batches = int(min(500, max(10, round(eval_s / eval_batch_s))))
    # --- steps: from the time left for training, whole eval intervals per epoch
    if spe_opt is not None:
        spe = spe_opt
        eval_interval = _divisor_near(spe, spe * epochs / max(1, n_evals))
    else:
        ideal = train_seconds(eval_batches * eval_batch_s) / step_time / epochs
        per_epoch = max(per_epoch, math.ceil(ideal / 2000))
        eval_interval = roundish(max(1.0, ideal / per_epoch))
        spe = eval_interval * per_epoch
    total = spe * epochs
    if total > MAX_STEPS:
        raise GeneratorError(f"the run would need {total:,} steps; at most {MAX_STEPS:,}")
    # --- schedule
    # 1-3 % of the steps, but never the 1-2 step warm-up no real run uses (short runs here
    # stand in for long ones); at most a tenth of the run.
    warmup = max(min(10, total // 10), 1, round(float(rng.uniform(0.01, 0.03)) * total))
    if kind == "pretrain":
        lr_peak = (
            3e-4
            if params <= 13.5e9
            else 2e-4
            if params <= 30e9
            else 1.5e-4
            if (params <= 75e9)
            else 8e-5
        )
    else:
        choices = (2e-4, 1e-4, 5e-5, 2e-5) if params < 10e9 else (1e-4, 5e-5, 2e-5, 1e-5)
        lr_peak = float(rng.choice(choices))
    # --- cadences
    ckpt_interval = eval_interval * max(1, round(total / n_ckpts / eval_interval))
    ckpt_interval = min(ckpt_interval, eval_interval * max(1, 10000 // eval_interval))
    log_interval = nice(max(1.0, 10.0 / step_time)) if step_time < 5 else 1
    telemetry_interval = (
        2.0 if gpus <= 64 else 5.0 if gpus <= 256 else 10.0 if gpus <= 1024 else 15.0
    )
    # --- names, hosts, software
    slug = model.name.lower()
    name = f"{slug}-{'sft' if kind == 'finetune' else 'pretrain'}-{int(rng.integers(0, 2**24)):06x}"
    prefix = str(rng.choice(gpu.host_prefixes))
    first = int(rng.integers(1, 200))
    width = max(3, len(str(first + nodes)))
    hostnames = tuple(f"{prefix}-{first + i:0{width}d}" for i in range(nodes))
    torch_v, cuda_v, nccl_v, tf_v = SOFTWARE[int(rng.integers(0, len(SOFTWARE)))]
    start_time = options.start_time
    if start_time is None:
        start_time = YEAR_2025 + int(rng.integers(0, 365 * 86400 * 1000)) / 1000.0
    if not (0 <= start_time <= 1e12):
        raise GeneratorError(f"--start-time {start_time} is not a plausible unix time")
    if kind == "pretrain":
        dataset = str(rng.choice(PRETRAIN_DATASETS))
    else:
        dataset = str(rng.choice(FINETUNE_DATASETS))
    interconnect = gpu.interconnect if nodes > 1 else gpu.interconnect.split(" + ")[0]
    stack = options.stack or _stack_for(plan, zero, rng)
    launcher = {"hf": "torchrun", "hf-deepspeed": "deepspeed", "megatron": "torchrun"}.get(
        stack, "torchrun"
    )
    stack_version = {
        "hf": "1.1.1",
        "hf-deepspeed": "0.16.4",
        "megatron": "core_v0.12.0",
        "torchtitan": "0.2.0",
    }[stack]
    config = RunConfig(
        name=name,
        model=model.name,
        hub_id="" if model.invented else hub_id(model.name),
        family=model.family,
        invented=model.invented,
        kind=kind,  # type: ignore[arg-type]
        stack=stack,
        launcher=launcher,  # type: ignore[arg-type]
        incidents=options.incidents,
        seed=seed,
        generator_version=__version__,
        start_time=float(start_time),
        params=params,
        layers=model.layers,
        hidden=model.hidden,
        heads=model.heads,
        kv_heads=model.kv_heads,
        head_dim=model.dim_per_head,
        ffn=model.ffn,
        vocab=model.vocab,
        max_position_embeddings=max(seq_len, 4096 if model.vocab < 100000 else 8192),
        tied_embeddings=model.tied,
        qkv_bias=model.qkv_bias,
        gpu=gpu.name,
        gpu_short=gpu.short,
        gpu_memory_mib=gpu.memory_mib,
        gpu_tdp_w=gpu.tdp_w,
        gpu_peak_tflops=gpu.peak_tflops,
        gpu_max_clock_mhz=gpu.max_clock_mhz,
        gpus=gpus,
        gpus_per_node=gpn,
        nodes=nodes,
        hostnames=hostnames,
        interconnect=interconnect,
        tp=plan.tp,
        pp=plan.pp,
        dp=plan.dp,
        strategy=cluster.strategy_name(plan, gpus, zero),
        mem_weights_gib=round(plan.weights_gib, 4),
        mem_grads_gib=round(plan.grads_gib, 4),
        mem_optimizer_gib=round(plan.optimizer_gib, 4),
        mem_activations_gib=round(activations, 4),
        precision="bf16",
        seq_len=seq_len,
        micro_batch=micro,
        grad_accum=accum,
        global_batch=global_batch,
        global_batch_tokens=gbt,
        epochs=epochs,
        steps_per_epoch=spe,
        total_steps=total,
        resume_step=0,
        warmup_steps=warmup,
        lr_peak=lr_peak,
        lr_min=lr_peak * 0.1,
        schedule="linear warmup + cosine decay to 10% of peak",
        grad_clip=1.0,
        weight_decay=0.1 if kind == "pretrain" else 0.0,
        adam_beta1=0.9,
        adam_beta2=0.95 if kind == "pretrain" else 0.999,
        dataset=dataset,
        dataset_tokens=spe * gbt,
        log_interval=log_interval,
        eval_interval=eval_interval,
        eval_batches=eval_batches,
        checkpoint_interval=ckpt_interval,
        save_total_limit=int(rng.integers(2, 4)),
        telemetry_interval=telemetry_interval,
        patience_limit=3 if kind == "finetune" else 5,
        torch_version=torch_v,
        cuda_version=cuda_v,
        nccl_version=nccl_v,
        transformers_version=tf_v,
        stack_version=stack_version,
        output_dir=f"./outputs/{name}",
    )
    remember(
        config,
        {
            "mfu_base": round(mfu, 6),
            "mfu_range": [gpu.mfu_lo, gpu.mfu_hi],
            "tokens_per_s_mean": round(tps, 3),
            "step_time_mean": round(step_time, 6),
            "duration_target": round(duration, 3),
            "init_seconds": round(init_s, 3),
            "eval_batch_seconds": round(eval_batch_s, 6),
            "checkpoint_bytes": ckpt_bytes,
            "checkpoint_gbs": round(ckpt_gbs, 3),
            "export_write_gbs": round(write_gbs, 3),
            "nccl_bus_gbs": round(bus, 3),
            "nccl_link_gbs": link,
            "gpu_idle_w": gpu.idle_w,
            "max_shard_bytes": 5 * 10**9,
            "tokenizer_bytes": model.tokenizer_bytes or model.vocab * 64 + 1_217,
            "nccl_log_interval": min(nice(total / 10), 1000),
        },
    )
    config.check()
    return config


def _stack_for(plan: cluster.Layout, zero: bool, rng: np.random.Generator) -> Stack:
    if not plan.sharded:
        return "megatron"
    if zero:
        return "hf-deepspeed"
    return "torchtitan" if rng.random() < 0.35 else "hf"


def _largest_batch(per_rank: float, micro_cap: int, pp: int) -> tuple[int, int] | None:
    """(micro, accum) with the most sequences per rank up to `per_rank` (ties: bigger micro).

    A pipeline wants at least pp micro-batches in flight: None when that exceeds the budget.
    """
    best: tuple[int, int] | None = None
    for m in (1, 2, 4, 8):
        if m > micro_cap:
            break
        a = int(per_rank // m)
        if a < max(1, pp):
            continue
        if best is None or m * a >= best[0] * best[1]:
            best = (m, a)
    return best


def export_seconds(total_bytes: int, layers: int, n_tensors: int, write_gbs: float) -> float:
    """Nominal export time: merge and optimize per layer, serialize and write per byte."""
    per_layer = 0.12 + 0.25 * total_bytes / layers / 4e9
    return (
        2 * layers * per_layer
        + total_bytes / (EXPORT_SERIALIZE_GBS * 1e9)
        + total_bytes / (write_gbs * 1e9)
        + 0.002 * n_tensors
    )


def roundish(x: float) -> int:
    """Round to a number a person would configure (steps of 2.5e(k-1)): 37 -> 36, 233 -> 225."""
    e = 10 ** math.floor(math.log10(max(x, 1.0)))
    q = max(1, round(0.25 * e)) if e >= 10 else 1
    return max(1, round(x / q) * q)


def _divisor_near(spe: int, target: float) -> int:
    """Steps between evaluations when the epoch length is given: the divisor nearest target."""
    target = max(1.0, min(2000.0, target))
    divisors = [d for d in range(1, min(spe, 2000) + 1) if spe % d == 0]
    return min(divisors, key=lambda d: (abs(math.log(d / target)), -d))
