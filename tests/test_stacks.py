"""Every line a run prints is one its stack prints, in that stack's real format, and no line
belongs to another stack. Lines are drawn by the player's renderer, as a terminal gets them."""

from __future__ import annotations

import re

import pytest
from stack_patterns import foreign, rendered, unmatched

from llmsim.bundled import bundled_traces
from llmsim.generator import GenerateOptions, plan_run, write_trace
from llmsim.trace import RunConfig
from llmsim.trace.vocab import STACKS

# Small but varied runs of each stack: one node and several, fresh and resumed.
CASES: dict[str, list[GenerateOptions]] = {
    "hf": [
        GenerateOptions(seed=11, stack="hf", kind="finetune", gpus=8, steps_per_epoch=24, epochs=2),
        GenerateOptions(seed=12, stack="hf", kind="pretrain", gpus=16, steps_per_epoch=30),
    ],
    "hf-deepspeed": [
        GenerateOptions(seed=21, stack="hf-deepspeed", kind="finetune", gpus=8, steps_per_epoch=20),
        GenerateOptions(
            seed=22,
            stack="hf-deepspeed",
            kind="finetune",
            gpus=32,
            epochs=1,
            steps_per_epoch=110,
            incidents="often",
        ),
    ],
    "megatron": [
        GenerateOptions(seed=31, stack="megatron", gpus=8, steps_per_epoch=40),
        GenerateOptions(
            seed=32,
            stack="megatron",
            model="Llama-3-70B",
            gpus=256,
            steps_per_epoch=30,
            incidents="often",
        ),
    ],
    "torchtitan": [
        GenerateOptions(
            seed=41, stack="torchtitan", model="Llama-3-8B", gpus=8, steps_per_epoch=120
        ),
        GenerateOptions(
            seed=42,
            stack="torchtitan",
            model="Llama-3-70B",
            gpus=128,
            steps_per_epoch=30,
            incidents="often",
        ),
    ],
    "trl": [
        GenerateOptions(
            seed=51,
            stack="trl",
            kind="lora",
            model="Llama-3-8B",
            gpus=1,
            gpu_type="RTX4090",
            steps_per_epoch=60,
            epochs=2,
        ),
        GenerateOptions(seed=52, stack="trl", kind="dpo", gpus=8, incidents="often", duration=900),
        GenerateOptions(
            seed=53, stack="trl", kind="grpo", model="Qwen2.5-1.5B", gpus=8, duration=900
        ),
    ],
    "verl": [
        GenerateOptions(
            seed=61, stack="verl", kind="grpo", model="Qwen2.5-3B", gpus=8, duration=900
        ),
        GenerateOptions(seed=62, stack="verl", kind="grpo", gpus=16, duration=900),
    ],
}
NCCL_TIMING = re.compile(r"NCCL INFO .*(\bms\b|GB/s|busbw|algbw|\btime\b)")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[RunConfig, list[str]]]]:
    base = tmp_path_factory.mktemp("stacks")
    out: dict[str, list[tuple[RunConfig, list[str]]]] = {s: [] for s in STACKS}
    for stack, cases in CASES.items():
        for i, options in enumerate(cases):
            path = base / f"{stack}-{i}.parquet"
            write_trace(plan_run(options), path)
            out[stack].append(rendered(path))
    for path in bundled_traces():
        config, lines = rendered(path)
        out[config.stack].append((config, lines))
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_every_line_is_the_stacks_own(
    runs: dict[str, list[tuple[RunConfig, list[str]]]], stack: str
) -> None:
    assert runs[stack], f"no {stack} run"
    for config, lines in runs[stack]:
        assert config.stack == stack
        assert len(lines) > 100
        bad = unmatched(stack, lines)
        assert not bad, f"{config.name}: {len(bad)} lines of no {stack} format, e.g. {bad[:3]}"
        alien = foreign(stack, lines)
        assert not alien, f"{config.name}: lines of another stack: {alien[:3]}"


@pytest.mark.parametrize("stack", STACKS)
def test_nccl_prints_no_timings(
    runs: dict[str, list[tuple[RunConfig, list[str]]]], stack: str
) -> None:
    for config, lines in runs[stack]:
        assert not [ln for ln in lines if NCCL_TIMING.search(ln)], config.name


def test_each_stack_shows_its_signature_lines(
    runs: dict[str, list[tuple[RunConfig, list[str]]]],
) -> None:
    signatures = {
        "hf": "***** Running training *****",
        "hf-deepspeed": "DeepSpeed info: version=0.17.5",
        "megatron": " validation loss at iteration",
        "torchtitan": " - root - INFO - step: ",
        "trl": "'learning_rate': ",
        "verl": ") step:1 - global_seqlen/min:",
    }
    for stack, needle in signatures.items():
        for config, lines in runs[stack]:
            assert any(needle in ln for ln in lines), (config.name, needle)


def test_hf_fsdp_is_configured_where_its_launcher_needs_it(
    runs: dict[str, list[tuple[RunConfig, list[str]]]],
) -> None:
    """torchrun starts plain processes: FSDP must come from the Trainer's own `--fsdp`, and its
    FSDP1 state-dict calls warn at the first save (accelerate's own save lines need
    ACCELERATE_LOG_LEVEL, which the launch does not set). DeepSpeed runs have no FSDP."""
    for config, lines in runs["hf"]:
        assert config.launcher == "torchrun"
        assert (
            "fsdp=[<FSDPOption.FULL_SHARD: 'full_shard'>, <FSDPOption.AUTO_WRAP: 'auto_wrap'>],"
            in lines
        )
        assert any(
            ln.startswith("fsdp_config={'state_dict_type': 'SHARDED_STATE_DICT'") for ln in lines
        )
        assert not any("accelerate.utils.fsdp_utils" in ln for ln in lines), config.name
        warned = [
            ln for ln in lines if "FSDP.state_dict_type() and FSDP.set_state_dict_type()" in ln
        ]
        assert len(warned) == config.gpus_per_node, (config.name, len(warned))
    for config, lines in runs["hf-deepspeed"]:
        assert "fsdp=[]," in lines, config.name


def test_torchrun_names_the_script_in_its_launch_configs(
    runs: dict[str, list[tuple[RunConfig, list[str]]]],
) -> None:
    """launcher/api.py names the entrypoint by the script after the python (`train.py`,
    `torchtitan.train`); the agent's 'starting workers' line by the executable's basename."""
    scripts = {"hf": "train.py", "torchtitan": "torchtitan.train", "megatron": "pretrain_gpt.py"}
    seen = 0
    for stack, script in scripts.items():
        for config, lines in runs[stack]:
            configs = [ln for ln in lines if "]   entrypoint         : " in ln]
            if not configs:
                continue  # one node without LOGLEVEL=INFO: the agent prints no launch configs
            assert all(ln.endswith(f": {script}") for ln in configs), (config.name, configs[0])
            assert any(ln.endswith("starting workers for entrypoint: python3") for ln in lines)
            seen += 1
    assert seen >= 2


def test_resumed_runs_say_where_they_continue(
    runs: dict[str, list[tuple[RunConfig, list[str]]]],
) -> None:
    phrases = {
        "hf": "Continuing training from global step {step}",
        "hf-deepspeed": "Continuing training from global step {step}",
        "megatron": "successfully loaded checkpoint from",
        "torchtitan": "Training starts at step {next}",
    }
    seen = 0
    for stack, results in runs.items():
        for config, lines in results:
            if not config.resume_step:
                continue
            seen += 1
            needle = phrases[stack].format(step=config.resume_step, next=config.resume_step + 1)
            assert any(needle in ln for ln in lines), (config.name, needle)
    assert seen >= 4
