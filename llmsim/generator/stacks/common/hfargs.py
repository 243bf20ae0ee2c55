"""`TrainingArguments(...)` as transformers 4.57.1 prints it (training_args.py `__str__`).

Every field but the two deprecated per_gpu ones, sorted, one `name=value,` per line, with the
values __post_init__ leaves (enums, expanded paths). Defaults come from the 4.57.1 dataclass;
the run overrides what its script sets.
"""

from __future__ import annotations

from typing import Any, Final

_ACCEL = (
    "AcceleratorConfig(split_batches=False, dispatch_batches=None, even_batches=True, "
    "use_seedable_sampler=True, non_blocking=False, gradient_accumulation_kwargs=None, "
    "use_configured_state=False)"
)
_FSDP_CONFIG = (
    "{'min_num_params': 0, 'xla': False, 'xla_fsdp_v2': False, 'xla_fsdp_grad_ckpt': False}"
)
DEFAULTS: Final[dict[str, Any]] = {
    "_n_gpu": 1,
    "accelerator_config": _ACCEL,
    "adafactor": False,
    "adam_beta1": 0.9,
    "adam_beta2": 0.999,
    "adam_epsilon": 1e-08,
    "auto_find_batch_size": False,
    "average_tokens_across_devices": True,
    "batch_eval_metrics": False,
    "bf16": False,
    "bf16_full_eval": False,
    "data_seed": None,
    "dataloader_drop_last": False,
    "dataloader_num_workers": 0,
    "dataloader_persistent_workers": False,
    "dataloader_pin_memory": True,
    "dataloader_prefetch_factor": None,
    "ddp_backend": None,
    "ddp_broadcast_buffers": None,
    "ddp_bucket_cap_mb": None,
    "ddp_find_unused_parameters": None,
    "ddp_timeout": 1800,
    "debug": [],
    "deepspeed": None,
    "disable_tqdm": False,
    "do_eval": False,
    "do_predict": False,
    "do_train": False,
    "eval_accumulation_steps": None,
    "eval_delay": 0,
    "eval_do_concat_batches": True,
    "eval_on_start": False,
    "eval_steps": None,
    "eval_strategy": "IntervalStrategy.NO",
    "eval_use_gather_object": False,
    "fp16": False,
    "fp16_backend": "auto",
    "fp16_full_eval": False,
    "fp16_opt_level": "O1",
    "fsdp": [],
    "fsdp_config": _FSDP_CONFIG,
    "fsdp_min_num_params": 0,
    "fsdp_transformer_layer_cls_to_wrap": None,
    "full_determinism": False,
    "gradient_accumulation_steps": 1,
    "gradient_checkpointing": False,
    "gradient_checkpointing_kwargs": None,
    "greater_is_better": None,
    "group_by_length": False,
    "half_precision_backend": "auto",
    "hub_always_push": False,
    "hub_model_id": None,
    "hub_private_repo": None,
    "hub_revision": None,
    "hub_strategy": "HubStrategy.EVERY_SAVE",
    "hub_token": "<HUB_TOKEN>",
    "ignore_data_skip": False,
    "include_for_metrics": [],
    "include_inputs_for_metrics": False,
    "include_num_input_tokens_seen": False,
    "include_tokens_per_second": False,
    "jit_mode_eval": False,
    "label_names": None,
    "label_smoothing_factor": 0.0,
    "learning_rate": 5e-05,
    "length_column_name": "length",
    "liger_kernel_config": None,
    "load_best_model_at_end": False,
    "local_rank": 0,
    "log_level": "passive",
    "log_level_replica": "warning",
    "log_on_each_node": True,
    "logging_dir": None,
    "logging_first_step": False,
    "logging_nan_inf_filter": True,
    "logging_steps": 500,
    "logging_strategy": "IntervalStrategy.STEPS",
    "lr_scheduler_kwargs": {},
    "lr_scheduler_type": "SchedulerType.LINEAR",
    "max_grad_norm": 1.0,
    "max_steps": -1,
    "metric_for_best_model": None,
    "mp_parameters": "",
    "neftune_noise_alpha": None,
    "no_cuda": False,
    "num_train_epochs": 3.0,
    "optim": "OptimizerNames.ADAMW_TORCH_FUSED",
    "optim_args": None,
    "optim_target_modules": None,
    "output_dir": None,
    "overwrite_output_dir": False,
    "parallelism_config": None,
    "past_index": -1,
    "per_device_eval_batch_size": 8,
    "per_device_train_batch_size": 8,
    "prediction_loss_only": False,
    "project": "huggingface",
    "push_to_hub": False,
    "push_to_hub_model_id": None,
    "push_to_hub_organization": None,
    "push_to_hub_token": "<PUSH_TO_HUB_TOKEN>",
    "ray_scope": "last",
    "remove_unused_columns": True,
    "report_to": [],
    "restore_callback_states_from_checkpoint": False,
    "resume_from_checkpoint": None,
    "run_name": None,
    "save_on_each_node": False,
    "save_only_model": False,
    "save_safetensors": True,
    "save_steps": 500,
    "save_strategy": "SaveStrategy.STEPS",
    "save_total_limit": None,
    "seed": 42,
    "skip_memory_metrics": True,
    "tf32": None,
    "torch_compile": False,
    "torch_compile_backend": None,
    "torch_compile_mode": None,
    "torch_empty_cache_steps": None,
    "torchdynamo": None,
    "tpu_metrics_debug": False,
    "tpu_num_cores": None,
    "trackio_space_id": "trackio",
    "use_cpu": False,
    "use_legacy_prediction_loop": False,
    "use_liger_kernel": False,
    "use_mps_device": False,
    "warmup_ratio": 0.0,
    "warmup_steps": 0,
    "weight_decay": 0.0,
}


def _render(value: Any) -> str:
    if (
        isinstance(value, str)
        and "." in value
        and value.split(".")[0].endswith(("Strategy", "Type", "Names"))
    ):
        return value  # enum members print as ClassName.MEMBER
    return str(value)


def training_arguments(overrides: dict[str, Any]) -> list[str]:
    """The dump's lines: `TrainingArguments(`, one `name=value,` per field, `)`."""
    unknown = set(overrides) - set(DEFAULTS)
    assert not unknown, f"not TrainingArguments fields: {sorted(unknown)}"
    merged = {**DEFAULTS, **overrides}
    return ["TrainingArguments(", *(f"{k}={_render(v)}," for k, v in sorted(merged.items())), ")"]
