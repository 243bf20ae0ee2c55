"""DeepSpeed 0.17.5 lines in a Trainer run (tag v0.17.5; line numbers of that tag).

Why 0.17.5: from 0.17.6 DeepSpeed's logger and its handler start at WARNING
(utils/logging.py, "[logging] less startup noise", #7526/#7576), and transformers 4.57.1 lowers
only the logger (integrations/deepspeed.py:439-450), so a 0.18 run prints none of the lines
below. 0.17.5 (2025-08-19) creates both at INFO (utils/logging.py:25-61), the last release that
does, and runs with transformers 4.57.1.

Format `[%(asctime)s] [LEVEL] [file:line:func] message`; `log_dist` adds `[Rank N] ` and logs
from utils/logging.py:107. Who prints: before the Trainer's deepspeed_init every process logs
at INFO (import time, init_distributed, zero.Init); deepspeed_init then sets the logger to each
process's log level (the main process INFO, replicas WARNING), so the engine's lines are rank
0's. The HF integration fills the ZeRO-3 "auto" buckets from the hidden size (reduce = h^2,
prefetch = 0.9 h^2, persistence = 10 h), gives the engine the Trainer's AdamW (two parameter
groups: with and without weight decay) and its LambdaLR, and adds
`zero_allow_untested_optimizer` to the config.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from llmsim.generator.catalog.architecture import param_count
from llmsim.generator.rows import Logger
from llmsim.generator.stacks.context import Context
from llmsim.generator.stacks.hf_deepspeed.dsconfig import CONFIG_ITEMS, ZERO_CONFIG

LOG_DIST: Final = "logging.py:107:log_dist"
MEMORY: Final = (  # runtime/utils.py see_memory_usage's three logger.info calls
    "utils.py:781:see_memory_usage",
    "utils.py:782:see_memory_usage",
    "utils.py:789:see_memory_usage",
)
ACCELERATOR: Final = "real_accelerator.py:260:get_accelerator"
CONFIG_FILE: Final = "ds_config_zero{stage}.json"
STEPS_PER_PRINT: Final = 100
TIMER_START_STEP: Final = 2  # ThroughputTimer times no step before its third
PARAM_GROUPS: Final = 2  # the Trainer's AdamW: decayed and not decayed parameters


def dist(log: Logger, text: str, dt: float = 0.0) -> None:
    """A log_dist line from rank 0."""
    log.info(f"[Rank 0] {text}", LOG_DIST, dt=dt)


def _ds(ctx: Context, phase: str = "init") -> Logger:
    return ctx.logger(phase, "deepspeed")  # type: ignore[arg-type]


def imported(ctx: Context, ranks: Sequence[int]) -> None:
    """Each process importing deepspeed (accelerate's state does, for the Trainer): the
    accelerator is detected (real_accelerator.py:260) and engine.py's default
    `checkpoint_engine=TorchCheckpointEngine()` argument is built (runtime/engine.py:2873),
    logging before any process group exists (`[Rank -1]`)."""
    log = _ds(ctx)
    start = ctx.clock.t
    end = start
    for _ in ranks:
        ctx.clock.t = start + float(ctx.rng.uniform(0.0, 0.4))
        log.info("Setting ds_accelerator to cuda (auto detect)", ACCELERATOR)
        log.info(
            "[Rank -1] [TorchCheckpointEngine] Initialized with serialization = False",
            LOG_DIST,
            dt=float(ctx.rng.uniform(0.3, 0.9)),
        )
        end = max(end, ctx.clock.t)
    ctx.clock.t = end


def init_distributed(ctx: Context) -> None:
    """accelerate's PartialState calls deepspeed.comm.init_distributed; the process whose RANK
    is 0 says so (comm/comm.py:852) and torch.distributed starts with this process's device."""
    _ds(ctx).info(
        "Initializing TorchBackend in DeepSpeed with backend nccl",
        "comm.py:852:init_distributed",
        dt=0.05,
    )


def zero_init(ctx: Context, ranks: Sequence[int]) -> None:
    """from_pretrained's init context under ZeRO-3: transformers says so (main process), then
    every process builds zero.Init's DeepSpeedConfig (config.py:684)."""
    ctx.logger("init", "hf").info(
        "Detected DeepSpeed ZeRO-3: activating zero.init() for this model",
        "modeling_utils.py:4373",
        dt=0.01,
    )
    log = _ds(ctx)
    start = ctx.clock.t
    for _ in ranks:
        ctx.clock.t = start + float(ctx.rng.uniform(0.0, 0.03))
        log.info(
            f"Config mesh_device None world_size = {ctx.config.gpus}", "config.py:684:__init__"
        )
    ctx.clock.t = start + 0.03


def model_created(ctx: Context) -> None:
    """Leaving zero.Init (partition_parameters.py:366, rank 0): the parameters it partitioned,
    as tensors and elements."""
    spec = ctx.plan.choice.model
    per_layer = 9 + (3 if spec.qkv_bias else 0)  # 7 matrices, 2 norms (+ q/k/v biases)
    tensors = spec.num_layers * per_layer + 2 + (0 if spec.tied_embeddings else 1)
    elems = param_count(spec) / 1e9
    _ds(ctx).info(
        f"finished initializing model - num_params = {tensors}, num_elems = {elems:.2f}B",
        "partition_parameters.py:366:__exit__",
        dt=float(ctx.rng.uniform(0.5, 2.0)),
    )


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


def _address(ctx: Context) -> str:
    return (
        f"0x7f{int(ctx.rng.integers(0x10000000, 0xFFFFFFFF)):08x}{int(ctx.rng.integers(0, 16)):x}0"
    )


def _lrs(lr: float) -> str:
    return "[" + ", ".join([repr(lr)] * PARAM_GROUPS) + "]"


def _moms(ctx: Context) -> str:
    c = ctx.config
    return "[" + ", ".join([f"({c.adam_beta1}, {c.adam_beta2})"] * PARAM_GROUPS) + "]"


def engine_init(ctx: Context) -> None:
    """deepspeed.initialize as the Trainer calls it (rank 0's lines, in the engine's order)."""
    c = ctx.config
    layout = ctx.plan.fit.layout
    log = _ds(ctx)
    dist(log, f"DeepSpeed info: version={c.stack_version}, git-hash=unknown, git-branch=unknown")
    log.info("Distributed backend already initialized", "comm.py:846:init_distributed")
    log.info(f"Config mesh_device None world_size = {c.gpus}", "config.py:684:__init__", dt=0.01)
    dist(log, "DeepSpeed Flops Profiler Enabled: False", dt=0.2)
    dist(log, "Using client Optimizer as basic optimizer")
    dist(log, "Removing param_group that has no 'params' in the basic Optimizer")
    dist(log, "DeepSpeed Basic Optimizer = AdamW", dt=0.3)
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
        f"DeepSpeed LR Scheduler = <torch.optim.lr_scheduler.LambdaLR object at {_address(ctx)}>",
    )
    dist(log, f"step=0, skipped=0, lr={_lrs(0.0)}, mom={_moms(ctx)}")
    dist(log, "[TorchCheckpointEngine] Initialized with serialization = True")
    _configuration(ctx, log)


def _stage3(ctx: Context, log: Logger, weights: float, optimizer: float) -> None:
    h = ctx.config.hidden
    mem = _Memory(ctx, log)
    mem.report("Stage 3 initialize beginning", 0.5, dt=0.2)
    log.info(f"Reduce bucket size {h * h}", "stage3.py:186:__init__")
    log.info(f"Prefetch bucket size {int(0.9 * h * h)}", "stage3.py:187:__init__")
    mem.report("DeepSpeedZeRoOffload initialize [begin]", 0.5)
    mem.report("DeepSpeedZeRoOffload initialize [end]", 0.5 + weights, dt=1.5)
    mem.report("Before creating fp16 partitions", 0.5 + weights)
    mem.report("After creating fp16 partitions: 1", 0.5 + weights, dt=2.0)
    mem.report("Before creating fp32 partitions", 0.5 + weights)
    mem.report("After creating fp32 partitions", 0.5 + weights + optimizer / 3, dt=0.8)
    mem.report("Before initializing optimizer states", 0.5 + weights + optimizer / 3)
    mem.report("After initializing optimizer states", 0.5 + weights + optimizer, dt=0.5)
    log.info("optimizer state initialized", "stage3.py:554:_setup_for_real_optimizer")
    mem.report("After initializing ZeRO optimizer", 0.5 + 2 * weights + optimizer, dt=0.3)


def _stage2(ctx: Context, log: Logger, weights: float, optimizer: float) -> None:
    log.info("Reduce bucket size 500000000", "stage_1_and_2.py:178:__init__", dt=0.2)
    log.info("Allgather bucket size 500000000", "stage_1_and_2.py:179:__init__")
    log.info("CPU Offload: False", "stage_1_and_2.py:180:__init__")
    log.info("Round robin gradient partitioning: False", "stage_1_and_2.py:181:__init__")
    mem = _Memory(ctx, log)
    mem.report("Before initializing optimizer states", 0.5 + weights, dt=2.5)
    mem.report("After initializing optimizer states", 0.5 + weights + optimizer, dt=0.5)
    log.info("optimizer state initialized", "stage_1_and_2.py:605:__init__")
    mem.report("After initializing ZeRO optimizer", 0.5 + weights + optimizer, dt=0.2)


def config_dict(ctx: Context) -> dict[str, object]:
    """The ds_config as the engine gets it: the run's file (its keys in the file's order) with
    the Trainer's "auto" values filled, and the key it adds for its own optimizer."""
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
        "zero_allow_untested_optimizer": True,
    }


def scientific_json(value: object, level: int = 0) -> str:
    """runtime/config_utils.py ScientificNotationEncoder.iterencode (indent 4): its own dict
    layout (`"key": value`, `, ` before each newline, the dict's order), numbers above 1e3 as
    `{:e}`."""
    pad, close = " " * 4 * (level + 1), " " * 4 * level
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value:e}" if value > 1e3 else f"{value}"
    if isinstance(value, dict):
        items = [f'\n{pad}"{k}": {scientific_json(v, level + 1)}' for k, v in value.items()]
        return "{" + ", ".join(items) + f"\n{close}" + "}"
    return f'"{value}"'


def _zero_config(ctx: Context) -> str:
    h = ctx.config.hidden
    if ctx.plan.fit.layout.zero_stage == 3:
        values = (3, h * h, int(0.9 * h * h), 10 * h, True)
    else:
        values = (2, 500_000_000, 50_000_000, 100_000, False)
    stage, reduce, prefetch, persistence, gather = values
    return ZERO_CONFIG.format(
        stage=stage,
        reduce_bucket=reduce,
        prefetch_bucket=prefetch,
        persistence=persistence,
        gather_16bit=gather,
    )


def _configuration(ctx: Context, log: Logger) -> None:
    """DeepSpeedConfig.print (config.py:953-958) and print_user_config (943-951)."""
    c = ctx.config
    run = {
        "{gas}": str(c.grad_accum),
        "{clip}": str(c.grad_clip),
        "{steps_per_print}": str(STEPS_PER_PRINT),
        "{train_batch_size}": str(c.global_batch),
        "{micro_batch}": str(c.micro_batch),
        "{world_size}": str(c.gpus),
        "{stage}": str(ctx.plan.fit.layout.zero_stage),
        "{address}": _address(ctx),
        "{zero_config}": _zero_config(ctx),
    }
    log.info("DeepSpeedEngine configuration:", "config.py:954:print", dt=0.05)
    for key, value in CONFIG_ITEMS:
        for mark, text in run.items():
            if mark in value and not value.startswith(("{'", "{\n")):
                value = value.replace(mark, text)
        dots = "." * (29 - len(key))
        first, *rest = value.split("\n")
        log.info(f"  {key} {dots} {first}", "config.py:958:print")
        ctx.init.lines(rest)
    first, *rest = scientific_json(config_dict(ctx)).split("\n")
    log.info(f"  json = {first}", "config.py:944:print_user_config")
    ctx.init.lines(rest)


def step_report(ctx: Context, log: Logger, step: int, lr: float, skipped: int) -> None:
    """engine.py:2416 `_report_progress`: `step=..., skipped=..., lr=[...], mom=[...]` when the
    engine's (restored) global step reaches a multiple of steps_per_print."""
    dist(log, f"step={step}, skipped={skipped}, lr={_lrs(lr)}, mom={_moms(ctx)}")


def throughput(
    ctx: Context,
    log: Logger,
    timer_step: int,
    running: float,
    current: float,
    allocated: float,
    peak: float,
) -> None:
    """ThroughputTimer.stop (utils/timer.py:264) at its own global_step_count's multiples of
    steps_per_print: the count starts at 0 in every process (a resumed run's timer knows
    nothing of the checkpoint's steps), micro_step = global_step x gradient accumulation (the
    Trainer never calls update_epoch_count: epoch=0)."""
    c = ctx.config
    log.info(
        f"epoch=0/micro_step={timer_step * c.grad_accum}/global_step={timer_step}, "
        f"RunningAvgSamplesPerSec={running!r}, CurrSamplesPerSec={current!r}, "
        f"MemAllocated={round(allocated, 2)}GB, MaxMemAllocated={round(peak, 2)}GB",
        "timer.py:264:stop",
    )


def running_average(
    ctx: Context, steps: np.ndarray, step_time: np.ndarray, upto: int, first: int
) -> float:
    """RunningAvgSamplesPerSec: batch / (time of the steps the timer measured / their count),
    from the third step of this process (`first` is its first) to `upto`; steps before this
    chunk count at the plan's step time."""
    c = ctx.config
    timed_from = first + TIMER_START_STEP
    inside = (steps >= timed_from) & (steps <= upto)
    before = max(0, int(steps[0]) - timed_from)
    total = float(step_time[inside].sum()) + before * ctx.plan.fit.throughput.step_s
    count = int(inside.sum()) + before
    return c.global_batch / (total / max(count, 1))


def save(log: Logger, where: str, step: int, stage: int) -> None:
    """engine.save_checkpoint: the checkpoint engine's create (torch_checkpoint_engine.py:27)
    and _save_checkpoint's model states (engine.py:3666), named by the data-parallel rank under
    ZeRO-3 (the weights are partitioned), by the model-parallel rank otherwise."""
    dist(log, f"[Torch] Checkpoint global_step{step} is begin to save!")
    dist(log, f"Saving model checkpoint: {where}/global_step{step}/{_model_states(stage)}", dt=0.05)


def _model_states(stage: int) -> str:
    return (
        "zero_pp_rank_0_mp_rank_00_model_states.pt" if stage == 3 else "mp_rank_00_model_states.pt"
    )


def resume(ctx: Context, where: str, step: int, seconds: float) -> None:
    """engine.load_checkpoint on rank 0 (the replicas log at WARNING by now): the checkpoint
    engine reads the model states and this rank's optimizer partition, then the ZeRO lines
    (engine.py:3336 and 3286)."""
    c = ctx.config
    log = _ds(ctx)
    folder = f"{where}/global_step{step}"
    model = f"{folder}/{_model_states(ctx.plan.fit.layout.zero_stage)}"
    optim = f"{folder}/bf16_zero_pp_rank_0_mp_rank_00_optim_states.pt"
    dist(log, f"[Torch] Begin Load checkpoint from {model}...", dt=0.1)
    dist(log, f"[Torch] End Load checkpoint from {model}...", dt=seconds * 0.2)
    dist(log, f"[Torch] Begin Load checkpoint from {optim}...", dt=0.05)
    dist(log, f"[Torch] End Load checkpoint from {optim}...", dt=seconds * 0.7)
    log.info(
        f"successfully read {c.dp} ZeRO state_dicts for rank 0",
        "engine.py:3336:_get_all_zero_checkpoint_state_dicts",
    )
    log.info(
        f"loading {c.dp} zero partition checkpoints for rank 0",
        "engine.py:3286:_load_zero_checkpoint",
        dt=seconds * 0.05,
    )
