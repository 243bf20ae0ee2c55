"""The lines every real run prints (issue 20 part A), pinned against the real format strings.

Each test names the source it follows (path:line at the pinned tag); docs/stacks.md lists them
all. Runs are generated small; a few are bundled runs, read as the player draws them.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from stack_patterns import rendered

from llmsim.bundled import find_bundled
from llmsim.generator import GenerateOptions, plan_run, write_trace
from llmsim.generator.plan.profile import NcclDebug
from llmsim.generator.plan.runplan import RunPlan
from llmsim.generator.stacks.common.torchlines import torch_lines
from llmsim.generator.stacks.hf_deepspeed.deepspeed import scientific_json
from llmsim.generator.stacks.megatron.argdefaults import ARGUMENT_DEFAULTS
from llmsim.trace import RunConfig

Run = tuple[RunConfig, list[str]]


def _write(plan: RunPlan, path: Path) -> Run:
    write_trace(plan, path)
    return rendered(path)


def _with_nccl(plan: RunPlan, level: NcclDebug) -> RunPlan:
    return replace(plan, flags=replace(plan.flags, nccl_debug=level))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    base = tmp_path_factory.mktemp("lines")
    hf = plan_run(
        GenerateOptions(seed=11, stack="hf", kind="finetune", gpus=8, steps_per_epoch=24, epochs=2)
    )
    one = plan_run(
        GenerateOptions(
            seed=5, stack="hf", kind="finetune", gpus=1, model="Llama-3.2-1B", steps_per_epoch=30
        )
    )
    ds = plan_run(
        GenerateOptions(seed=21, stack="hf-deepspeed", kind="finetune", gpus=8, steps_per_epoch=20)
    )
    titan = plan_run(
        GenerateOptions(
            seed=41, stack="torchtitan", model="Llama-3-8B", gpus=8, steps_per_epoch=120
        )
    )
    out = {
        "hf-info": _write(_with_nccl(hf, "INFO"), base / "hf-info.parquet"),
        "hf-warn": _write(_with_nccl(hf, "WARN"), base / "hf-warn.parquet"),
        "hf-one": _write(one, base / "hf-one.parquet"),
        "ds": _write(_with_nccl(ds, "INFO"), base / "ds.parquet"),
        "titan": _write(titan, base / "titan.parquet"),
    }
    for name in (
        "llama-3-8b-sft",
        "stochastic-parrot-3b-sft",
        "llama-3-70b-pretrain",
        "llama-3-8b-titan-pretrain",
    ):
        path = find_bundled(name)
        assert path is not None, name
        out[name] = rendered(path)
    return out


def _index(lines: list[str], needle: str) -> int:
    return next(i for i, ln in enumerate(lines) if needle in ln)


# --- torch: the watchdog's lines per release (torchlines.py, read from libtorch_cuda.so) ---------


def test_torch_line_tables_are_the_wheels() -> None:
    """ProcessGroupNCCL.cpp lines as the 2.8.0 and 2.9.0 wheels' machine code passes them to
    c10::MessageLogger / SourceLocation (and 2.9.1 reads as 2.9.0)."""
    t28, t29 = torch_lines("2.8.0"), torch_lines("2.9.1")
    assert t28.pgnccl == {
        "timeout": 685,
        "check_timeout": 688,
        "status": 2252,
        "trace": 729,
        "no_trace": 732,
        "signal_dump": 2584,
        "failed": 746,
        "down": 760,
        "terminated": 2068,
        "rethrow": 2074,
        "dump_info": 1589,
        "destroy": 1538,
    }
    assert (t29.pgnccl["timeout"], t29.pgnccl["status"], t29.pgnccl["rethrow"]) == (683, 2241, 2063)
    assert t28.run_loop[1] == 0x1591 and t29.run_loop[1] == 0x1691


def test_every_aborting_rank_prints_its_abort(runs: dict[str, Run]) -> None:
    """Each rank whose watchdog fires throws and aborts itself: one `terminate called` block per
    aborting rank (srun merges them all), each with the two backtraces of torch 2.8."""
    config, lines = runs["stochastic-parrot-3b-sft"]
    assert config.torch_version == "2.8.0"
    timeouts = [ln for ln in lines if "ProcessGroupNCCL.cpp:685] [Rank" in ln]
    aborts = [
        ln
        for ln in lines
        if ln == "terminate called after throwing an instance of 'c10::DistBackendError'"
    ]
    assert len(timeouts) >= 8 and len(aborts) == len(timeouts)
    assert sum(
        ln == "Exception raised from run at /pytorch/torch/csrc/distributed/c10d/"
        "ProcessGroupNCCL.cpp:2074 (most recent call first):"
        for ln in lines
    ) == len(aborts)
    assert any("c10d::ProcessGroupNCCL::Watchdog::runLoop() + 0x1591 (" in ln for ln in lines)
    assert any(ln.endswith("First PG on this rank to signal dumping.") for ln in lines)
    assert not any("ncclCommWatchdog" in ln or ":632]" in ln for ln in lines)


def test_the_flight_recorder_shows_the_failed_collective(runs: dict[str, Run]) -> None:
    """torchtitan's init_distributed sets TORCH_FR_BUFFER_SIZE (distributed/utils.py:264-276):
    torch 2.9 prints the collective's Python stack (ProcessGroupNCCL.cpp:727) instead of
    `potentially because FlightRecorder is disabled`."""
    config, lines = runs["llama-3-8b-titan-pretrain"]
    assert config.torch_version == "2.9.0"
    i = _index(lines, "ProcessGroupNCCL.cpp:727] Stack trace of the failed collective: ")
    assert lines[i + 1] == (
        "[rank0]:#0 reduce_scatter_tensor from /usr/local/lib/python3.12/dist-packages/torch/"
        "distributed/distributed_c10d.py:4513"
    )
    assert not any("FlightRecorder is disabled" in ln for ln in lines)


# --- NCCL_DEBUG: every rank's set-up, or rank 0's version only --------------------------------


def test_nccl_info_prints_every_local_ranks_block(runs: dict[str, Run]) -> None:
    """NCCL 2.27: each process prints its own set-up; the rings are rank 0's only
    (graph/rings.cc:42 `if (rank == 0)`)."""
    _, lines = runs["hf-info"]
    for rank in range(8):
        assert any(f" rank {rank} nranks 8 " in ln and ln.endswith("- Init START") for ln in lines)
        assert any(
            f" rank {rank} nranks 8 " in ln and ln.endswith("- Init COMPLETE") for ln in lines
        )
    rings = [ln for ln in lines if re.search(r"NCCL INFO Channel \d\d/\d\d :", ln)]
    assert rings and all(" [0] NCCL INFO" in ln for ln in rings)
    versions = [ln for ln in lines if ln.endswith("NCCL INFO NCCL version 2.27.3+cuda12.9")]
    assert len(versions) == 8


def test_nccl_warn_prints_rank_zeros_bare_version(runs: dict[str, Run]) -> None:
    """init.cc showVersion at NCCL_DEBUG=WARN: rank 0 only, VERSION level (no host prefix)."""
    _, lines = runs["hf-warn"]
    assert not any("NCCL INFO" in ln for ln in lines)
    assert [ln for ln in lines if "NCCL version" in ln] == ["NCCL version 2.27.3+cuda12.9"]


def test_deepspeed_launch_shows_nccl_debug(runs: dict[str, Run]) -> None:
    """launch.py:139 echoes every NCCL variable of its environment; the multi-node runner puts
    them in srun's --export (runner.py:590-594, multinode_runner.py:402-404)."""
    _, lines = runs["ds"]
    assert any(ln.endswith("[launch.py:139:main] 0 NCCL_DEBUG=INFO") for ln in lines)
    _, merged = runs["stochastic-parrot-3b-sft"]
    assert any(
        re.search(
            r"\[runner\.py:610:main\] cmd = srun -n 32 --nodes 4 --export=ALL,NCCL_DEBUG="
            r"(INFO|WARN),PYTHONPATH=/workspace /usr/bin/python3 -u train\.py ",
            ln,
        )
        for ln in merged
    )


# --- the HF Trainer -----------------------------------------------------------------------------


def test_hf_first_forward_turns_use_cache_off_on_every_rank(runs: dict[str, Run]) -> None:
    """utils/generic.py:958-962 check_model_inputs, through logging.py:328's warning_once: once
    per process at the first training forward (4.57.1 prints no `Caching is incompatible` line
    for Llama: use_cache is already False when the layers run)."""
    _, lines = runs["llama-3-8b-sft"]
    warned = [
        i
        for i, ln in enumerate(lines)
        if re.fullmatch(
            r"\[WARNING\|logging\.py:328\] \d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} >> `use_cache=True` is "
            r"incompatible with gradient checkpointing\. Setting `use_cache=False`\.",
            ln,
        )
    ]
    assert len(warned) == 8
    assert _index(lines, "Number of trainable parameters") < warned[0]
    assert warned[-1] < _index(lines, "{'loss':")
    assert not any("Caching is incompatible" in ln for ln in lines)


def test_hf_fsdp_warns_at_its_first_barrier_and_first_save(runs: dict[str, Run]) -> None:
    """torch 2.8 distributed_c10d.py:4807 (barrier without device ids: main_process_first's)
    from each of the 8 processes, NCCL set up at that first collective; FSDP1's
    set_state_dict_type FutureWarning (fully_sharded_data_parallel.py:678) at each process's
    first save; destroy_process_group's warning at exit from local rank 0 only
    (ProcessGroupNCCL.cpp:1538)."""
    _, lines = runs["hf-info"]
    barrier = [
        i
        for i, ln in enumerate(lines)
        if ln.startswith(
            "/usr/local/lib/python3.12/dist-packages/torch/distributed/distributed_c10d.py:4807: "
            "UserWarning: No device id is provided via `init_process_group` or `barrier `. Using the "
            "current device set by the user. "
        )
    ]
    assert len(barrier) == 8 and lines[barrier[0] + 1] == "  warnings.warn(  # warn only once"
    assert _index(lines, "Loading dataset") < barrier[0] < _index(lines, "Init START")
    fsdp = [ln for ln in lines if "fully_sharded_data_parallel.py:678: FutureWarning:" in ln]
    assert len(fsdp) == 8
    destroy = [ln for ln in lines if "destroy_process_group() was not called" in ln]
    assert len(destroy) == 1 and destroy[0].startswith("[rank0]:[W")
    assert "ProcessGroupNCCL.cpp:1538] Warning: WARNING: destroy_process_group()" in destroy[0]


def test_hf_logging_dir_is_default_logdirs(runs: dict[str, Run]) -> None:
    """training_args.py:116-124 default_logdir(): runs/<%b%d_%H-%M-%S>_<hostname>."""
    config, lines = runs["llama-3-8b-sft"]
    pattern = (
        rf"logging_dir={re.escape(config.output_dir)}/runs/[A-Z][a-z]{{2}}\d\d_\d\d-\d\d-\d\d_"
        rf"{re.escape(config.hostnames[0])},"
    )
    assert any(re.fullmatch(pattern, ln) for ln in lines)


def test_hf_cadences_are_typed_values(runs: dict[str, Run]) -> None:
    """--logging_steps 1/5/10, --eval_steps and --save_steps round values."""
    for name in ("llama-3-8b-sft", "stochastic-parrot-3b-sft", "hf-info"):
        config, _ = runs[name]
        assert config.log_interval in (1, 5, 10)
        assert config.eval_interval in (5, 10, 20, 25, 50, 100, 200, 250, 500, 1000)
        assert config.checkpoint_interval in (5, 10, 20, 25, 50, 100, 200, 250, 500, 1000)


def test_hf_restart_reruns_the_same_command(runs: dict[str, Run]) -> None:
    """A relaunch parses the same arguments (only default_logdir's time differs) and the
    script's own check finds the checkpoint (run_clm.py 4.x: `Checkpoint detected, resuming
    training at ...`)."""
    _, lines = runs["stochastic-parrot-3b-sft"]
    starts = [i for i, ln in enumerate(lines) if "Training/evaluation parameters" in ln]
    assert len(starts) == 2

    def dump(i: int) -> list[str]:
        end = lines.index(")", i)
        return [ln for ln in lines[i + 1 : end] if not ln.startswith("logging_dir=")]

    assert dump(starts[0]) == dump(starts[1])
    assert "resume_from_checkpoint=None," in dump(starts[1])
    assert re.search(
        r" - INFO - __main__ - Checkpoint detected, resuming training at \./outputs/\S+/"
        r"checkpoint-\d+\. To avoid this behavior, change the `--output_dir` or add "
        r"`--overwrite_output_dir` to train from scratch\.",
        lines[lines.index(")", starts[1]) + 1],
    )


def test_one_gpu_runs_without_fsdp_and_saves_the_model(runs: dict[str, Run]) -> None:
    """One process: no torchrun, no process group, no FSDP; Trainer._save (trainer.py:4309)
    and save_pretrained's lines at each checkpoint."""
    config, lines = runs["hf-one"]
    assert config.gpus == 1 and config.launcher == "accelerate"
    assert "fsdp=[]," in lines
    assert not any("torch/distributed/run.py" in ln or "NCCL" in ln for ln in lines)
    assert any(
        "[INFO|trainer.py:4309]" in ln and "Saving model checkpoint to" in ln for ln in lines
    )
    assert any("Model weights saved in" in ln and ln.endswith("model.safetensors") for ln in lines)


# --- DeepSpeed 0.17.5 ---------------------------------------------------------------------------


def test_deepspeed_config_dump_is_0175s(runs: dict[str, Run]) -> None:
    """runtime/config.py:953-958: 75 names (sorted vars, no _param_dict), 29 - len dots; the
    user json through ScientificNotationEncoder (config_utils.py:146-173)."""
    _, lines = runs["stochastic-parrot-3b-sft"]
    start = _index(lines, "[config.py:954:print] DeepSpeedEngine configuration:")
    items = [ln for ln in lines[start:] if "[config.py:958:print]" in ln]
    items = items[:75]
    names = [re.search(r"print\]   (\w+)", ln).group(1) for ln in items]  # type: ignore[union-attr]
    assert len(names) == 75 and names == sorted(names)
    assert (
        "zero_allow_untested_optimizer  True" in items[names.index("zero_allow_untested_optimizer")]
    )
    assert items[names.index("optimizer_name")].endswith("optimizer_name ............... None")
    assert (
        "enabled=True immediate_grad_update=False check_grad_overflow=False"
        in items[names.index("bfloat16_config")]
    )
    assert '        "reduce_bucket_size": 9.437184e+06, ' in lines
    assert scientific_json({"a": {"b": 1e7, "c": True}, "d": 3}) == (
        '{\n    "a": {\n        "b": 1.000000e+07, \n        "c": true\n    }, \n    "d": 3\n}'
    )


def test_deepspeed_zero3_init_and_client_optimizer(runs: dict[str, Run]) -> None:
    """modeling_utils.py:4373 and partition_parameters.py:366 around the model's build; the
    Trainer's AdamW as client optimizer (engine.py:1439, 1455) with its two parameter groups."""
    _, lines = runs["stochastic-parrot-3b-sft"]
    assert (
        _index(lines, "Instantiating LlamaForCausalLM")
        < _index(lines, "Detected DeepSpeed ZeRO-3: activating zero.init() for this model")
        < _index(
            lines,
            "[partition_parameters.py:366:__exit__] finished initializing model - num_params = ",
        )
    )
    assert any(ln.endswith("[Rank 0] Using client Optimizer as basic optimizer") for ln in lines)
    assert any(ln.endswith("[Rank 0] DeepSpeed Basic Optimizer = AdamW") for ln in lines)
    assert any(
        ln.endswith("step=0, skipped=0, lr=[0.0, 0.0], mom=[(0.9, 0.999), (0.9, 0.999)]")
        for ln in lines
    )
    assert not any("FusedAdam" in ln or "param name adamw" in ln for ln in lines)


def test_deepspeed_timer_counts_in_its_own_process(runs: dict[str, Run]) -> None:
    """utils/timer.py:199-287: the counters start at 0 in each process; a resumed process's
    timer reports at its own 100th step (timer.py:264), the engine at its restored global step
    (engine.py:2416)."""
    _, lines = runs["stochastic-parrot-3b-sft"]
    timer = [ln for ln in lines if "[timer.py:264:stop] epoch=0/micro_step=" in ln]
    assert timer and all("global_step=100," in ln for ln in timer)
    reports = [ln for ln in lines if re.search(r"\[Rank 0\] step=(100|200), skipped=0", ln)]
    assert reports


# --- Megatron-LM core_v0.15.0 -------------------------------------------------------------------


def test_megatron_dumps_every_argument_that_exists(runs: dict[str, Run]) -> None:
    """arguments.py _print_args (1212-1224): 570 names at dump time, sorted; none of the names
    that do not exist then (iteration, use_mcore_models, disable_bias_linear)."""
    _, lines = runs["llama-3-70b-pretrain"]
    a = lines.index("------------------------ arguments ------------------------")
    b = lines.index("-------------------- end of arguments ---------------------")
    names = [ln.split()[0] for ln in lines[a + 1 : b]]
    assert len(names) == len(ARGUMENT_DEFAULTS) == 570
    assert names == sorted(names, key=str.lower)
    assert not {"iteration", "use_mcore_models", "disable_bias_linear"} & set(names)
    assert "  padded_vocab_size ............................... None" in lines
    assert "  add_bias_linear ................................. False" in lines
    assert "  inference_dynamic_batching_buffer_guaranteed_fraction  0.2" in lines
    assert "  main_grads_dtype ................................ torch.float32" in lines


def test_megatron_startup_lines(runs: dict[str, Run]) -> None:
    """validate_args (arguments.py:618, 623, 747), num_microbatches_calculator.py:227 through
    the basicConfig format, global_vars.py:236 on the last rank."""
    _, lines = runs["llama-3-70b-pretrain"]
    for text in (
        "Number of virtual stages per pipeline stage: None",
        "accumulate and all-reduce gradients in fp32 for bfloat16 data type.",
        "INFO:megatron.core.num_microbatches_calculator:setting number of microbatches to "
        "constant 8",
        "WARNING: one_logger package is required to enable e2e metrics tracking. please go to "
        "https://confluence.nvidia.com/display/MLWFO/Package+Repositories for details to "
        "install it",
    ):
        assert text in lines, text


def test_megatron_theoretical_memory_of_the_70b(runs: dict[str, Run]) -> None:
    """theoretical_memory_usage.py worked through for Llama-3-70B, TP8 PP2 DP32, 8 microbatches,
    no selective recomputation (the without-SP branch)."""
    _, lines = runs["llama-3-70b-pretrain"]
    i = _index(lines, "Number of parameters in transformer block in billions:")
    assert lines[i : i + 10] == [
        "Number of parameters in transformer block in billions:  68.45",
        "Number of parameters in embedding layers in billions: 2.11",
        "Total number of parameters in billions: 70.57",
        "Number of parameters in most loaded shard in billions: 4.4105",
        "Number of parameters in other shards in billions: 4.2784",
        "compute_activation_memory_without_sp",
        "Activation memory footprint per transformer layer (precise, without SP): 832.0 MB",
        "Number of in-flight microbatches: 2",
        "Theoretical memory footprints: weight and optimizer=26814.25 MB, activation=70022.53 MB, "
        "total=96836.78 MB",
        "",
    ]
    assert " iteration " in lines[i - 1]


def test_megatron_checkpoints_split_and_evaluation(runs: dict[str, Run]) -> None:
    """checkpointing.py:496-497 at every save, 1412 and 1603 at the load; --split 99,1,0 builds
    no test dataset; training.py:2545-2549 only in the post-training validation."""
    config, lines = runs["llama-3-70b-pretrain"]
    saves = [i for i, ln in enumerate(lines) if ln.startswith("saving checkpoint at iteration")]
    assert saves and all(
        lines[i + 1] == "Storing distributed optimizer sharded state of type dp_reshardable"
        for i in saves
    )
    assert " checkpoint version 3.0" in lines
    assert not any("GPTDataset test" in ln for ln in lines)
    first = _index(lines, "Evaluating on ")
    assert lines[first] == f"Evaluating on {config.eval_batches * config.global_batch} samples"
    assert first > _index(lines, "[after training is done]")
    assert sum(ln.startswith("Evaluating iter ") for ln in lines) == config.eval_batches


# --- torchtitan v0.2.0 --------------------------------------------------------------------------


def test_titan_single_node_shows_run_train_sh(runs: dict[str, Run]) -> None:
    """run_train.sh's `set -ex` trace (v0.2.0), the agent as `--role rank`, no LOGLEVEL (only
    the OMP banner), `Starting job` before NCCL and the ENV warning
    (distributed/utils.py:246)."""
    config, lines = runs["titan"]
    assert config.nodes == 1
    assert lines[:8] == [
        "+ NGPU=8",
        "+ export LOG_RANK=0",
        "+ LOG_RANK=0",
        "+ CONFIG_FILE=./torchtitan/models/llama3/train_configs/llama3_8b.toml",
        "+ TRAIN_FILE=torchtitan.train",
        "+ TORCHFT_LIGHTHOUSE=http://localhost:29510",
        "+ PYTORCH_ALLOC_CONF=expandable_segments:True",
        "+ TORCHFT_LIGHTHOUSE=http://localhost:29510",
    ]
    assert lines[8].startswith(
        "+ torchrun --nproc_per_node=8 --rdzv_backend c10d --rdzv_endpoint=localhost:0 "
        "--local-ranks-filter 0 --role rank --tee 3 -m torchtitan.train --job.config_file "
        "./torchtitan/models/llama3/train_configs/llama3_8b.toml --training.steps "
    )
    assert not any("[default]" in ln or "I1" in ln[:2] for ln in lines)
    start = _index(lines, "Starting job: Llama 3 8B training")
    assert lines[start + 1].endswith(
        "WARNING - ENV[TORCH_NCCL_ASYNC_ERROR_HANDLING] = 1 will be overridden to 3 based on job "
        "config"
    )
    nccl = [i for i, ln in enumerate(lines) if "NCCL" in ln and "ProcessGroupNCCL" not in ln]
    assert nccl and min(nccl) > start


def test_titan_multi_node_agent_and_memory(runs: dict[str, Run]) -> None:
    """The Slurm script: LOGLEVEL=INFO, `--rdzv_id 101`, the head node's address; the agent's
    role is the launch's; the model's memory at init is its fp32 shards (train.py:269-277)."""
    config, lines = runs["llama-3-8b-titan-pretrain"]
    assert config.nodes > 1
    assert any(ln.endswith("  run_id             : 101") for ln in lines)
    assert any("] [rank] Starting worker group" in ln for ln in lines)
    assert not any("[default]" in ln for ln in lines)
    memory = next(ln for ln in lines if "CUDA memory usage for model:" in ln)
    gib = float(re.search(r"model: ([\d.]+)GiB", memory).group(1))  # type: ignore[union-attr]
    assert gib == pytest.approx(config.params * 4 / config.gpus / 2**30, rel=0.05)
