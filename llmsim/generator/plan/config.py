"""The RunConfig a trace carries, written down from the plan's decisions (nothing private)."""

from __future__ import annotations

import numpy as np

from llmsim import __version__
from llmsim.generator.catalog.architecture import param_count
from llmsim.generator.catalog.models import base_repo
from llmsim.generator.catalog.names import hostnames, run_name
from llmsim.generator.catalog.software import Era
from llmsim.generator.options import GenerateOptions
from llmsim.generator.plan.adapters import lora_params
from llmsim.generator.plan.choice import Choice
from llmsim.generator.plan.fit import Fit
from llmsim.generator.plan.layout import node_shape
from llmsim.generator.plan.schedule import Schedule
from llmsim.trace.config import RunConfig
from llmsim.trace.vocab import Launcher

RNG_KEYS = 16  # the stream of the orders a run's metric keys take (verl's set order)
RNG_PREFIX = 18  # ... and of the process its step lines name


def telemetry_interval(gpus: int) -> float:
    """Seconds between GPU samples: a big cluster's monitor polls less often."""
    return 2.0 if gpus <= 64 else 5.0 if gpus <= 256 else 10.0 if gpus <= 1024 else 15.0


def options_key(options: GenerateOptions) -> str:
    """The options that shape a run, except the seed (for the run name's suffix)."""
    return repr(
        (
            options.model,
            options.models,
            options.gpus,
            options.gpu_type,
            options.stack,
            options.kind,
            options.epochs,
            options.steps_per_epoch,
            options.duration,
        )
    )


def make_config(
    options: GenerateOptions,
    seed: int,
    choice: Choice,
    gpus: int,
    laid: Fit,
    schedule: Schedule,
    era: Era,
    launcher: Launcher,
    start_time: float,
    rng: np.random.Generator,
) -> RunConfig:
    """The run's config, checked."""
    spec, gpu, layout = choice.model, choice.gpu, laid.layout
    nodes, gpn = node_shape(gpus)
    name = run_name(spec.name, choice.kind, seed, options_key(options))
    rank0 = laid.memory.stages[0]
    pretrain = choice.kind == "pretrain"
    profile = choice.profile
    output_dir = f"./outputs/{name}"
    post = choice.post
    lora = post.lora if post is not None and layout.adapter != "none" else None
    trainable = lora_params(spec, lora) if lora is not None else param_count(spec)
    keys, eval_keys = profile.metric_keys(
        choice.kind, post, np.random.default_rng([seed, RNG_KEYS])
    )
    prefix = profile.step_prefix(np.random.default_rng([seed, RNG_PREFIX]))
    rewards = post.rollout.reward_range if post is not None and post.rollout else (0.0, 0.0)
    config = RunConfig(
        name=name,
        model=spec.name,
        hub_id="" if spec.invented else base_repo(spec),
        family=spec.family,
        invented=spec.invented,
        kind=choice.kind,
        stack=choice.stack,
        launcher=launcher,
        incidents=options.incidents,
        seed=seed,
        generator_version=__version__,
        start_time=start_time,
        params=param_count(spec),
        layers=spec.num_layers,
        hidden=spec.hidden_size,
        heads=spec.num_heads,
        kv_heads=spec.num_kv_heads,
        head_dim=spec.dim_per_head,
        ffn=spec.intermediate_size,
        vocab=spec.vocab_size,
        max_position_embeddings=spec.max_positions,
        tied_embeddings=spec.tied_embeddings,
        qkv_bias=spec.qkv_bias,
        gpu=gpu.name,
        gpu_short=gpu.short,
        gpu_memory_mib=gpu.memory_mib,
        gpu_tdp_w=gpu.tdp_w,
        gpu_peak_tflops=gpu.peak_tflops,
        gpu_max_clock_mhz=gpu.max_clock_mhz,
        gpus=gpus,
        gpus_per_node=gpn,
        nodes=nodes,
        hostnames=hostnames(gpu, nodes, rng),
        interconnect=gpu.interconnect if nodes > 1 else gpu.interconnect.split(" + ")[0],
        tp=layout.tp,
        pp=layout.pp,
        dp=layout.dp,
        strategy=_strategy(profile.strategy(layout), gpus, layout.adapter),
        mem_weights_gib=round(rank0.weights, 4),
        mem_grads_gib=round(rank0.grads, 4),
        mem_optimizer_gib=round(rank0.optimizer, 4),
        mem_activations_gib=round(rank0.activations + rank0.logits + rank0.buffers, 4),
        precision="bf16",
        seq_len=laid.seq_len,
        micro_batch=layout.micro_batch,
        grad_accum=laid.grad_accum,
        global_batch=laid.global_batch,
        global_batch_tokens=laid.global_batch * laid.seq_len,
        epochs=schedule.epochs,
        steps_per_epoch=schedule.steps_per_epoch,
        total_steps=schedule.total_steps,
        resume_step=schedule.resume_step,
        warmup_steps=schedule.warmup_steps,
        lr_peak=schedule.lr_peak,
        lr_min=schedule.lr_min,
        schedule="constant"
        if schedule.lr_min == schedule.lr_peak
        else "linear warmup + cosine decay to 10% of peak",
        grad_clip=1.0,
        weight_decay=0.1 if pretrain else 0.0,
        adam_beta1=0.9,
        adam_beta2=0.95 if pretrain else 0.999,
        dataset=schedule.dataset,
        dataset_tokens=schedule.dataset_tokens,
        log_interval=schedule.log_interval,
        log_first_step=profile.logs_first_step,
        eval_interval=schedule.eval_interval,
        eval_after_loop=profile.evaluates_after_loop,
        eval_batches=schedule.eval_batches,
        checkpoint_interval=schedule.checkpoint_interval,
        checkpoint_dir=profile.checkpoint_dir(output_dir),
        last_save_model_only=profile.last_save_model_only,
        save_total_limit=schedule.save_total_limit,
        telemetry_interval=telemetry_interval(gpus),
        patience_limit=3 if not pretrain else 5,
        torch_version=era.torch,
        cuda_version=era.cuda,
        nccl_version=era.nccl,
        transformers_version=era.transformers,
        stack_version=era.stack_version,
        output_dir=output_dir,
        trainable_params=trainable,
        adapter=layout.adapter,
        lora_rank=lora.rank if lora is not None else 0,
        lora_alpha=lora.alpha if lora is not None else 0,
        metric_keys=keys,
        eval_metric_keys=eval_keys,
        reward_min=rewards[0],
        reward_max=rewards[1],
        step_prefix=prefix,
    )
    config.check()
    return config


def _strategy(multi: str, gpus: int, adapter: str) -> str:
    """How the logs and `info` name the layout (adapters train a frozen base on each GPU)."""
    if adapter != "none":
        base = "4-bit NF4" if adapter == "qlora" else "bf16"
        where = "one GPU" if gpus == 1 else f"DDP over {gpus} GPUs"
        return (
            f"{'QLoRA' if adapter == 'qlora' else 'LoRA'} adapters on a frozen {base} base, {where}"
        )
    return "single GPU (no sharding)" if gpus == 1 else multi
