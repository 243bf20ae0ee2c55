"""Post-training runs (issue 22): the identities docs/realism.md states for LoRA, DPO and GRPO,
checked on real traces over many seeds, and the planning rules that bring them about."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmsim.generator import GenerateOptions, GeneratorError, plan_run, write_trace
from llmsim.generator.catalog.architecture import param_count
from llmsim.generator.catalog.models import find_model
from llmsim.generator.plan.adapters import lora_params, safetensors_bytes
from llmsim.generator.plan.postspec import ALL_LINEAR, LoraSpec
from llmsim.info import describe, to_text
from llmsim.player.views.renderer import Renderer, RenderOptions
from llmsim.trace import Event, RunConfig, open_trace

# Small runs of each kind and stack, over several seeds.
CASES: list[GenerateOptions] = [
    *(
        GenerateOptions(seed=100 + i, kind="lora", gpus=g, duration=600)
        for i, g in enumerate((1, 1, 2, 4, 8))
    ),
    *(
        GenerateOptions(seed=200 + i, kind="dpo", gpus=g, duration=600)
        for i, g in enumerate((1, 2, 8, 8))
    ),
    *(
        GenerateOptions(seed=300 + i, kind="grpo", stack="trl", gpus=8, duration=700)
        for i in range(3)
    ),
    *(
        GenerateOptions(seed=400 + i, kind="grpo", stack="verl", gpus=g, duration=900)
        for i, g in enumerate((8, 8, 16))
    ),
]


def _rows(path: Path) -> tuple[RunConfig, list[Event]]:
    trace = open_trace(path)
    return trace.config, list(trace.events())


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[RunConfig, list[Event], Path]]:
    base = tmp_path_factory.mktemp("post")
    out = []
    for i, options in enumerate(CASES):
        path = base / f"run-{i}.parquet"
        write_trace(plan_run(options), path)
        config, events = _rows(path)
        out.append((config, events, path))
    return out


def _of(runs: list[tuple[RunConfig, list[Event], Path]], kind: str) -> list[Any]:
    got = [r for r in runs if r[0].kind == kind]
    assert got, kind
    return got


def _lines(path: Path) -> list[str]:
    trace = open_trace(path)
    renderer = Renderer(trace.config, RenderOptions(ascii=False, utc=True))
    return [
        "".join(t for t, _ in (*line.prefix, *line.body))
        for ev in trace.events()
        for line in renderer.feed(ev)
    ]


def test_trainable_parameters_are_exact() -> None:
    """Σ r(d_in + d_out) over the targets: Llama-3-8B's published all-linear r=16 count."""
    spec = find_model("Llama-3-8B")
    assert spec is not None
    lora = LoraSpec(16, 32, 0.05, ALL_LINEAR, True, True)
    assert lora_params(spec, lora) == 41_943_040
    assert param_count(spec) + lora_params(spec, lora) == 8_072_204_288


def test_lora_runs_print_their_exact_counts_and_export_their_adapters(
    runs: list[tuple[RunConfig, list[Event], Path]],
) -> None:
    for c, events, path in _of(runs, "lora"):
        assert c.adapter in ("lora", "qlora") and c.lora_rank > 0
        total = c.params + c.trainable_params
        line = (
            f"trainable params: {c.trainable_params:,d} || all params: {total:,d} || "
            f"trainable%: {100 * c.trainable_params / total:.4f}"
        )
        assert _lines(path).count(line) == min(c.gpus, c.gpus_per_node)
        files = {ev.path: ev.size_bytes for ev in events if ev.kind in ("file", "shard")}
        if "adapter_model.safetensors" in files:  # the adapters alone: 4 bytes a parameter
            size = files["adapter_model.safetensors"]
            assert 4 * c.trainable_params < size < 4 * c.trainable_params + 200_000
            assert "adapter_config.json" in files
        else:  # merged into the base: a bf16 model
            assert sum(files[p] for p in files if p and p.endswith(".safetensors")) == 2 * c.params


def test_tokens_per_second_is_tokens_per_step_over_step_time(
    runs: list[tuple[RunConfig, list[Event], Path]],
) -> None:
    for _, events, _ in runs:
        steps = [ev for ev in events if ev.kind == "step"]
        for a, b in itertools.pairwise(steps):
            if b.step != (a.step or 0) + 1:
                continue  # a restart goes back to its checkpoint
            per_step = (b.tokens or 0) - (a.tokens or 0)
            assert per_step > 0
            assert (b.tokens_per_s or 0) * (b.step_time or 0) == pytest.approx(per_step, rel=1e-9)


def test_dpo_margins_and_accuracies_are_consistent(
    runs: list[tuple[RunConfig, list[Event], Path]],
) -> None:
    for _, events, _ in _of(runs, "dpo"):
        rows = [ev for ev in events if ev.kind in ("step", "eval") and ev.margin is not None]
        assert rows
        for ev in rows:
            # exactly, as the printed values parse back
            assert float(repr(ev.chosen)) - float(repr(ev.rejected)) == float(repr(ev.margin))
            assert ev.accuracy is not None and 0.0 <= ev.accuracy <= 1.0
            assert float(np.float32(ev.accuracy)) == ev.accuracy  # TRL logs float32 means
            assert ev.ppl is None  # no perplexity
        steps = [ev for ev in rows if ev.kind == "step"]
        first = steps[0]
        if first.step == 1:  # the policy is the reference: nothing won yet
            assert (first.chosen, first.margin, first.accuracy, first.loss) == (0, 0, 0, 0.6931)
        later = [ev for ev in steps if (ev.step or 0) > 1]
        third = max(1, len(later) // 3)
        early = np.mean([ev.accuracy for ev in later[:third]])
        late = np.mean([ev.accuracy for ev in later[-third:]])
        assert 0.4 < early < late < 1.0  # rising from about a half
        assert abs(math.log(2) - steps[0].loss) < 0.15 or first.step != 1


def test_rewards_stay_in_their_functions_range_and_rise(
    runs: list[tuple[RunConfig, list[Event], Path]],
) -> None:
    for c, events, _ in _of(runs, "grpo"):
        lo, hi = c.reward_min, c.reward_max
        assert hi > lo
        steps = [ev for ev in events if ev.kind == "step"]
        rewards = [ev.reward for ev in steps]
        assert all(r is not None and lo <= r <= hi for r in rewards)
        evals = [ev.reward for ev in events if ev.kind == "eval"]
        assert all(r is not None and 0.0 <= r <= 1.0 for r in evals)
        assert bool(evals) == (c.stack == "verl")  # TRL's GRPO runs evaluate nothing
        third = max(1, len(rewards) // 3)
        assert np.mean(rewards[-third:]) > np.mean(rewards[:third])  # rising...
        assert all(ev.kl is not None and ev.kl >= 0 for ev in steps)  # ... KL from 0
        assert np.mean([ev.kl for ev in steps[-third:]]) > np.mean([ev.kl for ev in steps[:third]])
        assert all(0 < (ev.response_len or 0) < 4096 for ev in steps)
        assert all(ev.ppl is None for ev in steps)
        if c.stack == "trl":  # policy == reference before the first update
            assert steps[0].kl == 0.0 if steps[0].step == 1 else True
            keys = c.metric_keys
            for ev in steps:  # reward = the sum of the functions' means (weights 1)
                means = [
                    v
                    for k, v in zip(keys, ev.metrics or [], strict=True)
                    if k.endswith("/mean") and k.startswith("rewards/")
                ]
                assert sum(means) == pytest.approx(ev.reward, abs=1e-12)


def test_verl_timers_and_throughput_agree(
    runs: list[tuple[RunConfig, list[Event], Path]],
) -> None:
    for c, events, _ in [r for r in _of(runs, "grpo") if r[0].stack == "verl"]:
        keys = c.metric_keys
        for ev in (e for e in events if e.kind == "step"):
            m = dict(zip(keys, ev.metrics or [], strict=True))
            assert m["timing_s/step"] == ev.step_time == m["perf/time_per_step"]
            inner = sum(
                m[f"timing_s/{k}"]
                for k in ("gen", "reward", "old_log_prob", "ref", "adv", "update_actor")
            )
            assert inner <= m["timing_s/step"]
            tokens = m["perf/total_num_tokens"]
            assert m["perf/throughput"] == pytest.approx(tokens / (ev.step_time * c.gpus))
            assert ev.tokens_per_s_gpu == pytest.approx(m["perf/throughput"])
            assert m["training/global_step"] == ev.step


def test_rl_telemetry_swings_between_generation_and_training(
    runs: list[tuple[RunConfig, list[Event], Path]],
) -> None:
    """Decoding keeps the GPUs busy at a lower power than training's matmuls."""
    for c, events, _ in _of(runs, "grpo"):
        power = [
            float(np.mean(ev.gpu_power or [0.0]))
            for ev in events
            if ev.kind == "telemetry" and ev.phase == "train" and np.mean(ev.gpu_util or [0]) > 50
        ]
        span = max(power) - min(power)
        assert span > 0.15 * c.gpu_tdp_w, (c.name, min(power), max(power))


def test_a_full_fine_tune_that_does_not_fit_plans_adapters() -> None:
    """An 8B on one GPU, kind left open: LoRA or QLoRA (the kind drawn may be DPO's too)."""
    for seed in range(5):
        plan = plan_run(GenerateOptions(seed=seed, gpus=1, model="Llama-3-8B"))
        assert plan.config.adapter in ("lora", "qlora"), plan.config.name
        assert plan.fit.memory.peak_smi_mib < plan.config.gpu_memory_mib
    with pytest.raises(GeneratorError, match="--kind lora"):
        plan_run(
            GenerateOptions(seed=1, gpus=1, model="Llama-3-8B", kind="finetune", gpu_type="RTX4090")
        )


def test_qlora_holds_an_8b_on_a_24gb_card() -> None:
    plans = [
        plan_run(
            GenerateOptions(seed=s, kind="lora", gpus=1, model="Llama-3-8B", gpu_type="RTX4090")
        )
        for s in range(8)
    ]
    assert all(p.fit.memory.peak_smi_mib < p.config.gpu_memory_mib for p in plans)
    plan = next(p for p in plans if p.config.adapter == "qlora")  # most take QLoRA
    c, mem = plan.config, plan.fit.memory
    assert mem.peak_smi_mib < 0.93 * c.gpu_memory_mib
    # the base in NF4: under 6 GB, not the bf16 16 GB
    assert 5.0 < mem.stages[0].weights < 6.5
    post = plan.choice.post
    assert post is not None and post.lora is not None
    assert safetensors_bytes(plan.choice.model, post.lora) > 4 * c.trainable_params


def test_the_drawn_mix_includes_post_training() -> None:
    kinds = set()
    for seed in range(40):
        try:
            kinds.add(plan_run(GenerateOptions(seed=seed, duration=900)).config.kind)
        except GeneratorError:
            continue
    assert {"lora", "dpo", "grpo"} <= kinds and {"pretrain", "finetune"} <= kinds


def test_workstation_cards_stay_on_one_machine() -> None:
    with pytest.raises(GeneratorError, match="at most 8 GPUs"):
        plan_run(GenerateOptions(seed=1, kind="lora", gpus=16, gpu_type="RTX4090"))


def test_workstation_faults_are_the_ones_a_workstation_has() -> None:
    """No ECC errors on cards without ECC (GeForce; the RTX 6000 Ada ships with it off) and no
    Lustre recovery where checkpoints go to a local disk; a cluster card has both."""

    def faults(gpu_type: str) -> set[str]:
        kinds: set[str] = set()
        for seed in range(30):
            options = GenerateOptions(
                seed=seed, kind="lora", gpus=2, gpu_type=gpu_type, incidents="often"
            )
            kinds |= {t.kind for t in plan_run(options).incidents.transients}
        return kinds

    assert not {"ecc", "checkpoint_retry"} & (faults("RTX4090") | faults("RTX6000Ada"))
    assert "ecc" in faults("L40S") and "checkpoint_retry" not in faults("L40S")
    assert {"ecc", "checkpoint_retry"} <= faults("H100")


def test_info_shows_no_perplexity_for_preference_and_rl_runs(
    runs: list[tuple[RunConfig, list[Event], Path]],
) -> None:
    """A DPO or GRPO loss is no language-model loss: `llmsim info` leaves ppl out (a LoRA run
    keeps it) and names the final reward of an RL run."""
    for config, _, path in runs:
        text = to_text(describe(path))
        assert ("ppl " in text) == (config.kind == "lora"), (config.name, text)
        assert ("reward " in text) == (config.kind == "grpo"), (config.name, text)
