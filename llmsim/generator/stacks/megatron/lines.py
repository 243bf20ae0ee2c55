"""Megatron-LM core_v0.15.0 lines (megatron/training/*.py, megatron/core/*).

Across nodes the job runs under srun with one task per GPU (no torchrun), every rank's stdout
merged: rank 0's `print_rank_0` lines, the last rank's iteration, validation and timer lines,
one parameter-count line per (tensor, pipeline) rank, and megatron.core's `logging` records in
Python's default format (`INFO:megatron.core....:message`). Timestamps in the iteration line
and the `[...] datetime:` lines have no microseconds before core 0.16.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

from llmsim.generator.catalog.datasets import corpus_of
from llmsim.generator.rows import Logger
from llmsim.generator.stacks.context import Context
from llmsim.generator.stacks.megatron.argdefaults import ARGUMENT_DEFAULTS
from llmsim.generator.stacks.megatron.counts import padded_vocab, rank_params
from llmsim.generator.stacks.megatron.memory import theoretical_lines
from llmsim.generator.stacks.megatron.terminal import TERMINAL

DATA_ROOT: Final = "/lustre/datasets"
STRAGGLER_MINMAX: Final = 4  # --straggler-minmax-count: the report's Bottom/Top lines
SHARDING_TYPE: Final = "dp_reshardable"  # the distributed optimizer's checkpoint layout
SPLIT: Final = "99,1,0"  # --split: no test split, so no test indices and no test evaluation
EXIT_DURATION_MIN: Final = 230  # save and exit before a 4-hour Slurm limit; the next job resumes


def ddp_bucket_numel(dp: int) -> int:
    """Elements per gradient bucket of Megatron's DDP: max(40M, 1M x data-parallel size)."""
    return max(40_000_000, 1_000_000 * dp)


def data_prefix(ctx: Context) -> str:
    """--data-path: the preprocessed .bin/.idx prefix."""
    corpus = corpus_of(ctx.config.dataset)
    short = corpus.short if corpus else "corpus"
    return f"{DATA_ROOT}/{short}/{short}_text_document"


def _launch_args(ctx: Context) -> dict[str, object]:
    """What the launch passes (pretrain_gpt.py's command line), by argument name."""
    c, layout, spec = ctx.config, ctx.plan.fit.layout, ctx.plan.choice.model
    recompute = layout.recompute
    scaling = dict(spec.hub.rope_scaling) if spec.hub else {}
    first = layout.stage_layers[0] if layout.uneven else None
    return {
        "adam_beta1": c.adam_beta1,
        "adam_beta2": c.adam_beta2,
        "adam_eps": 1e-08,
        "add_bias_linear": False,  # --disable-bias-linear (store_false, arguments.py:2193)
        "add_qkv_bias": c.qkv_bias,
        "attention_dropout": 0.0,
        "bf16": True,
        "clip_grad": c.grad_clip,
        "cross_entropy_loss_fusion": True,
        "data_path": [data_prefix(ctx)],
        "decoder_first_pipeline_num_layers": first,
        "decoder_last_pipeline_num_layers": layout.stage_layers[-1] if layout.uneven else None,
        "distributed_timeout_minutes": ctx.profile.collective_timeout_s // 60,
        "eval_interval": c.eval_interval,
        "eval_iters": c.eval_batches,
        "exit_duration_in_mins": EXIT_DURATION_MIN,
        "ffn_hidden_size": c.ffn,
        "global_batch_size": c.global_batch,
        "group_query_attention": c.kv_heads < c.heads,
        "hidden_dropout": 0.0,
        "hidden_size": c.hidden,
        "init_method_std": 0.02,
        "kv_channels": c.head_dim,
        "load": ctx.checkpoint_dir,
        "log_interval": c.log_interval,
        "log_straggler": ctx.plan.flags.log_straggler,
        "log_throughput": True,
        "lr": c.lr_peak,
        "lr_decay_iters": c.total_steps,
        "lr_decay_style": "cosine",
        "lr_warmup_iters": c.warmup_steps,
        "manual_gc": True,
        "manual_gc_interval": 100,
        "max_position_embeddings": c.max_position_embeddings,
        "micro_batch_size": c.micro_batch,
        "min_lr": c.lr_min,
        "norm_epsilon": spec.rms_norm_eps,
        "normalization": "RMSNorm",
        "num_attention_heads": c.heads,
        "num_layers": c.layers,
        "num_query_groups": c.kv_heads,
        "num_workers": 2,
        "overlap_grad_reduce": True,
        "overlap_param_gather": True,
        "pipeline_model_parallel_size": c.pp,
        "position_embedding_type": "rope",
        "recompute_granularity": None if recompute == "none" else recompute,
        "recompute_method": "uniform" if recompute == "full" else None,
        "recompute_num_layers": 1 if recompute == "full" else None,
        "rope_scaling_factor": float(scaling.get("factor", 8.0)),
        "rotary_base": int(spec.rope_theta),
        "save": ctx.checkpoint_dir,
        "save_interval": c.checkpoint_interval,
        "seq_length": c.seq_len,
        "sequence_parallel": c.tp > 1,
        "split": SPLIT,
        "straggler_minmax_count": STRAGGLER_MINMAX,
        "swiglu": True,
        "tensor_model_parallel_size": c.tp,
        "tokenizer_model": c.hub_id or f"{DATA_ROOT}/tokenizers/{c.model.lower()}",
        "tokenizer_type": "HuggingFaceTokenizer",
        "train_iters": c.total_steps,
        "untie_embeddings_and_output_weights": not c.tied_embeddings,
        "use_distributed_optimizer": True,
        "use_flash_attn": False,
        "use_rope_scaling": scaling.get("rope_type") == "llama3",
        "weight_decay": c.weight_decay,
        **_wandb_args(ctx),
    }


def _wandb_args(ctx: Context) -> dict[str, object]:
    """--tensorboard-dir and the --wandb-* arguments of a run that logs to W&B (issue 21):
    Megatron logs its scalars to W&B only where the TensorBoard writer exists."""
    if not ctx.plan.flags.wandb:
        return {}
    run = TERMINAL.wandb_run(ctx)
    return {
        "tensorboard_dir": f"{ctx.checkpoint_dir}/tensorboard",
        "wandb_entity": "",
        "wandb_exp_name": run.name,
        "wandb_project": run.project,
        "wandb_save_dir": "",
    }


def _validated(ctx: Context) -> dict[str, object]:
    """What parse_args and validate_args set before the dump (arguments.py:347-1209)."""
    c = ctx.config
    return {
        "rank": 0,
        "world_size": c.gpus,
        "data_parallel_size": c.dp,
        "transformer_pipeline_model_parallel_size": c.pp,
        "virtual_pipeline_model_parallel_size": None,  # no interleaving
        "overlap_p2p_comm": False,  # non-interleaved schedule
        "align_param_gather": False,
        "accumulate_allreduce_grads_in_fp32": True,  # bf16 with fp32 main grads
        "params_dtype": "torch.bfloat16",
        "main_grads_dtype": "torch.float32",
        "main_params_dtype": "torch.float32",
        "exp_avg_dtype": "torch.float32",
        "exp_avg_sq_dtype": "torch.float32",
        "consumed_train_samples": 0,
        "skipped_train_samples": 0,
        "consumed_valid_samples": 0,
        "variable_seq_lengths": False,
        "use_dist_ckpt": True,  # ckpt_format torch_dist
        "dataloader_type": "single",
        "encoder_num_layers": c.layers,
        "encoder_seq_length": c.seq_len,
        "start_weight_decay": c.weight_decay,
        "end_weight_decay": c.weight_decay,
        "expert_tensor_parallel_size": c.tp,
        "bias_gelu_fusion": False,  # no bias at all
    }


def argument_values(ctx: Context) -> dict[str, str]:
    """Every name the dump prints with its value: the parser's defaults, what the launch
    passes, what validate_args derives. Only names that exist at dump time (a launch argument
    under another name is a bug: KeyError)."""
    values = dict(ARGUMENT_DEFAULTS)
    for name, value in {**_launch_args(ctx), **_validated(ctx)}.items():
        if name not in values:
            raise KeyError(f"Megatron core_v0.15.0 has no argument {name!r} at dump time")
        values[name] = str(value)
    return values


def arguments(ctx: Context) -> None:
    """validate_args' rank-0 lines and the sorted argument dump (arguments.py `_print_args`,
    1212-1224): 24 dashes either side of the title, 48 - len(name) dots (two spaces from 48)."""
    c = ctx.config
    log = ctx.init
    log.info(
        f"using world size: {c.gpus}, data-parallel size: {c.dp}, context-parallel size: 1, "
        f"hierarchical context-parallel sizes: None, tensor-model-parallel size: {c.tp}, "
        f"pipeline-model-parallel size: {c.pp}",
        dt=3.0,
    )
    if c.pp > 1:
        log.info(
            "WARNING: Setting args.overlap_p2p_comm and args.align_param_gather to False since "
            "non-interleaved schedule does not support overlapping p2p communication and "
            "aligned param AG"
        )
    log.info("Number of virtual stages per pipeline stage: None")
    log.info("accumulate and all-reduce gradients in fp32 for bfloat16 data type.")
    log.info("using torch.bfloat16 for parameters ...")
    log.info("------------------------ arguments ------------------------")
    rows = [
        f"  {k} {'.' * (48 - len(k))} {v}" if len(k) < 48 else f"  {k}  {v}"
        for k, v in argument_values(ctx).items()
    ]
    log.lines(sorted(rows, key=str.lower))
    log.info("-------------------- end of arguments ---------------------")


def initialize(ctx: Context, nccl: Callable[[], None]) -> None:
    """initialize_megatron: tokenizer, torch.distributed (NCCL), seeds, compiled helpers."""
    c = ctx.config
    log = ctx.init
    # global_vars.set_global_variables: the microbatch calculator (rank 0, through
    # training.py's basicConfig: num_microbatches_calculator.py:227), the tokenizer, then
    # _set_one_logger on the last rank, which cannot import one_logger (global_vars.py:236)
    log.at("pylog", "megatron.core.num_microbatches_calculator").info(
        f"setting number of microbatches to constant {c.grad_accum}"
    )
    log.info("> building HuggingFaceTokenizer tokenizer ...", dt=0.4)
    padded = padded_vocab(c.vocab, c.tp)
    log.info(
        f" > padded vocab (size: {c.vocab}) with {padded - c.vocab} dummy tokens "
        f"(new size: {padded})",
        dt=1.1,
    )
    log.info(
        "WARNING: one_logger package is required to enable e2e metrics tracking. please go to "
        "https://confluence.nvidia.com/display/MLWFO/Package+Repositories for details to "
        "install it",
        dt=0.01,
    )
    log.info("> initializing torch distributed ...", dt=0.1)
    nccl()
    log.info(f"> initialized tensor model parallel with size {c.tp}", dt=0.3)
    log.info(f"> initialized pipeline model parallel with size {c.pp}")
    log.info("> setting random seeds to 1234 ...")
    log.info("> compiling dataset index builder ...")
    where = "/workspace/megatron-lm/megatron/core/datasets"
    log.lines(
        [
            f"make: Entering directory '{where}'",
            "make: Nothing to be done for 'default'.",
            f"make: Leaving directory '{where}'",
        ],
        dt=0.05,
    )
    log.info(
        f">>> done with dataset index builder. Compilation time: "
        f"{float(ctx.rng.uniform(0.04, 0.09)):.3f} seconds"
    )
    log.info("> compiling and loading fused kernels ...")
    took = float(ctx.rng.uniform(0.8, 3.5))
    log.info(
        f">>> done with compiling and loading fused kernels. Compilation time: {took:.3f} seconds",
        dt=took,
    )
    took = ctx.clock.t - ctx.attempt.started - 0.5
    log.info(f"time to initialize megatron (seconds): {took:.3f}", dt=0.2)
    dated(log, "after megatron is initialized")


def dated(log: Logger, what: str) -> None:
    """print_datetime: `[what] datetime: <stamp> ` (the stamp is drawn after the text)."""
    log.at("megatron-dated").info(f"[{what}] datetime: ")


def model(ctx: Context) -> None:
    """get_model: the per-rank parameter counts, then DDP, buckets and the optimizer."""
    c, layout = ctx.config, ctx.plan.fit.layout
    spec = ctx.plan.choice.model
    log = ctx.init
    log.info("building GPT model ...", dt=0.5)
    pairs = [(t, p) for p in range(c.pp) for t in range(c.tp)]
    order = ctx.rng.permutation(len(pairs))
    for i in order:
        t, p = pairs[int(i)]
        n = rank_params(spec, c.tp, layout.stage_layers[p], p == 0, p == c.pp - 1)
        log.info(
            f" > number of parameters on (tensor, pipeline) model parallel rank ({t}, {p}): {n}",
            dt=float(ctx.rng.uniform(0.0, 0.05)),
        )
    core = log.at("pylog", "megatron.core.distributed.distributed_data_parallel")
    bucket = ddp_bucket_numel(c.dp)
    core.info(
        "Setting up DistributedDataParallel with config DistributedDataParallelConfig("
        "grad_reduce_in_fp32=True, overlap_grad_reduce=True, overlap_param_gather=True, "
        "align_param_gather=False, use_distributed_optimizer=True, "
        "num_distributed_optimizer_instances=1, check_for_nan_in_grad=True, "
        f"check_for_large_grads=False, bucket_size={bucket}, pad_buckets_for_high_nccl_busbw="
        "False, average_in_collective=False, fp8_param_gather=False, use_megatron_fsdp=False, "
        "use_custom_fsdp=False, data_parallel_sharding_strategy='no_shard', "
        "gradient_reduce_div_fusion=True, suggested_communication_unit_size=None, "
        "preserve_fp32_weights=True, keep_fp8_transpose_cache=False, nccl_ub=False, "
        "fsdp_double_buffer=False, outer_dp_sharding_strategy='no_shard', "
        "disable_symmetric_registration=False, delay_wgrad_compute=False)",
        dt=0.4,
    )
    _buckets(ctx, log)
    opt = log.at("pylog", "megatron.core.optimizer")
    opt.info(
        f"Setting up optimizer with config OptimizerConfig(optimizer='adam', lr={c.lr_peak}, "
        f"min_lr={c.lr_min}, decoupled_lr=None, decoupled_min_lr=None, "
        f"weight_decay={c.weight_decay}, fp8_recipe='delayed', fp16=False, bf16=True, "
        "reuse_grad_buf_for_mxfp8_param_ag=False, params_dtype=torch.bfloat16, "
        "use_precision_aware_optimizer=False, store_param_remainders=True, "
        "main_grads_dtype=torch.float32, main_params_dtype=torch.float32, "
        "exp_avg_dtype=torch.float32, exp_avg_sq_dtype=torch.float32, loss_scale=None, "
        "initial_loss_scale=4294967296, min_loss_scale=1.0, loss_scale_window=1000, "
        f"hysteresis=2, adam_beta1={c.adam_beta1}, adam_beta2={c.adam_beta2}, adam_eps=1e-08, "
        "sgd_momentum=0.9, use_distributed_optimizer=True, overlap_param_gather=True, "
        "overlap_param_gather_with_optimizer_step=False, optimizer_cpu_offload=False, "
        "optimizer_offload_fraction=0.0, use_torch_optimizer_for_cpu_offload=False, "
        "overlap_cpu_optimizer_d2h_h2d=False, pin_cpu_grads=True, pin_cpu_params=True, "
        f"clip_grad={c.grad_clip}, log_num_zeros_in_grad=False, barrier_with_L1_time=True, "
        "timers=<megatron.core.timers.Timers object at "
        f"0x7f{int(ctx.rng.integers(0x10000000, 0xFFFFFFFF)):08x}0>, config_logger_dir='')",
        dt=0.2,
    )
    log.at("pylog", "megatron.core.optimizer_param_scheduler").info(
        "> learning rate decay style: cosine", dt=0.3
    )


def _params(ctx: Context, stage: int) -> list[tuple[str, int]]:
    """(name, elements) of one pipeline stage's parameters on a TP rank, in backward order."""
    c = ctx.config
    layout = ctx.plan.fit.layout
    h, tp = c.hidden, c.tp
    q, kv = c.heads * c.head_dim, c.kv_heads * c.head_dim
    vocab = padded_vocab(c.vocab, tp) // tp * h
    out: list[tuple[str, int]] = []
    if stage == c.pp - 1:
        if not c.tied_embeddings or c.pp > 1:
            out.append(("module.output_layer.weight", vocab))
        out.append(("module.decoder.final_layernorm.weight", h))
    for i in reversed(range(layout.stage_layers[stage])):
        p = f"module.decoder.layers.{i}."
        out += [
            (p + "mlp.linear_fc2.weight", h * c.ffn // tp),
            (p + "mlp.linear_fc1.weight", 2 * c.ffn // tp * h),
            (p + "mlp.linear_fc1.layer_norm_weight", h),
            (p + "self_attention.linear_proj.weight", q // tp * h),
        ]
        if c.qkv_bias:
            out.append((p + "self_attention.linear_qkv.bias", (q + 2 * kv) // tp))
        out += [
            (p + "self_attention.linear_qkv.weight", (q + 2 * kv) // tp * h),
            (p + "self_attention.linear_qkv.layer_norm_weight", h),
        ]
    if stage == 0:
        out.append(("module.embedding.word_embeddings.weight", vocab))
    return out


def _buckets(ctx: Context, log: Logger) -> None:
    """param_and_grad_buffer's bucket plan, logged on each pipeline stage's first rank."""
    c = ctx.config
    stages = range(c.pp) if c.pp <= 4 else (0, c.pp - 1)
    core = log.at("pylog", "megatron.core.distributed.param_and_grad_buffer")
    for stage in stages:
        groups = bucket_plan(ctx, stage)
        core.info(
            f"Number of buckets for gradient all-reduce / reduce-scatter: {len(groups)}", dt=0.05
        )
        for i, group in enumerate(groups):
            numel = sum(n for _, n in group)
            log.info(
                f"Params for bucket {i + 1} ({numel} elements, {padded_bucket(ctx, numel)} "
                "padded size):"
            )
            log.lines([f"\t{name}" for name, _ in group])


def load_checkpoint(ctx: Context) -> tuple[float, float]:
    """Resuming the distributed checkpoint; returns the load's (start, end)."""
    c = ctx.config
    log = ctx.init
    log.info(
        f" loading distributed checkpoint from {ctx.checkpoint_dir} at iteration {ctx.resume_step}",
        dt=0.2,
    )
    start = ctx.clock.t
    span = ctx.plan.timings.load_s
    ctx.rows.progress(
        start, span, "init", "load_checkpoint", "Loading checkpoint", c.pp, "shards", min(c.pp, 8)
    )
    # the metadata the save stored (_build_sharded_state_dict_metadata, checkpointing.py:352-390)
    log.info(
        "sharded_state_dict metadata loaded from the checkpoint: "
        f"{{'distrib_optim_sharding_type': '{SHARDING_TYPE}', 'singleton_local_shards': False, "
        "'chained_optim_avoid_prefix': True}",
        dt=span * 0.05,
    )
    ctx.clock.t = start + span
    log.info(" checkpoint version 3.0")  # checkpointing.py:1603 (saved as 3.0 at 786)
    log.info(
        f"  successfully loaded checkpoint from {ctx.checkpoint_dir} [ t 1/{c.tp}, "
        f"p 1/{c.pp} ] at iteration {ctx.resume_step}"
    )
    end = ctx.clock.t
    timers(ctx, log, (("load-checkpoint", span * 1000),))
    return start, end


def timers(ctx: Context, log: Logger, items: tuple[tuple[str, float], ...]) -> None:
    """Timers.log: `(min, max) time across ranks (ms):` and one dotted line per timer."""
    log.info("(min, max) time across ranks (ms):", dt=0.01)
    for name, ms in items:
        low = ms * float(ctx.rng.uniform(0.97, 0.999))
        log.info(f"    {(name + ' ').ljust(48, '.')}: ({low:.2f}, {ms:.2f})")


def datasets(ctx: Context, setup_ms: float) -> None:
    """build_train_valid_test_datasets and the GPTDataset index loads."""
    c = ctx.config
    log = ctx.init
    dated(log, "after model, optimizer, and learning rate scheduler are built")
    log.info("> building train, validation, and test datasets ...", dt=0.1)
    train = c.total_steps * c.global_batch
    evals = (c.total_steps // c.eval_interval + 1) * c.eval_batches * c.global_batch
    log.lines(
        [
            " > datasets target sizes (minimum size):",
            f"    train:      {train}",
            f"    validation: {evals}",
            f"    test:       {c.eval_batches * c.global_batch}",
        ]
    )
    log.info("> building train, validation, and test datasets for GPT ...")
    idx = log.at("pylog", "megatron.core.datasets.indexed_dataset")
    docs = int(c.dataset_tokens / float(ctx.rng.uniform(900.0, 1400.0)))
    idx.info(f"Load the _IndexReader from {data_prefix(ctx)}.idx", dt=0.3)
    for what in ("sequence lengths", "sequence pointers", "document indices"):
        idx.info(f"\tExtract the {what}", dt=float(ctx.rng.uniform(0.2, 2.0)))
    idx.info(f"> total number of sequences: {docs}")
    idx.info(f"> total number of documents: {docs}")
    gpt = log.at("pylog", "megatron.core.datasets.gpt_dataset")
    # --split 99,1,0 gives no test split (blended_megatron_dataset_config.py:144-185): no test
    # GPTDataset is built, though the target sizes above count one
    for split, n in (("train", train), ("valid", evals)):
        # each split's dataset has its own config, hence its own cache digest
        digest = "".join(f"{int(b):02x}" for b in ctx.rng.integers(0, 256, 16))
        gpt.info(f"Load the GPTDataset {split} indices")
        for part in ("document", "sample", "shuffle"):
            gpt.info(
                f"\tLoad the {part} index from {digest}-GPTDataset-{split}-{part}_index.npy",
                dt=0.05,
            )
        gpt.info(f"> total number of samples: {int(n * float(ctx.rng.uniform(1.0, 1.02)))}")
    log.info("> finished creating GPT datasets ...")
    dated(log, "after dataloaders are built")
    log.info("done with setup ...")
    data_ms = float(ctx.rng.uniform(2000.0, 12000.0))
    timers(
        ctx,
        log,
        (
            ("model-and-optimizer-setup", setup_ms),
            ("train/valid/test-data-iterators-setup", data_ms),
        ),
    )
    log.info("training ...")
    if ctx.resume_step:
        log.info(
            f"Overwriting rerun_state_machine.current_iteration from 0 to {ctx.resume_step}..."
        )
    dated(log, "before the start of training step")


def save_start(ctx: Context, log: Logger, step: int) -> None:
    """save_checkpoint's first lines (checkpointing.py:447, no timestamp before core 0.16; then
    496-497: the distributed optimizer's sharding type, dp_reshardable on torch >= 2.6)."""
    log.info(
        f"saving checkpoint at iteration {step:7d} to {ctx.checkpoint_dir} in torch_dist format"
    )
    log.info(f"Storing distributed optimizer sharded state of type {SHARDING_TYPE}", dt=0.01)


def memory_report(ctx: Context, log: Logger, step: int) -> None:
    """After the first logged iteration: rank 0's theoretical memory report (megatron/memory.py),
    then report_memory from each rank with data-parallel rank 0 (each (tensor, pipeline) rank)."""
    log.lines(theoretical_lines(ctx), dt=0.01)
    c = ctx.config
    mem = ctx.plan.fit.memory
    for p in range(c.pp):
        for t in range(c.tp):
            rank = p * c.tp * c.dp + t
            stage = mem.stages[p]
            alloc = (stage.weights + stage.grads + stage.optimizer + stage.buffers) * 1024
            peak = stage.allocated * 1024
            reserved = mem.reserved_gib(p) * 1024
            q = float(ctx.rng.uniform(0.0, 1.0))
            log.info(
                f"[Rank {rank}] (after {step} iterations) memory (MB) | allocated: "
                f"{round(alloc * 1024 + q) / 1024} | max allocated: "
                f"{round(peak * 1024 + q) / 1024} | reserved: {round(reserved / 2) * 2.0} | "
                f"max reserved: {round(reserved / 2) * 2.0}",
                dt=0.001,
            )


def finish(ctx: Context, log: Logger) -> None:
    """After the last iteration."""
    dated(log, "after training is done")


def evaluating(ctx: Context, log: Logger) -> None:
    """evaluate() with verbose=True, as the post-training `do_valid` calls it (training.py:
    2544-2549; in-loop validation passes verbose=False): the sample count, then one line as each
    evaluation iteration starts (eval_batch_size is the global batch)."""
    c = ctx.config
    start = ctx.clock.t
    log.info(f"Evaluating on {c.eval_batches * c.global_batch} samples")
    for i in range(c.eval_batches):
        ctx.clock.t = start + i * ctx.plan.timings.eval_batch_s
        log.info(f"Evaluating iter {i + 1}/{c.eval_batches}")
    ctx.clock.t = start


def bucket_plan(ctx: Context, stage: int) -> list[list[tuple[str, int]]]:
    """param_and_grad_buffer's buckets of a pipeline stage: parameters fill a bucket in
    backward order until it holds ddp_bucket_numel(dp) elements."""
    groups: list[list[tuple[str, int]]] = [[]]
    bucket = ddp_bucket_numel(ctx.config.dp)
    for name, numel in _params(ctx, stage):
        if sum(n for _, n in groups[-1]) >= bucket:
            groups.append([])
        groups[-1].append((name, numel))
    return groups


def padded_bucket(ctx: Context, numel: int) -> int:
    """A bucket's size padded, with the distributed optimizer, to a multiple of lcm(dp, 128)."""
    pad = math.lcm(ctx.config.dp, 128)
    return -(-numel // pad) * pad
