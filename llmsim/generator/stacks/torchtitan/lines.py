"""torchtitan v0.2.0 lines (train.py, components/, distributed/, models/llama3/, tools/).

Launched with `torchrun ... --local-ranks-filter 0 --role rank --tee 3` (run_train.sh on one
node; across nodes the same filter in the Slurm script's torchrun), so every worker line is
rank 0's and carries `[rank0]:`; the logger format is `[titan] %(asctime)s - root - LEVEL -
message` (tools/logging.py). Metric and memory lines are coloured in the real thing; the
dialect colours the step line, log rows hold plain text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from llmsim.generator.catalog.datasets import corpus_of
from llmsim.generator.rows import Logger
from llmsim.generator.stacks.context import Context
from llmsim.generator.stacks.torchtitan.profile import FLAVORS

DUMP_FOLDER: Final = "./outputs"
# Flavor arguments from models/llama3/__init__.py (llama3_args) that differ from the defaults.
_FLAVOR_ARGS: Final[dict[str, tuple[int, int, int, int, int, float]]] = {
    # dim, n_layers, n_heads, n_kv_heads, multiple_of, ffn_dim_multiplier
    "8B": (4096, 32, 32, 8, 1024, 1.3),
    "70B": (8192, 80, 64, 8, 4096, 1.3),
    "405B": (16384, 126, 128, 8, 4096, 1.2),
}
_DESCRIPTIONS: Final = {
    "8B": "Llama 3 8B training",
    "70B": "Llama 3 70B training",
    "405B": "Llama 3 405B training",
}


def logger(ctx: Context, phase: str) -> Logger:
    """torchtitan's logger as run_train.sh shows it."""
    return ctx.logger(phase, "titan", "root", rank=0)  # type: ignore[arg-type]


def flavor(ctx: Context) -> str:
    """The llama3 flavor of the run's model."""
    return FLAVORS[ctx.plan.choice.model.name]


def model_args(ctx: Context) -> str:
    """TransformerModelArgs' repr after update_from_config (max_seq_len = seq_len)."""
    dim, layers, heads, kv, multiple, mult = _FLAVOR_ARGS[flavor(ctx)]
    return (
        "TransformerModelArgs(_enforced='This field is used to enforce all fields have "
        f"defaults.', dim={dim}, n_layers={layers}, n_heads={heads}, n_kv_heads={kv}, "
        f"vocab_size=128256, multiple_of={multiple}, ffn_dim_multiplier={mult}, norm_eps=1e-05, "
        "rope_theta=500000, rope_scaling_args=RoPEScalingArgs(scaling_factor=8.0, "
        "low_freq_factor=1.0, high_freq_factor=4.0, original_max_position_embeddings=8192), "
        f"max_seq_len={ctx.config.seq_len}, depth_init=True, use_flex_attn=False, "
        "attn_mask_type='causal', eos_id=0)"
    )


def gc_line(log: Logger, reason: str, seconds: float) -> None:
    """tools/utils.py GarbageCollection.collect."""
    log.info(f"[GC] {reason} took {seconds:.2f} seconds")


def init(ctx: Context, nccl: Callable[[], None]) -> tuple[float, float]:
    """Trainer.__init__ (train.py:71-300) and the checkpoint load in train(); returns (load
    start, load end). `nccl` prints the communicator's set-up where it happens: at the first
    collective, set_determinism's seed broadcast (init_process_group has no device_id)."""
    c, layout = ctx.config, ctx.plan.fit.layout
    log = logger(ctx, "init")
    log.info(f"Starting job: {_DESCRIPTIONS[flavor(ctx)]}", dt=2.5)
    # distributed/utils.py:246 init_distributed: torchrun puts TORCH_NCCL_ASYNC_ERROR_HANDLING=1
    # in every worker's environment (local_elastic_agent.py:321), the job config wants 3
    log.warning(
        "ENV[TORCH_NCCL_ASYNC_ERROR_HANDLING] = 1 will be overridden to 3 based on job config",
        dt=0.05,
    )
    names = ["dp_shard"] + (["tp"] if layout.tp > 1 else [])
    dims = [layout.dp] + ([layout.tp] if layout.tp > 1 else [])
    log.info(f"Building {len(dims)}-D device mesh with {names}, {dims}", dt=0.6)
    gc_line(log, "Initial GC collection", float(ctx.rng.uniform(0.0, 0.004)))
    nccl()
    log.info("Loading tokenizer from tokenizer.json", dt=0.3)
    corpus = corpus_of(c.dataset)  # its registered datasets' keys are the catalogue's names
    key = corpus.short if corpus else "c4"
    log.info(f"Preparing {key} dataset from {c.dataset}", dt=0.2)
    log.info(f"Building llama3 {flavor(ctx)} with {model_args(ctx)}", dt=1.8)
    gpu = ctx.plan.choice.gpu
    log.info(f"CUDA capacity: {gpu.name} with {gpu.torch_gib:.2f}GiB memory", dt=0.05)
    log.info(f"Model llama3 {flavor(ctx)} size: {c.params:,} total parameters", dt=0.1)
    if ctx.plan.flags.compile:
        log.info("Compiling the loss function with torch.compile")
    _parallelize(ctx, log)
    log.info(f"Peak FLOPS used for computing MFU: {gpu.peak_tflops * 1e12:.3e}", dt=0.5)
    # get_peak_stats() right after init_weights (train.py:269-277): the fp32 parameter shards
    # and a few small buffers, in whole allocator blocks; no optimizer state, no activations
    model_gib = c.params * 4 / (layout.dp * layout.tp) / 2**30 * 1.005 + 0.02
    pct = 100 * model_gib / gpu.torch_gib
    log.info(f"CUDA memory usage for model: {model_gib:.2f}GiB({pct:.2f}%)")
    log.info(
        f"Checkpointing active. Checkpoints will be loaded from and saved to {ctx.checkpoint_dir}",
        dt=0.2,
    )
    log.info(
        f"Trainer is initialized with local batch size {c.micro_batch}, global batch size "
        f"{c.global_batch}, gradient accumulation steps {c.grad_accum}, sequence length "
        f"{c.seq_len}, total steps {c.total_steps} (warmup {c.warmup_steps})"
    )
    return _load(ctx, log)


def _parallelize(ctx: Context, log: Logger) -> None:
    layout = ctx.plan.fit.layout
    if layout.tp > 1:
        log.info("Applied Tensor Parallelism to the model", dt=0.4)
    log.info(f"Applied {layout.recompute} activation checkpointing to the model", dt=0.1)
    if ctx.plan.flags.compile:
        log.info("Compiling each TransformerBlock with torch.compile", dt=0.2)
    log.info("Applied FSDP to the model", dt=0.3)


def _load(ctx: Context, log: Logger) -> tuple[float, float]:
    if not ctx.resume_step:
        training_starts(ctx, log)
        return ctx.clock.t, ctx.clock.t
    log.info(f"Loading the checkpoint from {ctx.checkpoint_path(ctx.resume_step)}.", dt=0.3)
    start = ctx.clock.t
    span = ctx.plan.timings.load_s
    ctx.rows.progress(start, span, "init", "load_checkpoint", "Loading checkpoint", 1, "steps", 1)
    ctx.clock.tick(span)
    gc_line(log, "GC collection for checkpoint loading.", float(ctx.rng.uniform(0.05, 0.4)))
    log.info(f"Finished loading the checkpoint in {span:.2f} seconds.")
    end = ctx.clock.t
    training_starts(ctx, log)
    return start, end


def training_starts(ctx: Context, log: Logger) -> None:
    """train(): after the checkpoint load, the profiler of the shipped configs starts."""
    log.info(f"Training starts at step {ctx.resume_step + 1}")
    log.info(f"Profiling active. Traces will be saved at {DUMP_FOLDER}/profile_trace")


def save_start(log: Logger, step: int, last: bool) -> None:
    """Before a save: the announcement (and the model-only export of the last step)."""
    log.info("Saving the checkpoint (or staging if async is enabled).")
    if last:
        log.info(f"Saving a model only checkpoint in torch.bfloat16 at last step, step {step}.")


def purge(log: Logger, path: str, seconds: float) -> None:
    """keep_latest_k: the purge thread removes the oldest checkpoint (at `path`)."""
    log.info(f"Checkpointer is deleting {path}.")
    log.info(f"Checkpointer deleted {path} in {seconds:.2f} seconds.", dt=seconds)


def profiler(log: Logger, step: int, seconds: float) -> None:
    """The profiler's trace dump every profile_freq steps."""
    log.info(f"Dumping profiler traces at step {step}")
    log.info(f"Finished dumping profiler traces in {seconds:.2f} seconds", dt=seconds)


def finish(ctx: Context, log: Logger) -> None:
    """The end of train() and of the script."""
    log.info("Sleeping 2 seconds for other ranks to complete", dt=0.1)
    log.info("Training completed", dt=2.0)
    if ctx.config.save_total_limit:
        log.info("Destroying the purge thread.", dt=0.05)
    log.info("Process group destroyed", dt=float(ctx.rng.uniform(0.3, 1.5)))


# What each flavor's shipped train_configs/llama3_*.toml sets, where the runs may differ:
# (local_batch_size, lr, warmup_steps, activation_checkpoint.mode, tensor_parallel_degree)
_TOML: Final[dict[str, tuple[int, float, int, str, int]]] = {
    "8B": (1, 3e-4, 200, "selective", 1),
    "70B": (8, 1.5e-4, 200, "full", 8),
    "405B": (2, 8e-5, 600, "full", 8),
}
# job_config.py / the tomls: log_freq 10, checkpoint and validation off, interval and freq 500,
# export float32, steps 1000, gc_freq 50, keep_latest_k 10, compile off, dataset c4


WANDB_SWITCH: Final = "--metrics.enable_wandb"  # job_config.py Metrics.enable_wandb (issue 21)


def overrides(ctx: Context) -> str:
    """The command-line overrides of the shipped toml this run was launched with."""
    c, layout, flags = ctx.config, ctx.plan.fit.layout, ctx.plan.flags
    lbs, lr, warmup, ac, tp = _TOML[flavor(ctx)]
    corpus = corpus_of(c.dataset)
    key = corpus.short if corpus else "c4"
    args = [f"--training.steps {c.total_steps}"]
    if c.micro_batch != lbs:
        args.append(f"--training.local_batch_size {c.micro_batch}")
    if key != "c4":
        args.append(f"--training.dataset {key}")
    if c.lr_peak != lr:
        args.append(f"--optimizer.lr {_typed(c.lr_peak)}")
    if c.warmup_steps != warmup:
        args.append(f"--lr_scheduler.warmup_steps {c.warmup_steps}")
    if layout.tp != tp:
        args.append(f"--parallelism.tensor_parallel_degree {layout.tp}")
    if layout.recompute != ac:
        args.append(f"--activation_checkpoint.mode {layout.recompute}")
    if c.log_interval != 10:
        args.append(f"--metrics.log_freq {c.log_interval}")
    args.append("--checkpoint.enable")
    if c.checkpoint_interval != 500:
        args.append(f"--checkpoint.interval {c.checkpoint_interval}")
    args.append("--checkpoint.export_dtype bfloat16")
    if c.save_total_limit != 10:
        args.append(f"--checkpoint.keep_latest_k {c.save_total_limit}")
    args.append("--validation.enable")
    if c.eval_interval != 500:
        args.append(f"--validation.freq {c.eval_interval}")
    if flags.gc_freq != 50:
        args.append(f"--training.gc_freq {flags.gc_freq}")
    if flags.compile:
        args.append("--compile.enable")
    if flags.wandb:  # the run logs to W&B
        args.append(WANDB_SWITCH)
    return " ".join(args)


def _typed(x: float) -> str:
    """A learning rate as typed: 1.5e-4, 3e-05 -> 3e-5."""
    mantissa, exponent = f"{x:.4e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def run_train_sh(ctx: Context) -> list[str]:
    """run_train.sh's `set -ex` trace (v0.2.0, captured by running it with a stub torchrun):
    each assignment and the torchrun command, as bash prints them, with the arguments given
    after the script appended."""
    toml = f"./torchtitan/models/llama3/train_configs/llama3_{flavor(ctx).lower()}.toml"
    extra = overrides(ctx)
    n = ctx.config.gpus_per_node
    return [
        f"+ NGPU={n}",
        "+ export LOG_RANK=0",
        "+ LOG_RANK=0",
        f"+ CONFIG_FILE={toml}",
        "+ TRAIN_FILE=torchtitan.train",
        "+ TORCHFT_LIGHTHOUSE=http://localhost:29510",
        "+ PYTORCH_ALLOC_CONF=expandable_segments:True",
        "+ TORCHFT_LIGHTHOUSE=http://localhost:29510",
        f"+ torchrun --nproc_per_node={n} --rdzv_backend c10d --rdzv_endpoint=localhost:0 "
        "--local-ranks-filter 0 --role rank --tee 3 -m torchtitan.train --job.config_file "
        f"{toml} {extra}",
    ]


# FSDP2's reduce-scatter of a block's gradients as the flight recorder keeps it (torch 2.9.0,
# innermost first): the autograd thread runs RegisterPostBackwardFunction.backward
RS_STACK: Final = (
    ("reduce_scatter_tensor", "torch/distributed/distributed_c10d.py", 4513),
    ("wrapper", "torch/distributed/c10d_logger.py", 81),
    ("__call__", "torch/distributed/fsdp/_fully_shard/_fsdp_collectives.py", 125),
    ("foreach_reduce", "torch/distributed/fsdp/_fully_shard/_fsdp_collectives.py", 528),
    ("decorate_context", "torch/utils/_contextlib.py", 120),
    ("post_backward", "torch/distributed/fsdp/_fully_shard/_fsdp_param_group.py", 544),
    ("backward", "torch/distributed/fsdp/_fully_shard/_fsdp_param_group.py", 855),
    ("apply", "torch/autograd/function.py", 315),
)
