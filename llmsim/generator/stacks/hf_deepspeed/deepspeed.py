"""DeepSpeed engine lines (0.18.0 sdist): engine set-up, ZeRO memory reports, step reports, saves.

Format `[%(asctime)s] [LEVEL] [file:line:func] message`; `log_dist` adds `[Rank 0] ` and is
logged from utils/logging.py:123. The HF integration fills the ZeRO-3 "auto" buckets from the
hidden size (reduce = h^2, prefetch = 0.9 h^2) and passes its own LR scheduler.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from llmsim.generator.rows import Logger
from llmsim.generator.stacks.context import Context

LOG_DIST: Final = "logging.py:123:log_dist"
MEMORY: Final = (
    "utils.py:786:see_memory_usage",
    "utils.py:787:see_memory_usage",
    "utils.py:794:see_memory_usage",
)
CONFIG_FILE: Final = "ds_config_zero{stage}.json"
STEPS_PER_PRINT: Final = 100


def dist(log: Logger, text: str, dt: float = 0.0) -> None:
    """A log_dist line from rank 0."""
    log.info(f"[Rank 0] {text}", LOG_DIST, dt=dt)


class _Memory:
    """see_memory_usage: what the allocator holds as the engine builds its partitions."""

    def __init__(self, ctx: Context, log: Logger) -> None:
        self.ctx, self.log = ctx, log
        self.ma = 0.5
        self.cpu_total = float(ctx.rng.choice((1007.5, 2015.6, 1511.9)))
        self.cpu_used = float(ctx.rng.uniform(60.0, 140.0))

    def report(self, message: str, ma: float, dt: float = 0.05) -> None:
        rng = self.ctx.rng
        peak = max(self.ma, ma) * float(rng.uniform(1.0, 1.05))
        self.ma = ma
        ca = ma * float(rng.uniform(1.02, 1.08))
        self.cpu_used += float(rng.uniform(0.5, 6.0))
        self.log.info(message, MEMORY[0], dt=dt)
        self.log.info(
            f"MA {round(ma, 2)} GB         Max_MA {round(peak, 2)} GB         CA {round(ca, 2)} "
            f"GB         Max_CA {round(max(ca, peak))} GB ",
            MEMORY[1],
        )
        pct = round(100 * self.cpu_used / self.cpu_total, 1)
        self.log.info(
            f"CPU Virtual Memory:  used = {round(self.cpu_used, 2)} GB, percent = {pct}%", MEMORY[2]
        )


def engine_init(ctx: Context) -> None:
    """deepspeed.initialize as the Trainer calls it."""
    c = ctx.config
    layout = ctx.plan.fit.layout
    log = ctx.logger("init", "deepspeed")
    dist(
        log,
        f"DeepSpeed info: version={c.stack_version}, git-hash=unknown, git-branch=unknown",
        dt=0.4,
    )
    log.info(f"Config mesh_device None world_size = {c.gpus}", "config.py:686:__init__", dt=0.01)
    dist(log, "DeepSpeed Flops Profiler Enabled: False", dt=0.2)
    dist(log, "Using DeepSpeed Optimizer param name adamw as basic optimizer")
    dist(log, "Removing param_group that has no 'params' in the basic Optimizer")
    dist(log, "DeepSpeed Basic Optimizer = FusedAdam", dt=0.3)
    dist(log, f"Creating torch.bfloat16 ZeRO stage {layout.zero_stage} optimizer")
    mem = ctx.plan.fit.memory.stages[0]
    if layout.zero_stage == 3:
        _stage3(ctx, log, mem.weights, mem.optimizer)
        final = "DeepSpeedZeroOptimizer_Stage3"
    else:
        _stage2(ctx, log, mem.weights, mem.optimizer)
        final = "DeepSpeedZeroOptimizer"
    dist(log, f"DeepSpeed Final Optimizer = {final}", dt=0.1)
    dist(log, "DeepSpeed using client LR scheduler")
    dist(
        log,
        f"DeepSpeed LR Scheduler = <torch.optim.lr_scheduler.LambdaLR object at "
        f"0x7f{int(ctx.rng.integers(0x10000000, 0xFFFFFFFF)):08x}{int(ctx.rng.integers(0, 16)):x}0>",
    )
    dist(log, f"step=0, skipped=0, lr=[0.0], mom=[({c.adam_beta1}, {c.adam_beta2})]")
    _configuration(ctx, log)


def _stage3(ctx: Context, log: Logger, weights: float, optimizer: float) -> None:
    h = ctx.config.hidden
    mem = _Memory(ctx, log)
    mem.report("Stage 3 initialize beginning", 0.5, dt=0.2)
    log.info(f"Reduce bucket size {h * h}", "stage3.py:189:__init__")
    log.info(f"Prefetch bucket size {int(0.9 * h * h)}", "stage3.py:190:__init__")
    mem.report("DeepSpeedZeRoOffload initialize [begin]", 0.5)
    mem.report("DeepSpeedZeRoOffload initialize [end]", 0.5 + weights, dt=1.5)
    mem.report("Before creating fp16 partitions", 0.5 + weights)
    mem.report("After creating fp16 partitions: 1", 0.5 + weights, dt=2.0)
    mem.report("Before creating fp32 partitions", 0.5 + weights)
    mem.report("After creating fp32 partitions", 0.5 + weights + optimizer / 3, dt=0.8)
    mem.report("Before initializing optimizer states", 0.5 + weights + optimizer / 3)
    mem.report("After initializing optimizer states", 0.5 + weights + optimizer, dt=0.5)
    log.info("optimizer state initialized", "stage3.py:560:_setup_for_real_optimizer")
    mem.report("After initializing ZeRO optimizer", 0.5 + 2 * weights + optimizer, dt=0.3)


def _stage2(ctx: Context, log: Logger, weights: float, optimizer: float) -> None:
    log.info("Reduce bucket size 500000000", "stage_1_and_2.py:181:__init__", dt=0.2)
    log.info("Allgather bucket size 500000000", "stage_1_and_2.py:182:__init__")
    log.info("CPU Offload: False", "stage_1_and_2.py:183:__init__")
    log.info("Round robin gradient partitioning: False", "stage_1_and_2.py:184:__init__")
    mem = _Memory(ctx, log)
    mem.report("Before initializing optimizer states", 0.5 + weights, dt=2.5)
    mem.report("After initializing optimizer states", 0.5 + weights + optimizer, dt=0.5)
    log.info("optimizer state initialized", "stage_1_and_2.py:609:__init__")
    mem.report("After initializing ZeRO optimizer", 0.5 + weights + optimizer, dt=0.2)


def config_dict(ctx: Context) -> dict[str, object]:
    """The ds_config the run passed (as the Trainer filled its "auto" values)."""
    c = ctx.config
    stage = ctx.plan.fit.layout.zero_stage
    zero: dict[str, object] = {"stage": stage, "overlap_comm": True, "contiguous_gradients": True}
    if stage == 3:
        zero.update(
            reduce_bucket_size=c.hidden * c.hidden,
            stage3_prefetch_bucket_size=int(0.9 * c.hidden * c.hidden),
            stage3_param_persistence_threshold=10 * c.hidden,
            stage3_gather_16bit_weights_on_model_save=True,
        )
    return {
        "bf16": {"enabled": True},
        "gradient_accumulation_steps": c.grad_accum,
        "gradient_clipping": c.grad_clip,
        "steps_per_print": STEPS_PER_PRINT,
        "train_batch_size": c.global_batch,
        "train_micro_batch_size_per_gpu": c.micro_batch,
        "wall_clock_breakdown": False,
        "zero_optimization": zero,
    }


def _configuration(ctx: Context, log: Logger) -> None:
    import json

    c = ctx.config
    stage = ctx.plan.fit.layout.zero_stage
    items = {
        "activation_checkpointing_config": '{\n    "partition_activations": false, \n'
        '    "contiguous_memory_optimization": false, \n    "cpu_checkpointing": false, \n'
        '    "number_checkpoints": null, \n    "synchronize_checkpoint_boundary": false, \n'
        '    "profile": false\n}',
        "bfloat16_config": "enabled=True immediate_grad_update=True check_grad_overflow=False",
        "checkpoint_tag_validation_enabled": True,
        "checkpoint_tag_validation_fail": False,
        "dump_state": False,
        "elasticity_enabled": False,
        "global_rank": 0,
        "gradient_accumulation_steps": c.grad_accum,
        "gradient_clipping": c.grad_clip,
        "gradient_predivide_factor": 1.0,
        "optimizer_name": "adamw",
        "optimizer_params": {
            "lr": c.lr_peak,
            "betas": [c.adam_beta1, c.adam_beta2],
            "eps": 1e-08,
            "weight_decay": c.weight_decay,
        },
        "prescale_gradients": False,
        "scheduler_name": None,
        "sparse_gradients_enabled": False,
        "steps_per_print": STEPS_PER_PRINT,
        "train_batch_size": c.global_batch,
        "train_micro_batch_size_per_gpu": c.micro_batch,
        "wall_clock_breakdown": False,
        "world_size": c.dp,
        "zero_enabled": True,
        "zero_optimization_stage": stage,
    }
    log.info("DeepSpeedEngine configuration:", "config.py:956:print", dt=0.05)
    for key, value in items.items():
        lines = str(value).split("\n")
        log.info(f"  {key} {'.' * (29 - len(key))} {lines[0]}", "config.py:960:print")
        ctx.init.lines(lines[1:])
    body = json.dumps(config_dict(ctx), sort_keys=True, indent=4, separators=(",", ":"))
    first, *rest = body.splitlines()
    log.info(f"  json = {first}", "config.py:946:print_user_config")
    ctx.init.lines(rest)


def step_report(ctx: Context, log: Logger, step: int, lr: float, skipped: int) -> None:
    """`step=..., skipped=..., lr=[...], mom=[...]` every steps_per_print optimizer steps."""
    c = ctx.config
    dist(
        log, f"step={step}, skipped={skipped}, lr=[{lr!r}], mom=[({c.adam_beta1}, {c.adam_beta2})]"
    )


def throughput(
    ctx: Context,
    log: Logger,
    step: int,
    running: float,
    current: float,
    allocated: float,
    peak: float,
) -> None:
    """ThroughputTimer's line (utils/timer.py) at the same cadence."""
    c = ctx.config
    micro = step * c.grad_accum
    log.info(  # the engine never advances the timer's epoch count under the HF Trainer
        f"epoch=0/micro_step={micro}/global_step={step}, "
        f"RunningAvgSamplesPerSec={running!r}, CurrSamplesPerSec={current!r}, "
        f"MemAllocated={round(allocated, 2)}GB, MaxMemAllocated={round(peak, 2)}GB",
        "timer.py:265:stop",
    )


def save(log: Logger, where: str, step: int) -> None:
    """The engine's own save_checkpoint lines (the rest of 0.18's are commented out)."""
    dist(log, f"[Torch] Checkpoint global_step{step} is about to be saved!")
    dist(
        log,
        f"Saving model checkpoint: {where}/global_step{step}/"
        "zero_pp_rank_0_mp_rank_00_model_states.pt",
        dt=0.05,
    )


def resume(ctx: Context, seconds: float) -> None:
    """The engine reading its ZeRO partitions back (every rank logs; node 0's shown)."""
    c = ctx.config
    log = ctx.logger("init", "deepspeed")
    ranks = range(min(c.gpus_per_node, c.gpus))
    for rank in ranks:
        log.info(
            f"successfully read {c.dp} ZeRO state_dicts for rank {rank}",
            "engine.py:3407:_get_all_zero_checkpoint_state_dicts",
            dt=seconds * 0.9 if rank == 0 else 0.01,
        )
    for rank in ranks:
        log.info(
            f"loading {c.dp} zero partition checkpoints for rank {rank}",
            "engine.py:3357:_load_zero_checkpoint",
            dt=0.01,
        )


def noisy(rng: np.random.Generator, x: float, rel: float) -> float:
    """x with a relative wobble (for rates printed to 15+ digits)."""
    return float(x * (1.0 + rng.normal(0.0, rel)))
