"""DeepSpeed 0.17.5's engine configuration dump, as `DeepSpeedConfig.print` writes it.

Produced by running deepspeed/runtime/config.py of tag v0.17.5 on the run's ds_config (with the
Trainer's "auto" values filled and `zero_allow_untested_optimizer` added, as transformers
4.57.1 does for a client optimizer): `sorted(vars(self))` but `_param_dict`, 75 names for a
config without elasticity, each `"  {name} {dots} {value}"` with 29 - len(name) dots (none at
29 or more), `str(value)`. The values that depend on the run are `{fields}`; the rest are
0.17.5's defaults as printed (pydantic models' `repr`, dicts, JSON-indented sub-configs).
"""

from __future__ import annotations

from typing import Final

CONFIG_ITEMS: Final[tuple[tuple[str, str], ...]] = (
    (
        "activation_checkpointing_config",
        (
            '{\n    "partition_activations": false, \n    "contiguous_memory_optimization": '
            'false, \n    "cpu_checkpointing": false, \n    "number_checkpoints": null, \n    '
            '"synchronize_checkpoint_boundary": false, \n    "profile": false\n}'
        ),
    ),
    (
        "aio_config",
        (
            "{'block_size': 1048576, 'queue_depth': 8, 'intra_op_parallelism': 1, "
            "'single_submit': False, 'overlap_events': True, 'use_gds': False}"
        ),
    ),
    ("amp_enabled", "False"),
    ("amp_params", "False"),
    (
        "autotuning_config",
        (
            '{\n    "enabled": false, \n    "start_step": null, \n    "end_step": null, \n    '
            '"metric_path": null, \n    "arg_mappings": null, \n    "metric": "throughput", '
            '\n    "model_info": null, \n    "results_dir": "autotuning_results", \n    '
            '"exps_dir": "autotuning_exps", \n    "overwrite": true, \n    "fast": true, \n   '
            ' "start_profile_step": 3, \n    "end_profile_step": 5, \n    "tuner_type": '
            '"gridsearch", \n    "tuner_early_stopping": 5, \n    "tuner_num_trials": 50, \n  '
            '  "model_info_path": null, \n    "mp_size": 1, \n    "max_train_batch_size": '
            'null, \n    "min_train_batch_size": 1, \n    '
            '"max_train_micro_batch_size_per_gpu": 1.024000e+03, \n    '
            '"min_train_micro_batch_size_per_gpu": 1, \n    "num_tuning_micro_batch_sizes": '
            "3\n}"
        ),
    ),
    ("bfloat16_config", "enabled=True immediate_grad_update=False check_grad_overflow=False"),
    (
        "checkpoint_config",
        ("{'tag_validation': 'WARN', 'checkpoint_serialization': True, 'writer': None}"),
    ),
    ("checkpoint_parallel_write_pipeline", "False"),
    ("checkpoint_tag_validation_enabled", "True"),
    ("checkpoint_tag_validation_fail", "False"),
    ("comms_config", "<deepspeed.comm.config.DeepSpeedCommsConfig object at {address}>"),
    ("communication_data_type", "None"),
    (
        "compile_config",
        (
            "deepcompile=False free_activation=False offload_activation=False "
            "offload_opt_states=False double_buffer=True symmetric_memory=False "
            "debug_log=False offload_parameters=False sync_before_reduce=False "
            "sync_after_reduce=False sync_before_allgather=False "
            "sync_after_allgather=False keep_int_input_tensors=True "
            "keep_all_input_tensors=False"
        ),
    ),
    (
        "compression_config",
        (
            "{'weight_quantization': {'shared_parameters': {'enabled': False, "
            "'quantizer_kernel': False, 'schedule_offset': 0, 'quantize_groups': 1, "
            "'quantize_verbose': False, 'quantization_type': 'symmetric', "
            "'quantize_weight_in_forward': False, 'rounding': 'nearest', "
            "'fp16_mixed_quantize': False, 'quantize_change_ratio': 0.001}, "
            "'different_groups': {}}, 'activation_quantization': {'shared_parameters': "
            "{'enabled': False, 'quantization_type': 'symmetric', 'range_calibration': "
            "'dynamic', 'schedule_offset': 1000}, 'different_groups': {}}, "
            "'sparse_pruning': {'shared_parameters': {'enabled': False, 'method': 'l1', "
            "'schedule_offset': 1000}, 'different_groups': {}}, 'row_pruning': "
            "{'shared_parameters': {'enabled': False, 'method': 'l1', 'schedule_offset': "
            "1000}, 'different_groups': {}}, 'head_pruning': {'shared_parameters': "
            "{'enabled': False, 'method': 'topk', 'schedule_offset': 1000}, "
            "'different_groups': {}}, 'channel_pruning': {'shared_parameters': {'enabled': "
            "False, 'method': 'l1', 'schedule_offset': 1000}, 'different_groups': {}}, "
            "'layer_reduction': {'enabled': False}}"
        ),
    ),
    ("curriculum_enabled_legacy", "False"),
    ("curriculum_params_legacy", "False"),
    (
        "data_efficiency_config",
        (
            "{'enabled': False, 'seed': 1234, 'data_sampling': {'enabled': False, "
            "'num_epochs': 1000, 'num_workers': 0, 'pin_memory': False, "
            "'curriculum_learning': {'enabled': False}, 'dynamic_batching': {'enabled': "
            "False, 'lr_scaling_method': 'linear', 'min_batch_size': 1, 'max_batch_size': "
            "None, 'sequence_picking_order': 'dataloader', 'verbose': False}}, "
            "'data_routing': {'enabled': False, 'random_ltd': {'enabled': False, "
            "'layer_token_lr_schedule': {'enabled': False}}}}"
        ),
    ),
    ("data_efficiency_enabled", "False"),
    ("dataloader_drop_last", "False"),
    ("disable_allgather", "False"),
    ("dump_state", "False"),
    ("eigenvalue_enabled", "False"),
    ("eigenvalue_gas_boundary_resolution", "1"),
    ("eigenvalue_layer_name", "bert.encoder.layer"),
    ("eigenvalue_layer_num", "0"),
    ("eigenvalue_max_iter", "100"),
    ("eigenvalue_stability", "1e-06"),
    ("eigenvalue_tol", "0.01"),
    ("eigenvalue_verbose", "False"),
    ("elasticity_enabled", "False"),
    (
        "float16_config",
        (
            "enabled=False auto_cast=False loss_scale=0.0 initial_scale_power=16 "
            "loss_scale_window=1000 hysteresis=2 consecutive_hysteresis=False "
            "min_loss_scale=1 fp16_master_weights_and_grads=False"
        ),
    ),
    (
        "flops_profiler_config",
        (
            '{\n    "enabled": false, \n    "recompute_fwd_factor": 0.0, \n    '
            '"profile_step": 1, \n    "module_depth": -1, \n    "top_modules": 1, \n    '
            '"detailed": true, \n    "output_file": null\n}'
        ),
    ),
    ("global_rank", "0"),
    ("grad_accum_dtype", "None"),
    ("gradient_accumulation_steps", "{gas}"),
    ("gradient_clipping", "{clip}"),
    ("gradient_predivide_factor", "1.0"),
    ("graph_harvesting", "False"),
    (
        "hybrid_engine",
        (
            "enabled=False max_out_tokens=512 inference_tp_size=1 "
            "release_inference_cache=False pin_parameters=True tp_gather_partition_size=8"
        ),
    ),
    ("load_universal_checkpoint", "False"),
    ("memory_breakdown", "False"),
    ("mics_hierarchial_params_gather", "False"),
    ("mics_shard_size", "-1"),
    (
        "monitor_config",
        (
            "tensorboard=TensorBoardConfig(enabled=False, output_path='', "
            "job_name='DeepSpeedJobName') comet=CometConfig(enabled=False, "
            "samples_log_interval=100, project=None, workspace=None, api_key=None, "
            "experiment_name=None, experiment_key=None, online=None, mode=None) "
            "wandb=WandbConfig(enabled=False, group=None, team=None, project='deepspeed') "
            "csv_monitor=CSVConfig(enabled=False, output_path='', "
            "job_name='DeepSpeedJobName')"
        ),
    ),
    (
        "nebula_config",
        (
            '{\n    "enabled": false, \n    "persistent_storage_path": null, \n    '
            '"persistent_time_interval": 100, \n    "num_of_version_in_retention": 2, \n    '
            '"enable_nebula_load": true, \n    "load_path": null\n}'
        ),
    ),
    ("optimizer_legacy_fusion", "False"),
    ("optimizer_name", "None"),
    ("optimizer_params", "None"),
    (
        "pipeline",
        (
            "{'stages': 'auto', 'partition': 'best', 'seed_layers': False, "
            "'activation_checkpoint_interval': 0, 'pipe_partitioned': True, "
            "'grad_partitioned': True}"
        ),
    ),
    ("pld_enabled", "False"),
    ("pld_params", "False"),
    ("prescale_gradients", "False"),
    ("scheduler_name", "None"),
    ("scheduler_params", "None"),
    ("seq_parallel_communication_data_type", "torch.float32"),
    ("sparse_attention", "None"),
    ("sparse_gradients_enabled", "False"),
    ("steps_per_print", "{steps_per_print}"),
    (
        "tensor_parallel_config",
        (
            "dtype=torch.float16 autotp_size=0 tp_overlap_comm=False "
            "tensor_parallel=TPConfig(tp_size=1, tp_grain_size=1, mpu=None, tp_group=None) "
            "injection_policy_tuple=None keep_module_on_host=False "
            "replace_with_kernel_inject=False"
        ),
    ),
    ("timers_config", "enabled=True synchronized=True"),
    ("torch_autocast_dtype", "None"),
    ("torch_autocast_enabled", "False"),
    ("torch_autocast_lower_precision_safe_modules", "None"),
    ("train_batch_size", "{train_batch_size}"),
    ("train_micro_batch_size_per_gpu", "{micro_batch}"),
    ("use_data_before_expert_parallel_", "False"),
    ("use_node_local_storage", "False"),
    ("wall_clock_breakdown", "False"),
    ("weight_quantization_config", "None"),
    ("world_size", "{world_size}"),
    ("zero_allow_untested_optimizer", "True"),
    ("zero_config", "{zero_config}"),
    ("zero_enabled", "True"),
    ("zero_force_ds_cpu_optimizer", "True"),
    ("zero_optimization_stage", "{stage}"),
)


# ZeroConfig as printed at 0.17.5 (its fields in declaration order)
ZERO_CONFIG: Final = (
    "stage={stage} contiguous_gradients=True reduce_scatter=True "
    "reduce_bucket_size={reduce_bucket} use_multi_rank_bucket_allreduce=True "
    "allgather_partitions=True allgather_bucket_size=500000000 overlap_comm=True "
    "load_from_fp32_weights=True elastic_checkpoint=False offload_param=None "
    "offload_optimizer=None zenflow=None sub_group_size=1000000000 cpu_offload_param=None "
    "cpu_offload_use_pin_memory=None cpu_offload=None prefetch_bucket_size={prefetch_bucket} "
    "param_persistence_threshold={persistence} "
    "model_persistence_threshold=9223372036854775807 max_live_parameters=1000000000 "
    "max_reuse_distance=1000000000 gather_16bit_weights_on_model_save={gather_16bit} "
    "module_granularity_threshold=0 use_all_reduce_for_fetch_params=False "
    "stage3_gather_fp16_weights_on_model_save=False ignore_unused_parameters=True "
    "legacy_stage1=False round_robin_gradients=False zero_hpz_partition_size=1 "
    "zero_quantized_weights=False zero_quantized_nontrainable_weights=False "
    "zero_quantized_gradients=False zeropp_loco_param=None mics_shard_size=-1 "
    "mics_hierarchical_params_gather=False memory_efficient_linear=True "
    "pipeline_loading_checkpoint=False override_module_apply=True "
    "log_trace_cache_warnings=False"
)
