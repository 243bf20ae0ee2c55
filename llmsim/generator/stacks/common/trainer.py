"""Hugging Face Trainer lines (transformers 4.57.1), shared by the FSDP and DeepSpeed stacks.

The run's script is an example-style `train.py`: it configures logging like the official
examples (`%m/%d/%Y %H:%M:%S - LEVEL - name - message` for its own logger and `datasets`,
`enable_explicit_format()` for transformers: `[LEVEL|file:line] ... >> message`). Line numbers
are those of the 4.57.1 wheel. A message printed over several lines carries the prefix on its
first line only (Python logging); the rest are plain rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Final

from llmsim.generator.catalog.architecture import MAX_SHARD_LABEL, shard_names, shards
from llmsim.generator.catalog.datasets import SFT_SETS
from llmsim.generator.catalog.models import arch_classes, base_repo, tokenizer_files
from llmsim.generator.rows import Logger
from llmsim.generator.stacks.common.hfargs import training_arguments
from llmsim.generator.stacks.common.hfconfig import config_block, generation_block
from llmsim.generator.stacks.context import Context
from llmsim.units import format_clock

# transformers 4.57.1: file:line of each logger call used here.
AT: Final[dict[str, str]] = {
    "config_load": "configuration_utils.py:765",
    "config_dump": "configuration_utils.py:839",
    "config_saved": "configuration_utils.py:491",
    "gen_load": "configuration_utils.py:941",
    "gen_dump": "configuration_utils.py:986",
    "gen_saved": "configuration_utils.py:757",
    "tok_load": "tokenization_utils_base.py:2095",
    "tok_config_saved": "tokenization_utils_base.py:2590",
    "tok_special_saved": "tokenization_utils_base.py:2599",
    "weights_load": "modeling_utils.py:1172",
    "instantiate": "modeling_utils.py:2341",
    "weights_saved": "modeling_utils.py:4181",
    "sharded_saved": "modeling_utils.py:4189",
    "half": "trainer.py:749",
    "running": "trainer.py:2519",
    "continuing": "trainer.py:2549",
    "resume_load": "trainer.py:2934",
    "completed": "trainer.py:2810",
    "warning_once": "logging.py:328",
    "save": "trainer.py:4309",
    "rotate": "trainer.py:4418",
    "eval": "trainer.py:4643",
}
_RUNNING_LINES: Final = (2519, 2520, 2521, 2522, 2525, 2526, 2527, 2528)
# training_args.py:116-124 default_logdir(): runs/<%b%d_%H-%M-%S>_<socket.gethostname()>; the
# stamp is the playback clock's (an inline-stamp row), so it agrees with the lines around it
LOGDIR_STAMP: Final = "{stamp}"  # an inline-stamp row's mark
LOGDIR_FORMAT: Final = "%b%d_%H-%M-%S"
USE_CACHE: Final = (  # utils/generic.py:961, through logging.py:328's warning_once
    "`use_cache=True` is incompatible with gradient checkpointing. Setting `use_cache=False`."
)
_EVAL_LINES: Final = (4643, 4645, 4648)
_CONTINUE_LINES: Final = (2549, 2550, 2551, 2553)


def transformers_log(ctx: Context, phase: str = "init") -> Logger:
    """transformers' explicit format."""
    return ctx.logger(phase, "hf")  # type: ignore[arg-type]


def script_log(ctx: Context, phase: str = "init") -> Logger:
    """The script's own logger (and datasets'), example-script format."""
    return ctx.logger(phase, "hf-script", "__main__")  # type: ignore[arg-type]


def cache_dir(ctx: Context) -> str:
    """Where the base model sits in the Hub cache (a snapshot folder)."""
    repo = base_repo(ctx.plan.choice.model)
    sha = "".join(f"{int(b):02x}" for b in ctx.rng.integers(0, 256, 20))
    return f"/root/.cache/huggingface/hub/models--{repo.replace('/', '--')}/snapshots/{sha}"


def process_warnings(ctx: Context, ranks: list[int]) -> None:
    """Every process's `Process rank: ...` summary (WARNING: replicas print it too), in the
    order the processes get there (they race).

    The example scripts print `training_args.fp16` there, so a bf16 run says False.
    """
    log = script_log(ctx)
    start = ctx.clock.t
    arrival = start + ctx.rng.uniform(0.0, 0.05, len(ranks))
    for i in map(int, arrival.argsort(kind="stable")):
        local = ctx.config.local_rank(ranks[i])
        ctx.clock.t = float(arrival[i])
        log.warning(
            f"Process rank: {local}, device: cuda:{local}, n_gpu: 1, distributed training: "
            f"{ctx.config.gpus > 1}, 16-bits training: False"
        )


def arguments_dump(
    ctx: Context, deepspeed_config: str | None, sharding: Mapping[str, str] | None = None
) -> None:
    """`Training/evaluation parameters TrainingArguments(...)` from the main process;
    `sharding`: the arguments the launch sets for FSDP (as __post_init__ leaves them)."""
    c, s = ctx.config, ctx.plan.schedule
    overrides = {
        "bf16": True,
        "do_train": True,
        "do_eval": True,
        "eval_steps": s.eval_interval,
        "eval_strategy": "IntervalStrategy.STEPS",
        "gradient_accumulation_steps": c.grad_accum,
        "gradient_checkpointing": True,
        "learning_rate": c.lr_peak,
        "log_level": "info",
        "logging_dir": f"{c.output_dir}/runs/{LOGDIR_STAMP}_{ctx.hosts[0]}",
        "logging_first_step": True,
        "logging_steps": c.log_interval,
        "lr_scheduler_kwargs": {"min_lr_rate": 0.1},
        "lr_scheduler_type": "SchedulerType.COSINE_WITH_MIN_LR",
        "num_train_epochs": float(c.epochs),
        "output_dir": c.output_dir,
        "per_device_eval_batch_size": c.micro_batch,
        "per_device_train_batch_size": c.micro_batch,
        "resume_from_checkpoint": None,  # the script finds the checkpoint itself
        "run_name": c.name,
        "save_steps": s.checkpoint_interval,
        "save_total_limit": c.save_total_limit,
        "warmup_steps": c.warmup_steps,
        "weight_decay": c.weight_decay,
        "adam_beta2": c.adam_beta2,
        "report_to": ["wandb"] if ctx.plan.flags.wandb else ["tensorboard"],  # issue 21
        "deepspeed": deepspeed_config,
        "ddp_timeout": ctx.profile.collective_timeout_s,
    }
    if c.kind == "pretrain":  # a streamed corpus: the step count drives the run
        overrides["max_steps"] = c.total_steps
    overrides.update(sharding or {})
    lines = training_arguments(overrides)
    script_log(ctx).info(f"Training/evaluation parameters {lines[0]}", dt=0.01)
    for line in lines[1:]:
        if LOGDIR_STAMP in line:  # default_logdir(): local time when the arguments were parsed
            ctx.init.at("inline-stamp", LOGDIR_FORMAT).info(line)
        else:
            ctx.init.info(line)
    if ctx.resume_step:
        checkpoint_detected(ctx)


def checkpoint_detected(ctx: Context) -> None:
    """The example script's own check (run_clm.py, 4.x): --output_dir holds a checkpoint and
    --resume_from_checkpoint was not given, so it resumes from the newest one
    (trainer_utils.get_last_checkpoint); main process only."""
    script_log(ctx).info(
        f"Checkpoint detected, resuming training at {ctx.checkpoint_path(ctx.resume_step)}. To "
        "avoid this behavior, change the `--output_dir` or add `--overwrite_output_dir` to train "
        "from scratch."
    )


def load_tokenizer(ctx: Context, cache: str) -> None:
    """`loading file ... from cache at ...` for each file the tokenizer class asks for."""
    log = transformers_log(ctx)
    files = tokenizer_files(ctx.plan.choice.model)
    names = (
        *files,
        "added_tokens.json",
        "special_tokens_map.json",
        "tokenizer_config.json",
        "chat_template.jinja",
    )
    present = {
        *files,
        "special_tokens_map.json",
        "tokenizer_config.json",
    }
    ctx.tick(0.3, 1.2)
    for name in names:
        where = f"{cache}/{name}" if name in present else "None"
        log.info(f"loading file {name} from cache at {where}", AT["tok_load"])


def load_config(ctx: Context, cache: str) -> None:
    """config.json loaded and dumped."""
    log = transformers_log(ctx)
    version = ctx.config.transformers_version
    log.info(
        f"loading configuration file config.json from cache at {cache}/config.json",
        AT["config_load"],
        dt=float(ctx.rng.uniform(0.2, 0.8)),
    )
    block = config_block(ctx.plan.choice.model, version)
    log.info(f"Model config {block[0]}", AT["config_dump"])
    ctx.init.lines(block[1:])


def weights_file(ctx: Context, cache: str) -> None:
    """from_pretrained's first lines: the weights file, then the dtype the model is built in
    (_get_dtype -> _set_default_dtype logs `Instantiating`, before the init context)."""
    spec = ctx.plan.choice.model
    files = spec.hub.weight_files if spec.hub else len(shards(spec))
    log = transformers_log(ctx)
    name = "model.safetensors.index.json" if files > 1 else "model.safetensors"
    log.info(
        f"loading weights file model.safetensors from cache at {cache}/{name}",
        AT["weights_load"],
        dt=0.1,
    )
    log.info(
        f"Instantiating {_model_cls(ctx)} model under default dtype torch.bfloat16.",
        AT["instantiate"],
        dt=0.05,
    )


def generation_from_model(ctx: Context) -> None:
    """The model's __init__: its generation config made from the model config."""
    block = generation_block(ctx.plan.choice.model, ctx.config.transformers_version)
    transformers_log(ctx).info(f"Generate config {block[0]}", AT["gen_dump"])
    ctx.init.lines(block[1:])


def load_shards(ctx: Context, cache: str, ranks: Sequence[int]) -> tuple[float, float]:
    """Every loading process's shard bar (shard_bars), then the generation config file.
    Returns the load's (start, end)."""
    t0, _ = shard_bars(ctx, ranks)
    log = transformers_log(ctx)
    log.info(
        f"loading configuration file generation_config.json from cache at "
        f"{cache}/generation_config.json",
        AT["gen_load"],
        dt=0.05,
    )
    block = generation_block(ctx.plan.choice.model, ctx.config.transformers_version)
    log.info(f"Generate config {block[0]}", AT["gen_dump"])
    ctx.init.lines(block[1:])
    return t0, ctx.clock.t


def shard_bars(ctx: Context, ranks: Sequence[int]) -> tuple[float, float]:
    """Every loading process's `Loading checkpoint shards` bar (modeling_utils.py:5465, not
    rank-gated: each process reads the weights, FSDP without cpu_ram_efficient_loading as
    ZeRO-3, DDP as TRL's scripts run it). Returns the load's (start, end); the clock at its end."""
    spec = ctx.plan.choice.model
    files = spec.hub.weight_files if spec.hub else len(shards(spec))
    t0 = ctx.clock.t + 0.3
    span = max(2.0, ctx.plan.timings.load_s)
    end = t0 + span
    for rank in ranks:  # the processes start and finish reading at slightly different times
        start = t0 + (0.0 if rank == 0 else float(ctx.rng.uniform(0.0, 0.15)))
        took = span * (1.0 if rank == 0 else float(ctx.rng.uniform(0.96, 1.04)))
        ctx.rows.progress(
            start,
            took,
            "init",
            "load_checkpoint",
            "Loading checkpoint shards",
            files,
            "shards",
            files,
        )
        end = max(end, start + took)
    ctx.clock.t = end
    return t0, end


def use_cache_warnings(ctx: Context, ranks: Sequence[int]) -> None:
    """Each process's first training forward with gradient checkpointing: transformers'
    check_model_inputs turns use_cache off and says so once (warning_once, every rank)."""
    log = transformers_log(ctx, "train")
    start = ctx.clock.t
    end = start
    for _ in ranks:  # each process as its first forward begins (the step's first hundredths)
        ctx.clock.t = start + float(ctx.rng.uniform(0.0, 0.04))
        log.warning(USE_CACHE, AT["warning_once"])
        end = max(end, ctx.clock.t)
    ctx.clock.t = end


def _model_cls(ctx: Context) -> str:
    return arch_classes(ctx.plan.choice.model.family)[1]


def finished_bar(desc: str, n: int, seconds: float, unit: str = "it") -> str:
    """A finished tqdm bar as a log file keeps it (10-cell bar, no terminal width); `unit` as
    tqdm gets it (datasets passes " examples", with its space)."""
    rate = n / max(seconds, 1e-3)
    return f"{desc}: 100%|██████████| {n}/{n} [{format_clock(seconds)}<00:00, {rate:.2f}{unit}/s]"


def prepare_data(ctx: Context, barrier: Callable[[bool], None]) -> None:
    """Loading, tokenising and packing the dataset (datasets' map bars as a log keeps them).

    The script wraps the tokenisation in `training_args.main_process_first()`: the replicas
    call `dist.barrier()` on entering and wait while the main process maps, which calls it on
    leaving; `barrier(main)` prints what that first collective does (its warning, the lazy NCCL
    set-up once the main process joins)."""
    c, s = ctx.config, ctx.plan.schedule
    if c.kind == "pretrain":  # a corpus is streamed, not tokenised up front
        script_log(ctx).info(f"Loading dataset {c.dataset} (streaming=True)", dt=0.5)
        barrier(False)
        barrier(True)
        return
    examples = _raw_examples(ctx)
    script_log(ctx).info(f"Loading dataset {c.dataset}", dt=0.5)
    procs = int(ctx.rng.choice((16, 32, 64)))
    barrier(False)
    for i, (desc, n) in enumerate(
        (
            (f"Running tokenizer on dataset (num_proc={procs})", examples),
            (f"Grouping texts in chunks of {c.seq_len} (num_proc={procs})", examples),
        )
    ):
        took = n / float(ctx.rng.uniform(4000.0, 20000.0))
        ctx.clock.tick(took)
        ctx.init.info(finished_bar(desc, n, took, " examples"))
        if i == 0:
            barrier(True)
    script_log(ctx).info(
        f"Packed {s.examples:,} sequences of {c.seq_len:,} tokens per epoch", dt=0.1
    )


def _raw_examples(ctx: Context) -> int:
    s = ctx.plan.schedule
    for d in SFT_SETS:
        if d.hub_id == s.dataset:
            return min(d.examples, s.examples * ctx.config.seq_len // max(1, d.mean_tokens) + 1)
    return s.examples * 4


def half_precision(ctx: Context) -> None:
    """The Trainer's set-up line."""
    transformers_log(ctx).info("Using auto half precision backend", AT["half"], dt=0.3)


def resume_load(ctx: Context) -> None:
    """Resuming: the Trainer names the checkpoint it loads."""
    transformers_log(ctx).info(
        f"Loading model from {ctx.checkpoint_path(ctx.resume_step)}.",
        AT["resume_load"],
        dt=0.2,
    )


def running_training(ctx: Context) -> None:
    """`***** Running training *****` (and the resume lines)."""
    c, s = ctx.config, ctx.plan.schedule
    trainable = c.params
    # A streamed dataset has no length: max_steps drives, epochs print as sys.maxsize.
    epochs = 9_223_372_036_854_775_807 if c.kind == "pretrain" else c.epochs
    texts = (
        "***** Running training *****",
        f"  Num examples = {s.examples:,}",
        f"  Num Epochs = {epochs:,}",
        f"  Instantaneous batch size per device = {c.micro_batch:,}",
        f"  Total train batch size (w. parallel, distributed & accumulation) = {c.global_batch:,}",
        f"  Gradient Accumulation steps = {c.grad_accum}",
        f"  Total optimization steps = {c.total_steps:,}",
        f"  Number of trainable parameters = {trainable:,}",
    )
    log = transformers_log(ctx)
    for line, text in zip(_RUNNING_LINES, texts, strict=True):
        log.info(text, f"trainer.py:{line}", dt=0.001)
    if not ctx.resume_step:
        return
    epoch, rest = divmod(ctx.resume_step, c.steps_per_epoch)
    resume = (
        "  Continuing training from checkpoint, will skip to saved global_step",
        f"  Continuing training from epoch {epoch}",
        f"  Continuing training from global step {ctx.resume_step}",
        f"  Will skip the first {epoch} epochs then the first {rest * c.grad_accum} batches in "
        "the first epoch.",
    )
    for line, text in zip(_CONTINUE_LINES, resume, strict=True):
        log.info(text, f"trainer.py:{line}")


def eval_header(ctx: Context, log: Logger) -> None:
    """`\\n***** Running Evaluation *****` with its counts (not comma-grouped here)."""
    c = ctx.config
    log.info("", AT["eval"])
    log.at("plain").info("***** Running Evaluation *****")
    log.info(f"  Num examples = {c.eval_batches * c.micro_batch * c.dp}", "trainer.py:4645")
    log.info(f"  Batch size = {c.micro_batch}", "trainer.py:4648")


def save_pretrained(ctx: Context, log: Logger, where: str) -> None:
    """save_pretrained's lines: configs, weights (sharded message) and tokenizer files."""
    spec = ctx.plan.choice.model
    log.info(f"Configuration saved in {where}/config.json", AT["config_saved"])
    log.info(f"Configuration saved in {where}/generation_config.json", AT["gen_saved"])
    n = len(shards(spec))
    if n > 1:
        log.info(
            f"The model is bigger than the maximum size per checkpoint ({MAX_SHARD_LABEL}) and is "
            f"going to be split in {n} checkpoint shards. You can find where each parameters has "
            f"been saved in the index located at {where}/model.safetensors.index.json.",
            AT["sharded_saved"],
        )
    else:
        log.info(f"Model weights saved in {where}/{shard_names(1)[0]}", AT["weights_saved"])
    log.info(
        f"tokenizer config file saved in {where}/tokenizer_config.json", AT["tok_config_saved"]
    )
    log.info(
        f"Special tokens file saved in {where}/special_tokens_map.json", AT["tok_special_saved"]
    )


def rotate(ctx: Context, log: Logger, old: int) -> None:
    """save_total_limit at work."""
    log.info(
        f"Deleting older checkpoint [{ctx.checkpoint_path(old)}] due to args.save_total_limit",
        AT["rotate"],
    )


def total_flos(ctx: Context) -> float:
    """The Trainer's total_flos: 6 x non-embedding parameters x tokens of every step (the
    float it logs, and W&B's summary holds)."""
    c, spec = ctx.config, ctx.plan.choice.model
    non_embedding = c.params - spec.vocab_size * spec.hidden_size
    return float(6 * non_embedding * c.global_batch_tokens * c.total_steps)


def completed(ctx: Context, log: Logger, runtime: float, train_loss: float) -> None:
    """The end of train(): the completion message, the metrics dict, the metrics table.

    As Trainer 4.57 computes them: the rates count the whole schedule (max_steps) even after a
    resume, total_flos is 6 x non-embedding parameters x tokens of every step, the loss is a
    double (the printed step losses are rounded), and train_samples (run_clm) is the dataset's
    length: the steps run in this session do not enter.
    """
    c = ctx.config
    samples = c.total_steps * c.global_batch
    log.info("", AT["completed"])
    plain = log.at("plain")
    plain.lines(
        [
            "",
            "Training completed. Do not forget to share your model on huggingface.co/models =)",
            "",
            "",
        ]
    )
    metrics = train_metrics(ctx, runtime, train_loss)
    epoch, loss = metrics["epoch"], metrics["train_loss"]
    plain.info(str(metrics), dt=0.01)
    flos = total_flos(ctx)
    table = {
        "epoch": float(epoch),
        "total_flos": f"{int(flos) >> 30}GF",
        "train_loss": round(loss, 4),
        "train_runtime": _delta(runtime),
        "train_samples": ctx.plan.schedule.examples,
        "train_samples_per_second": round(samples / runtime, 3),
        "train_steps_per_second": round(c.total_steps / runtime, 3),
    }
    key_w = max(len(k) for k in table)
    val_w = max(len(str(v)) for v in table.values())
    plain.info("***** train metrics *****", dt=0.2)
    plain.lines([f"  {k:<{key_w}} = {v!s:>{val_w}}" for k, v in table.items()])


def train_metrics(ctx: Context, runtime: float, train_loss: float) -> dict[str, float]:
    """The metrics dict train() logs at its end (its rates over the whole schedule)."""
    c = ctx.config
    samples = c.total_steps * c.global_batch
    epoch = round(c.total_steps / c.steps_per_epoch, 2)
    return {
        "train_runtime": round(runtime, 4),
        "train_samples_per_second": round(samples / runtime, 3),
        "train_steps_per_second": round(c.total_steps / runtime, 3),
        "train_loss": train_loss + float(ctx.rng.normal(0.0, 2e-5)),  # the unrounded mean
        "epoch": float(epoch),
    }


def _delta(seconds: float) -> str:
    """transformers' _secs2timedelta: H:MM:SS.cc (hundredths truncated)."""
    cs = int((seconds - int(seconds)) * 100)
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}.{cs:02d}"
