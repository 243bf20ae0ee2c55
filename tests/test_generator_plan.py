"""Plan-level physics and facts over 200 random seeds and options (cheap: no rows written).

What is checked here, per plan: the layout is one its stack accepts; memory is the sum of its
parts, fits, and the first pipeline stage holds the most; executed FLOPs stay under 0.8 of
peak; the collectives fit in the step and respect ring latency and link bandwidth; batches stay
in the published ranges; storage speeds are in range; the schedule resumes from a checkpoint
deep in a pretraining run with loss and learning rate at that point; episodes are aligned and
sized; Hub facts reach the config; versions belong to the stack's era.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from llmsim.generator import GenerateOptions, GeneratorError, plan_run
from llmsim.generator.catalog.datasets import CORPORA, SFT_SETS
from llmsim.generator.plan.fit import FILL_MAX, FINETUNE_BATCH_CAP, PRETRAIN_BATCH_CAP
from llmsim.generator.plan.incidents import cost_s
from llmsim.generator.plan.layout import GPUS_PER_NODE
from llmsim.generator.plan.loss import chinchilla
from llmsim.generator.plan.memory import GIB
from llmsim.generator.plan.runplan import RunPlan
from llmsim.generator.plan.schedule import lr_at
from llmsim.generator.plan.throughput import HW_CEILING, RING_HOP_S, mfu
from llmsim.generator.stacks.registry import PROFILES
from llmsim.generator.stacks.torchtitan.profile import FLAVORS as TITAN_FLAVORS
from llmsim.trace.vocab import INCIDENT_RATES, POST_TRAINING, RUN_KINDS, STACKS

GPU_COUNTS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
GPU_TYPES = ("H100", "H200", "A100", "A100-40GB", None)


def _random_options(n: int) -> list[GenerateOptions]:
    """Seeds with a random mix of fixed and open options (a fixed generator: derandomised)."""
    rng = np.random.default_rng(20251130)
    out = []
    for seed in range(n):
        pick = rng.random(4)
        out.append(
            GenerateOptions(
                seed=seed,
                stack=STACKS[int(rng.integers(0, 4))] if pick[0] < 0.6 else None,
                gpus=int(rng.choice(GPU_COUNTS)) if pick[1] < 0.5 else None,
                gpu_type=GPU_TYPES[int(rng.integers(0, 5))] if pick[2] < 0.5 else None,
                kind=RUN_KINDS[int(rng.integers(0, 2))] if pick[3] < 0.5 else None,
                incidents=INCIDENT_RATES[int(rng.integers(0, 3))],
            )
        )
    return out


@pytest.fixture(scope="module")
def plans() -> list[RunPlan]:
    out = []
    for options in _random_options(200):
        try:
            out.append(plan_run(options))
        except GeneratorError as exc:  # an impossible combination: one clear line
            assert "\n" not in str(exc) and len(str(exc)) < 300
    assert len(out) >= 140
    return out


def test_layouts_are_ones_the_stack_accepts(plans: list[RunPlan]) -> None:
    for p in plans:
        c, lay = p.config, p.fit.layout
        assert c.tp * c.pp * c.dp == c.gpus and c.tp <= GPUS_PER_NODE
        assert c.heads % c.tp == 0 and c.kv_heads % c.tp == 0
        assert sum(lay.stage_layers) == c.layers and len(lay.stage_layers) == c.pp
        mid = lay.stage_layers[1:-1] or lay.stage_layers
        assert all(n == mid[0] for n in mid)
        assert lay.stage_layers[0] in (mid[0], mid[0] - 1)
        assert PROFILES[c.stack].refusal(c.kind, p.choice.model) is None
        if c.stack == "torchtitan":
            assert c.model in TITAN_FLAVORS and c.pp == 1 and c.kind == "pretrain"
        if c.stack in ("hf", "hf-deepspeed"):
            assert c.tp == c.pp == 1
        if c.gpus <= GPUS_PER_NODE:
            assert c.nodes == 1 and len(c.hostnames) == 1


def test_memory_is_its_parts_and_fits(plans: list[RunPlan]) -> None:
    for p in plans:
        c, mem = p.config, p.fit.memory
        for i, st in enumerate(mem.stages):
            parts = st.weights + st.grads + st.optimizer + st.activations + st.logits + st.buffers
            assert st.allocated == pytest.approx(parts)
            smi = parts * (1 + mem.fragmentation) * 1024 + mem.context_mib
            assert mem.smi_mib(i) == pytest.approx(smi)
            assert smi <= FILL_MAX * c.gpu_memory_mib
        first, last = mem.stages[0], mem.stages[-1]
        assert first.allocated >= last.allocated - last.logits  # stage 0 keeps most in flight
        if not p.fit.layout.uneven:
            acts = [st.activations for st in mem.stages]
            assert acts[0] == max(acts)
        states = (mem.stages[0].weights + mem.stages[0].grads + mem.stages[0].optimizer) * GIB
        if c.stack in ("hf", "torchtitan"):  # FSDP: 16 bytes per parameter, sharded
            assert states * c.gpus == pytest.approx(16 * c.params, rel=0.01)
        # the config reports rank 0's parts
        assert c.mem_weights_gib == pytest.approx(mem.stages[0].weights, abs=1e-3)


def test_flops_and_collectives_are_physical(plans: list[RunPlan]) -> None:
    for p in plans:
        c, th = p.config, p.fit.throughput
        # an RL step also generates: its FLOPs are spent in the training part
        tps = th.tokens_per_step / (th.step_s - th.gen_s)
        hw = mfu(th.hw_flops_per_token, tps, c.gpus, c.gpu_peak_tflops)
        assert hw <= HW_CEILING + 1e-9
        stack_mfu = mfu(th.flops_per_token, tps, c.gpus, c.gpu_peak_tflops)
        assert 0.05 < stack_mfu < 0.65
        assert th.bubble == pytest.approx((c.pp - 1) / c.grad_accum)
        assert th.comm_s < th.step_s and th.exposed_s <= th.comm_s * 1.03
        if c.dp > 1:
            assert th.comm_s >= 2 * (c.dp - 1) * RING_HOP_S
            link = p.choice.gpu.nvlink_gbs if c.nodes == 1 else p.choice.gpu.ib_gbs
            assert th.busbw_gbs <= link


def test_batches_and_storage_are_in_range(plans: list[RunPlan]) -> None:
    for p in plans:
        c, io = p.config, p.io
        cap = PRETRAIN_BATCH_CAP if c.kind == "pretrain" else FINETUNE_BATCH_CAP
        assert c.global_batch_tokens <= cap * 1.01
        assert c.global_batch == c.dp * c.micro_batch * c.grad_accum
        assert io.checkpoint_gbs <= min(6.0 * c.nodes, 100.0)
        assert io.export_gbs <= 5.0 and io.load_gbs <= 100.0


def test_schedules_resume_deep_in_pretraining(plans: list[RunPlan]) -> None:
    checked = 0
    for p in plans:
        c, s = p.config, p.schedule
        assert 0 <= c.resume_step < c.total_steps and c.warmup_steps < c.total_steps
        if c.kind in POST_TRAINING:  # from step 1, over a post-training set
            assert c.resume_step == 0
            continue
        if c.kind == "finetune":
            data = next(d for d in SFT_SETS if d.hub_id == c.dataset)
            assert c.resume_step == 0
            assert (
                s.examples <= data.examples * data.mean_tokens // c.seq_len
            )  # no more than it has
            continue
        assert c.epochs == 1 and c.total_steps - c.resume_step >= 12
        window = c.total_steps - c.resume_step
        if c.stack == "megatron":  # the post-loop evaluation is the only one at the last step
            assert c.total_steps % c.eval_interval != 0
            assert c.eval_interval == c.checkpoint_interval
            # a short window starts after the --exit-duration-in-mins save of the previous job
            # and holds one interval boundary; a long one resumes from a regular save
            inside = c.total_steps // c.checkpoint_interval - c.resume_step // c.checkpoint_interval
            assert inside >= 1
            assert window < c.checkpoint_interval or c.resume_step % c.checkpoint_interval == 0
        elif c.resume_step:
            assert c.resume_step % c.checkpoint_interval == 0  # resumed from a saved checkpoint
        if c.stack in ("megatron", "torchtitan"):
            corpus = next(k for k in CORPORA if k.hub_id == c.dataset)
            assert c.total_steps * c.global_batch_tokens <= corpus.tokens
            assert c.resume_step / c.total_steps > 0.5  # a window at the end of a long run
            tokens = c.resume_step * c.global_batch_tokens
            expected = float(chinchilla(c.params, tokens))
            assert p.loss.start >= math.log(c.vocab)  # from scratch: ln(vocab) or above
            from llmsim.generator.plan.loss import LossModel

            seen = float(LossModel(p.loss).smooth(np.array([float(c.resume_step)]))[0])
            assert seen == pytest.approx(min(expected, math.log(c.vocab)), rel=0.02)
            lr = float(lr_at(c.warmup_steps, c.total_steps, c.lr_peak, c.lr_min, c.resume_step))
            assert c.lr_min <= lr <= c.lr_peak
            checked += 1
    assert checked >= 40


def test_episodes_are_aligned_and_physical(plans: list[RunPlan]) -> None:
    seen = 0
    for p in plans:
        c = p.config
        for e in p.episodes:
            seen += 1
            assert c.resume_step < e.first_step <= e.last_step <= c.total_steps
            assert (e.first_step - 1) % c.log_interval == 0 and e.last_step % c.log_interval == 0
            assert 0 < e.slowdown <= e.clock_drop <= 0.3 and 0 <= e.gpu < c.gpus
            if c.gpus == 1:
                assert e.kind == "thermal"  # no straggler against a cluster of one
        if c.incidents == "none":
            assert not p.episodes and not p.loss.spikes
    assert seen >= 10


def test_configs_carry_hub_facts_and_the_eras_versions(plans: list[RunPlan]) -> None:
    for p in plans:
        c, spec, era = p.config, p.choice.model, PROFILES[p.config.stack].era
        assert c.max_position_embeddings == spec.max_positions
        assert c.hub_id == spec.hub_id and c.invented == spec.invented
        assert (c.torch_version, c.nccl_version, c.stack_version) == (
            era.torch,
            era.nccl,
            era.stack_version,
        )
        assert c.launcher in era.launchers and c.start_time > era.released


def test_variety_across_runs(plans: list[RunPlan]) -> None:
    fills = [p.fit.memory.peak_smi_mib / p.config.gpu_memory_mib for p in plans]
    effs = [p.fit.throughput.efficiency for p in plans]
    assert np.std(fills) > 0.1 and np.std(effs) > 0.03
    stacks = {p.config.stack for p in plans}  # verl (GRPO only, a small share) may be missing
    assert set(STACKS) - {"verl"} <= stacks


def test_run_names_are_unique_in_a_batch() -> None:
    names = {plan_run(GenerateOptions(seed=95642 + i)).config.name for i in range(11)}
    assert len(names) == 11


def _duration(p: RunPlan) -> float:
    c, t = p.config, p.timings
    window = c.total_steps - c.resume_step
    evals = window // c.eval_interval * c.eval_batches * t.eval_batch_s
    saves = (window // c.checkpoint_interval + 1) * t.checkpoint_s
    step_s = p.fit.throughput.step_s
    failures = sum(cost_s(f, t.init_s, step_s) for f in p.incidents.failures)
    return t.init_s + t.export_s + window * step_s + evals + saves + failures


@pytest.mark.parametrize(
    "options",
    [
        GenerateOptions(seed=7, duration=7200.0, model="Llama-3-8B", gpus=64),
        GenerateOptions(seed=8, duration=120.0, model="Qwen2.5-0.5B", gpus=8, kind="finetune"),
        GenerateOptions(seed=9, duration=3600.0, stack="megatron", gpus=512),
    ],
)
def test_duration_is_honoured(options: GenerateOptions) -> None:
    p = plan_run(options)
    assert options.duration is not None
    assert 0.75 * options.duration < _duration(p) < 1.25 * options.duration


def test_duration_with_fixed_steps_fits_the_batch_or_says_why() -> None:
    p = plan_run(
        GenerateOptions(
            seed=3,
            model="Llama-3-8B",
            gpus=64,
            kind="finetune",
            epochs=2,
            steps_per_epoch=100,
            duration=1800.0,
        )
    )
    assert p.config.total_steps == 200
    assert 0.75 * 1800 < _duration(p) < 1.25 * 1800
    with pytest.raises(GeneratorError, match="cannot be met"):
        plan_run(
            GenerateOptions(
                seed=3,
                model="Llama-3-8B",
                gpus=64,
                kind="finetune",
                epochs=2,
                steps_per_epoch=100,
                duration=40 * 3600.0,
            )
        )


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        (GenerateOptions(seed=1, model="GPT-5"), "Llama-3-8B"),
        (GenerateOptions(seed=1, gpu_type="TPUv5"), "H100"),
        (GenerateOptions(seed=1, gpus=12), "multiple of 8"),
        (GenerateOptions(seed=1, gpus=8192), "4096"),
        (GenerateOptions(seed=1, model="Llama-3.1-405B", gpus=8, gpu_type="H100"), "fit"),
        (
            GenerateOptions(seed=1, kind="rlhf"),  # type: ignore[arg-type]
            "choose one of: pretrain, finetune, lora, dpo, grpo",
        ),
        (GenerateOptions(seed=1, kind="pretrain", epochs=3), "--epochs 1"),
        (GenerateOptions(seed=1, kind="finetune", epochs=0), "--epochs"),
        (GenerateOptions(seed=1, duration=5.0), "--duration"),
        (GenerateOptions(seed=-3), "--seed"),
        (GenerateOptions(seed=1, stack="torchtitan", model="Qwen2.5-7B"), "llama3 flavors"),
        (GenerateOptions(seed=1, stack="megatron", kind="finetune"), "pretraining runs"),
        (GenerateOptions(seed=1, stack="hf", model="Llama-3.1-405B"), "too big"),
        (GenerateOptions(seed=1, model="Qwen2.5-0.5B", gpus=4096, stack="hf"), "too many"),
    ],
)
def test_impossible_options_raise_one_line_errors(options: GenerateOptions, needle: str) -> None:
    with pytest.raises(GeneratorError) as info:
        plan_run(options)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_explicit_options_are_honoured() -> None:
    c = plan_run(
        GenerateOptions(
            seed=5,
            model="qwen2.5-7b",
            gpus=16,
            gpu_type="a100",
            kind="finetune",
            epochs=3,
            steps_per_epoch=40,
            start_time=1_770_000_000.0,
        )
    ).config
    assert (c.model, c.gpus, c.gpu_short, c.kind, c.epochs, c.total_steps) == (
        "Qwen2.5-7B",
        16,
        "A100",
        "finetune",
        3,
        120,
    )
    assert c.start_time == 1_770_000_000.0 and c.nodes == 2
    assert c.name.startswith("qwen2.5-7b-sft-") and c.output_dir == f"./outputs/{c.name}"
    assert 1e-5 <= c.lr_peak <= 2e-4


def test_two_minutes_of_a_small_model_is_always_possible() -> None:
    # what endless play asks for (`--model Llama-3.2-1B --gpus 8 --duration 2m`), any stack
    stacks = set()
    # 50, 69, 97 and 901 drew runs that did not fit: a slow pretraining window, too many evals
    for seed in (*range(11, 31), 50, 69, 97, 901):
        p = plan_run(GenerateOptions(seed=seed, model="Llama-3.2-1B", gpus=8, duration=120.0))
        assert p.config.total_steps - p.config.resume_step >= 12
        assert 0.7 < _duration(p) / 120.0 < 1.3
        stacks.add(p.config.stack)
    assert {"hf", "hf-deepspeed", "megatron"} <= stacks


def test_a_duration_too_short_says_what_would_do() -> None:
    options = GenerateOptions(seed=1, model="Llama-3.1-405B", gpus=2048, duration=120.0)
    with pytest.raises(GeneratorError, match=r"too short .*\(ask for at least \d+ s\)$"):
        plan_run(options)


def test_several_epochs_without_a_kind_mean_a_fine_tune() -> None:
    for seed in range(11, 16):
        c = plan_run(GenerateOptions(seed=seed, gpus=16, steps_per_epoch=40, epochs=2)).config
        assert c.kind in ("finetune", "lora", "dpo")  # full, with adapters, or preferences
        assert (c.epochs, c.steps_per_epoch) == (2, 40)


def test_the_config_carries_the_profiles_facts(plans: list[RunPlan]) -> None:
    """What the player needs of a stack's habits is written down, never re-derived (2.3)."""
    for p in plans:
        c, profile = p.config, PROFILES[p.config.stack]
        assert c.log_first_step is profile.logs_first_step
        assert c.eval_after_loop is profile.evaluates_after_loop
        assert c.last_save_model_only is profile.last_save_model_only
        assert c.checkpoint_dir == profile.checkpoint_dir(c.output_dir)
        if c.eval_after_loop:  # the evaluation after the loop is never a regular one
            assert c.total_steps % c.eval_interval != 0
