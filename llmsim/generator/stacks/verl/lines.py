"""verl 0.6.0's own lines (everything its TaskRunner and WorkerDict actors print), by source.

- examples/grpo_trainer/run_qwen2-7b.sh: `set -x`, so bash echoes the command (`+ python3 -m
  verl.trainer.main_ppo algorithm.adv_estimator=grpo ...`) with the run's overrides;
- trainer/main_ppo.py:65 `ray init kwargs: {...}` (the runtime env of constants_ppo.py), :242
  `TaskRunner hostname: ..., PID: ...`, :243 the resolved config (`pprint`), :264 and
  ray_trainer.py:326 `need_critic`'s UserWarning (stacklevel 2: the caller's line), :356 `Using
  dataset class`; utils/dataset/rl_dataset.py:139 `dataset len`, :188 `filter dataset len`;
  utils/config.py:197 `[validate_config] ...`; ray_trainer.py:396 dataloader sizes, :406 `Total
  training steps`; workers/fsdp_workers.py:341 `Model config after override`, utils/model.py:177
  `... contains 7.62B parameters`, fsdp_workers.py:464 `wrap_policy`, :540 `Total steps`;
  workers/actor/dp_actor.py:66/69; utils/checkpoint/checkpoint_manager.py:186 and
  ray_trainer.py:843 (fresh) or :855/:859/:860 (resumed); ray_trainer.py:569/586/605 validation,
  workers/reward_manager/naive.py's first sample per data source, :993 `Initial validation
  metrics` (a pprint of a str), :776 `local_global_step_folder`; checkpoint/fsdp_checkpoint_
  manager.py:240/245/254/283 (`log_with_rank`: `[Rank r] ...` at INFO in verl's root format);
  ray_trainer.py:1280 `Final validation metrics`.
"""

from __future__ import annotations

import pprint
from typing import Any, Final

from llmsim.generator.catalog.architecture import param_count
from llmsim.generator.catalog.datasets import PROMPT_SETS, PROMPT_TESTS
from llmsim.generator.catalog.models import arch_classes, base_repo
from llmsim.generator.stacks.common.hfconfig import config_block
from llmsim.generator.stacks.context import Context
from llmsim.generator.stacks.verl.ray import Ray

SITE: Final = "/usr/local/lib/python3.12/dist-packages"
PROJECT: Final = "verl_grpo_example"
ENV_VARS: Final = {
    "TOKENIZERS_PARALLELISM": "true",
    "NCCL_DEBUG": "WARN",
    "VLLM_LOGGING_LEVEL": "WARN",
    "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "true",
    "CUDA_DEVICE_MAX_CONNECTIONS": "1",
    "NCCL_CUMEM_ENABLE": "0",
}
CRITIC_WARNING: Final = (
    "UserWarning: Disabled critic as algorithm.adv_estimator != gae. If it is not intended, "
    "please set critic.enable=True"
)
# A validation's first sample per data source, as the reward manager prints it.
SAMPLES: Final[dict[str, tuple[str, str, str]]] = {
    "openai/gsm8k": (
        "Janet’s ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes "
        "muffins for her friends every day with four. She sells the remainder at the farmers' "
        "market daily for $2 per fresh duck egg. How much in dollars does she make every day at "
        "the farmers' market? Let's think step by step and output the final answer after "
        '"####".',
        "Janet's ducks lay 16 eggs per day. She eats 3 for breakfast and uses 4 for muffins, so "
        "she uses 3 + 4 = 7 eggs. That leaves 16 - 7 = 9 eggs to sell. At $2 per egg she makes "
        "9 * 2 = $18 every day.\n#### 18",
        "18",
    ),
}
MATH_SAMPLE: Final = (
    "What is the positive difference between $120\\%$ of 30 and $130\\%$ of 20? Let's think step "
    "by step and output the final answer within \\boxed{}.",
    "$120\\%$ of 30 is $1.2 \\cdot 30 = 36$ and $130\\%$ of 20 is $1.3 \\cdot 20 = 26$. The "
    "positive difference is $36 - 26 = 10$.\n\nThe answer is $\\boxed{10}$.",
    "10",
)


def experiment(ctx: Context) -> str:
    """trainer.experiment_name: the run's name."""
    return ctx.config.name


def overrides(ctx: Context) -> list[str]:
    """The command's Hydra overrides (as run_qwen2-7b.sh gives them, with this run's values)."""
    c = ctx.config
    post = ctx.plan.choice.post
    assert post is not None and post.rollout is not None
    r = post.rollout
    prompts = c.global_batch // r.generations
    mini = max(1, prompts // 4)
    data = (post.dataset or "openai/gsm8k").split("/")[-1].lower()
    micro = max(1, c.micro_batch)
    return [
        "algorithm.adv_estimator=grpo",
        f"data.train_files=$HOME/data/{data}/train.parquet",
        f"data.val_files=$HOME/data/{data}/test.parquet",
        f"data.train_batch_size={prompts}",
        f"data.max_prompt_length={r.max_prompt}",
        f"data.max_response_length={r.max_completion}",
        "data.filter_overlong_prompts=True",
        "data.truncation='error'",
        f"actor_rollout_ref.model.path={base_repo(ctx.plan.choice.model)}",
        f"actor_rollout_ref.actor.optim.lr={c.lr_peak:g}",
        "actor_rollout_ref.model.use_remove_padding=True",
        f"actor_rollout_ref.actor.ppo_mini_batch_size={mini}",
        f"actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu={micro}",
        "actor_rollout_ref.actor.use_kl_loss=True",
        f"actor_rollout_ref.actor.kl_loss_coef={r.beta:g}",
        "actor_rollout_ref.actor.kl_loss_type=low_var_kl",
        "actor_rollout_ref.actor.entropy_coeff=0",
        "actor_rollout_ref.model.enable_gradient_checkpointing=True",
        "actor_rollout_ref.actor.fsdp_config.param_offload=False",
        "actor_rollout_ref.actor.fsdp_config.optimizer_offload=False",
        f"actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu={micro}",
        f"actor_rollout_ref.rollout.tensor_model_parallel_size={r.rollout_tp}",
        "actor_rollout_ref.rollout.name=vllm",
        f"actor_rollout_ref.rollout.gpu_memory_utilization={r.gpu_memory_utilization}",
        f"actor_rollout_ref.rollout.n={r.generations}",
        f"actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu={micro}",
        "actor_rollout_ref.ref.fsdp_config.param_offload=True",
        "algorithm.use_kl_in_reward=False",
        "trainer.critic_warmup=0",
        '\'trainer.logger=["console","wandb"]\'',
        f"trainer.project_name={PROJECT}_{data}",
        f"trainer.experiment_name={experiment(ctx)}",
        f"trainer.n_gpus_per_node={c.gpus_per_node}",
        f"trainer.nnodes={c.nodes}",
        f"trainer.save_freq={c.checkpoint_interval}",
        f"trainer.test_freq={c.eval_interval}",
        f"trainer.default_local_dir={c.output_dir}",
        f"trainer.total_epochs={c.epochs}",
        f"trainer.total_training_steps={c.total_steps}",
    ]


def command(ctx: Context) -> None:
    """bash's xtrace of the example script's command."""
    ctx.init.info("+ python3 -m verl.trainer.main_ppo " + " ".join(overrides(ctx)))


def ray_init(ctx: Context) -> None:
    """main_ppo.py:65: the ray.init kwargs (an OmegaConf DictConfig, printed as its dict)."""
    kwargs = {"num_cpus": None, "runtime_env": {"env_vars": ENV_VARS, "working_dir": None}}
    ctx.init.info(f"ray init kwargs: {kwargs}", dt=float(ctx.rng.uniform(1.5, 4.0)))


def resolved_config(ctx: Context) -> dict[str, Any]:
    """The resolved config's groups this run sets (a curated part of verl's ~400 keys)."""
    c = ctx.config
    post = ctx.plan.choice.post
    assert post is not None and post.rollout is not None
    r = post.rollout
    prompts = c.global_batch // r.generations
    micro = max(1, c.micro_batch)
    data = (post.dataset or "openai/gsm8k").split("/")[-1].lower()
    fsdp = {
        "forward_prefetch": False,
        "fsdp_size": -1,
        "offload_policy": False,
        "optimizer_offload": False,
        "param_offload": False,
        "reshard_after_forward": True,
        "wrap_policy": {"min_num_params": 0},
    }
    return {
        "actor_rollout_ref": {
            "actor": {
                "clip_ratio": 0.2,
                "clip_ratio_c": 3.0,
                "clip_ratio_high": 0.2,
                "clip_ratio_low": 0.2,
                "entropy_coeff": 0,
                "fsdp_config": fsdp,
                "grad_clip": 1.0,
                "kl_loss_coef": r.beta,
                "kl_loss_type": "low_var_kl",
                "loss_agg_mode": "token-mean",
                "optim": {
                    "lr": c.lr_peak,
                    "lr_warmup_steps": -1,
                    "lr_warmup_steps_ratio": 0.0,
                    "min_lr_ratio": 0.0,
                    "total_training_steps": c.total_steps,
                    "warmup_style": "constant",
                    "weight_decay": 0.01,
                },
                "ppo_epochs": 1,
                "ppo_micro_batch_size_per_gpu": micro,
                "ppo_mini_batch_size": max(1, prompts // 4) * r.generations // c.gpus,
                "strategy": "fsdp",
                "use_dynamic_bsz": False,
                "use_kl_loss": True,
            },
            "hybrid_engine": True,
            "model": {
                "enable_gradient_checkpointing": True,
                "path": base_repo(ctx.plan.choice.model),
                "use_remove_padding": True,
            },
            "ref": {
                "fsdp_config": {**fsdp, "param_offload": True},
                "log_prob_micro_batch_size_per_gpu": micro,
            },
            "rollout": {
                "do_sample": True,
                "dtype": "bfloat16",
                "enforce_eager": False,
                "free_cache_engine": True,
                "gpu_memory_utilization": r.gpu_memory_utilization,
                "max_num_batched_tokens": 8192,
                "n": r.generations,
                "name": "vllm",
                "prompt_length": r.max_prompt,
                "response_length": r.max_completion,
                "temperature": 1.0,
                "tensor_model_parallel_size": r.rollout_tp,
                "top_p": 1,
                "val_kwargs": {
                    "do_sample": False,
                    "n": 1,
                    "temperature": 0,
                    "top_k": -1,
                    "top_p": 1.0,
                },
            },
        },
        "algorithm": {
            "adv_estimator": "grpo",
            "gamma": 1.0,
            "kl_penalty": "kl",
            "lam": 1.0,
            "norm_adv_by_std_in_grpo": True,
            "use_kl_in_reward": False,
        },
        "critic": {"enable": None},
        "data": {
            "filter_overlong_prompts": True,
            "max_prompt_length": r.max_prompt,
            "max_response_length": r.max_completion,
            "prompt_key": "prompt",
            "shuffle": True,
            "train_batch_size": prompts,
            "train_files": f"/root/data/{data}/train.parquet",
            "truncation": "error",
            "val_batch_size": None,
            "val_files": f"/root/data/{data}/test.parquet",
        },
        "reward_model": {"enable": False, "reward_manager": "naive"},
        "trainer": {
            "balance_batch": True,
            "critic_warmup": 0,
            "default_local_dir": c.output_dir,
            "experiment_name": experiment(ctx),
            "logger": ["console", "wandb"],
            "n_gpus_per_node": c.gpus_per_node,
            "nnodes": c.nodes,
            "project_name": f"{PROJECT}_{data}",
            "save_freq": c.checkpoint_interval,
            "test_freq": c.eval_interval,
            "total_epochs": c.epochs,
            "total_training_steps": c.total_steps,
            "val_before_train": True,
        },
    }


def task_start(ctx: Context, ray: Ray) -> None:
    """The TaskRunner's first lines: its host, the resolved config, the critic warning, the
    config check, the datasets, the dataloaders."""
    c = ctx.config
    post = ctx.plan.choice.post
    assert post is not None
    log = ray.task()
    log.info(f"TaskRunner hostname: {ctx.hosts[0]}, PID: {ray.task_pid}", dt=1.5)
    log.lines(pprint.pformat(resolved_config(ctx)).splitlines(), dt=0.05)
    _critic_warning(
        ctx, ray, f"{SITE}/verl/trainer/main_ppo.py:264", "use_critic=need_critic(config),"
    )
    log.info("[validate_config] All configuration checks passed successfully!", dt=0.3)
    dataset = next((d for d in PROMPT_SETS if d.hub_id == post.dataset), PROMPT_SETS[0])
    tests = PROMPT_TESTS.get(dataset.hub_id, 500)
    for n in (dataset.examples, tests):
        log.info("Using dataset class: RLHFDataset", dt=0.2)
        log.info(f"dataset len: {n}", dt=float(ctx.rng.uniform(0.3, 1.5)))
        log.info(f"filter dataset len: {n}", dt=float(ctx.rng.uniform(1.0, 6.0)))
    _critic_warning(
        ctx,
        ray,
        f"{SITE}/verl/trainer/ppo/ray_trainer.py:326",
        "self.use_critic = need_critic(self.config)",
    )
    prompts = c.global_batch // max(1, post.rollout.generations if post.rollout else 1)
    log.info(
        f"Size of train dataloader: {dataset.examples // prompts}, Size of val dataloader: 1",
        dt=0.4,
    )
    log.info(f"Total training steps: {c.total_steps}")


def _critic_warning(ctx: Context, ray: Ray, where: str, source: str) -> None:
    log = ray.task()
    log.info(f"{where}: {CRITIC_WARNING}", dt=0.05)
    log.info(f"  {source}")


def workers_start(ctx: Context, ray: Ray) -> None:
    """Each WorkerDict's model set-up (identical lines: Ray's dedup collapses them)."""
    c = ctx.config
    spec = ctx.plan.choice.model
    block = config_block(spec, c.transformers_version)
    first = ray.worker(0)
    first.info(f"Model config after override: {block[0]}", dt=2.0)
    first.lines(block[1:])
    n = param_count(spec) / 1e9
    ray.workers(f"{arch_classes(spec.family)[1]} contains {n:.2f}B parameters")
    ctx.clock.tick(float(ctx.rng.uniform(2.0, 6.0)))
    cls = f"transformers.models.{arch_classes(spec.family)[2]}.modeling_{arch_classes(spec.family)[2]}"
    layer = arch_classes(spec.family)[1].replace("ForCausalLM", "DecoderLayer")
    a, b = (f"0x7f{int(x):010x}" for x in ctx.rng.integers(0, 2**40, 2))
    ray.worker(0).info(
        f"wrap_policy: functools.partial(<function _or_policy at {a}>, policies=[functools.partial("
        f"<function transformer_auto_wrap_policy at {b}>, transformer_layer_cls={{<class "
        f"'{cls}.{layer}'>}})])"
    )
    ctx.clock.tick(float(ctx.rng.uniform(3.0, 8.0)))
    ray.workers(f"Total steps: {c.total_steps}, num_warmup_steps: 0")
    ray.workers("Actor use_remove_padding=True")
    ray.workers("Actor use_fused_kernels=False")


def tracker(ctx: Context) -> str:
    """latest_checkpointed_iteration.txt in the checkpoint folder (as an absolute path)."""
    return f"/root/{ctx.checkpoint_dir.lstrip('./')}/latest_checkpointed_iteration.txt"


def load_or_start(ctx: Context, ray: Ray) -> None:
    """_load_checkpoint: nothing to resume from, or the checkpoint the relaunch resumes."""
    log = ray.task()
    if not ctx.resume_step:
        log.info(f"Checkpoint tracker file does not exist: {tracker(ctx)}", dt=0.5)
        log.info("Training from scratch")
        return
    folder = f"/root/{ctx.checkpoint_path(ctx.resume_step).lstrip('./')}"
    log.info(f"Load from checkpoint folder: {folder}", dt=0.5)
    log.info(f"Setting global step to {ctx.resume_step}")
    log.info(f"Resuming from {folder}")


def validation(ctx: Context, ray: Ray, step: int, phase: str = "init") -> None:
    """_validate's prints at `step`: the meta info, generation, the first sample, the count."""
    post = ctx.plan.choice.post
    assert post is not None
    log = ray.task(phase)
    tests = PROMPT_TESTS.get(post.dataset or "", 500)
    meta = {
        "eos_token_id": 151645 if ctx.config.family == "qwen2" else 128009,
        "pad_token_id": 151643 if ctx.config.family == "qwen2" else 128001,
        "recompute_log_prob": False,
        "do_sample": False,
        "validate": True,
        "global_steps": step,
    }
    log.info(f"test_gen_batch meta info: {meta}", dt=0.3)
    seconds = ctx.plan.timings.eval_batch_s
    log.info("validation generation end", dt=seconds * 0.9)
    prompt, response, truth = SAMPLES.get(post.dataset or "", MATH_SAMPLE)
    lines = [
        f"[prompt] {_chat(ctx, prompt)}",
        f"[response] {response}",
        f"[ground_truth] {truth}",
        "[score] 1.0",
    ]
    log.lines([ln for text in lines for ln in text.split("\n")], dt=0.2)
    log.info(f"len reward_extra_infos_dict['reward']: {tests}", dt=0.1)


def _chat(ctx: Context, prompt: str) -> str:
    """The prompt as the tokenizer decodes it (chat template, special tokens skipped)."""
    if ctx.config.family == "qwen2":
        return (
            "system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n"
            f"user\n{prompt}\nassistant\n"
        )
    return f"user\n\n{prompt}assistant\n\n"


def progress_start(ctx: Context, ray: Ray) -> None:
    """The tqdm bar's first draw (ray_trainer.py:1003: `Training Progress`, on a pipe)."""
    c = ctx.config
    ctx.init.info(
        f"Training Progress: {int(100 * ctx.resume_step / c.total_steps):3d}%|          | "
        f"{ctx.resume_step}/{c.total_steps} [00:00<?, ?it/s]"
    )


def metrics_pprint(ctx: Context, ray: Ray, label: str, key: str, value: float, phase: str) -> None:
    """`pprint(f"{label} validation metrics: {...}")`: a str, wrapped by pprint."""
    text = f"{label} validation metrics: {{{key!r}: {value!r}}}"
    ray.task(phase).lines(pprint.pformat(text).splitlines(), dt=0.05)


def save(ctx: Context, ray: Ray, step: int, seconds: float) -> None:
    """_save_checkpoint: the folder, then every rank's model, optimizer and extra state."""
    c = ctx.config
    folder = ctx.checkpoint_path(step)
    ray.task("checkpoint").info(f"local_global_step_folder: {folder}")
    actor = f"/root/{folder.lstrip('./')}/actor"
    world = c.gpus
    parts = (("model", 0.3), ("optim", 0.6), ("extra_state", 0.02))
    for name, share in parts:
        ctx.clock.tick(seconds * share)
        label = (
            "Saved model to"
            if name == "model"
            else f"Saved {'optim' if name == 'optim' else 'extra_state'} to"
        )
        ray.workers(
            f"[Rank 0] {label} {actor}/{name}_world_size_{world}_rank_0.pt",
            phase="checkpoint",
            pylog=True,
        )
    ray.worker(0, "checkpoint", pylog=True).info(
        f"[Rank 0] Saved model config and tokenizer class to {actor}/huggingface", dt=0.3
    )
