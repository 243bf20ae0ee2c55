"""Throughput against the published benchmarks, over many seeds (plan level: no rows written).

The references are the stacks' own (`StackProfile.benchmarks`, each citing its source;
docs/realism.md has the table `scripts/throughput` prints): torchtitan's benchmarks for its
Llama 3 flavours, Megatron-LM's weak-scaling MFU table (README at core_v0.15.0), and
PyTorch-native FSDP as the ceiling of the HF Trainer, which also stays below Megatron at the
same model and cluster.
"""

from __future__ import annotations

import itertools
import math
import statistics

import numpy as np
import pytest

from llmsim.generator import GenerateOptions, GeneratorError, plan_run
from llmsim.generator.catalog.architecture import param_count, six_n
from llmsim.generator.catalog.datasets import CORPORA
from llmsim.generator.plan.layout import MAX_GPUS
from llmsim.generator.plan.loss import LossModel, chinchilla
from llmsim.generator.plan.runplan import RunPlan
from llmsim.generator.plan.schedule import SEASON_DAYS, least_tokens
from llmsim.generator.plan.throughput import at_benchmark, benchmark_model, mfu
from llmsim.generator.stacks.registry import PROFILES
from llmsim.generator.stacks.torchtitan.profile import FLAVORS as TITAN
from llmsim.trace.vocab import Stack

SEEDS = range(24)


def _plans(**kw: object) -> list[RunPlan]:
    out = []
    for seed in SEEDS:
        try:
            out.append(plan_run(GenerateOptions(seed=seed, incidents="none", **kw)))  # type: ignore[arg-type]
        except GeneratorError:
            continue
    assert len(out) >= len(SEEDS) // 2, kw
    return out


def _per_gpu(p: RunPlan) -> float:
    return p.fit.throughput.tokens_per_s / p.config.gpus


def _mfu(p: RunPlan, six: bool = False) -> float:
    th, c = p.fit.throughput, p.config
    flops = six_n(p.choice.model) if six else th.flops_per_token
    return mfu(flops, th.tokens_per_s, c.gpus, c.gpu_peak_tflops)


def test_the_model_at_each_benchmarks_layout_gives_its_published_figure() -> None:
    """At the benchmark's own layout and the best cluster luck, the step-time model lands on
    the stack's published figure (within 6 %, or 3 MFU points), and under a ceiling."""
    checked = 0
    for profile in PROFILES.values():
        for b in profile.benchmarks:
            th, m = at_benchmark(profile, b)
            per_gpu = th.tokens_per_s / b.gpus
            if b.ceiling:
                assert b.tokens_per_gpu is not None and b.mfu is not None
                assert per_gpu < 0.85 * b.tokens_per_gpu and m < b.mfu - 0.1, b.label
                continue
            if b.gpu == "A100" or (b.label.startswith("GPT") and b.pp > 2):
                # torchtitan's 2024 A100 runs (1D FSDP, its old kernels) and Megatron's
                # interleaved pipelines are faster than what llmsim plans: it stays below them
                assert per_gpu < (b.tokens_per_gpu or math.inf) and m < (b.mfu or 1.0), b.label
                continue
            if b.tokens_per_gpu is not None:
                assert per_gpu == pytest.approx(b.tokens_per_gpu, rel=0.06), b.label
            if b.mfu is not None:
                assert m == pytest.approx(b.mfu, abs=0.03), b.label
            checked += 1
    assert checked >= 10


def test_torchtitan_8b_runs_as_its_benchmarks() -> None:
    """Llama 3.1 8B on 128 H100: 6,514 tok/s/GPU compiled, 5,605 eager (38.1 % / 32.8 % MFU
    with torchtitan's formula); a run never beats them and typically sits a few % below."""
    plans = _plans(stack="torchtitan", model="Llama-3-8B", gpus=128, gpu_type="H100")
    for compiled, published in ((True, 6514.0), (False, 5605.0)):
        runs = [_per_gpu(p) for p in plans if p.choice.compiled == compiled]
        assert runs, compiled
        assert max(runs) <= published * 1.01
        assert 0.88 * published < statistics.mean(runs) < published
    assert max(_mfu(p) for p in plans) <= 0.381 + 0.005


def test_torchtitan_big_flavours_run_as_their_benchmarks() -> None:
    """70B on 256 H100 (FSDP 32 x TP 8, full AC): 597 tok/s/GPU compiled; 405B in bf16 on 128
    H100: 109 tok/s/GPU (29.0 % MFU) eager, below its Float8 figures of 100-128 on 512."""
    seventy = _plans(stack="torchtitan", model="Llama-3-70B", gpus=256, gpu_type="H100")
    assert all(p.config.tp == 8 and p.fit.layout.recompute == "full" for p in seventy)
    assert max(_per_gpu(p) for p in seventy) <= 597.3 * 1.02
    assert statistics.mean(_per_gpu(p) for p in seventy) > 0.85 * 597.3
    big = _plans(stack="torchtitan", model="Llama-3.1-405B", gpus=128, gpu_type="H100")
    eager = [_per_gpu(p) for p in big if not p.choice.compiled]
    assert eager and max(eager) <= 109 * 1.02 and statistics.mean(eager) > 0.85 * 109
    assert max(_per_gpu(p) for p in big) < 128 and max(_mfu(p) for p in big) < 0.33


# Megatron's weak-scaling table: parameters (GPT, vocabulary 131,072) and MFU.
MEGATRON_TABLE = [
    (param_count(benchmark_model(b)), b.mfu or 0.0) for b in PROFILES["megatron"].benchmarks
]


def _table_mfu(n: float) -> float:
    """The table's MFU at `n` parameters, interpolated in log size."""
    points = sorted(MEGATRON_TABLE)
    if n <= points[0][0]:
        return points[0][1]
    for (n0, m0), (n1, m1) in itertools.pairwise(points):
        if n <= n1:
            return m0 + (m1 - m0) * math.log(n / n0) / math.log(n1 / n0)
    return points[-1][1]


@pytest.mark.parametrize(
    ("model", "gpus"),
    [
        ("SmolLM2-1.7B", 48),
        ("Llama-2-7B", 96),
        ("Qwen2.5-14B", 192),
        ("Qwen2.5-32B", 384),
        ("Descent-Into-Madness-34B", 384),
        ("Llama-3-70B", 768),
        ("Compute-Bonfire-150B", 1536),
    ],
)
def test_megatron_stays_within_its_mfu_table(model: str, gpus: int) -> None:
    """Never above the table's best (49 %); runs that keep their activations sit near the table
    at their size: on average within -5/+2 points (the table's clusters are tuned, a run's luck
    is 0.9-1.0), a run with a wider layout than the table's (no pipeline where it has one)
    up to 5 points above its entry."""
    plans = _plans(stack="megatron", model=model, gpus=gpus, gpu_type="H100")
    best = max(m for _, m in MEGATRON_TABLE)
    assert max(_mfu(p) for p in plans) <= best + 0.002
    kept = [p for p in plans if p.fit.layout.recompute != "full"]
    assert kept
    expected = _table_mfu(param_count(kept[0].choice.model))
    for p in kept:
        assert expected - 0.07 < _mfu(p) < expected + 0.05, (model, _mfu(p), expected)
    assert expected - 0.05 < statistics.mean(_mfu(p) for p in kept) < expected + 0.02


@pytest.mark.parametrize(
    ("model", "gpus", "gpu"),
    [
        ("Llama-3.2-3B", 32, "H100"),
        ("Llama-3-8B", 64, "H100"),
        ("Llama-3-70B", 256, "H100"),
        ("Llama-2-7B", 128, "A100"),
    ],
)
def test_hf_trainer_runs_below_megatron_at_the_same_size(model: str, gpus: int, gpu: str) -> None:
    """FSDP and ZeRO through the HF Trainer: below Megatron's MFU (both as 6N) at the same model
    and cluster, below PyTorch-native FSDP, and in REALISM.md's band (H100 >= 0.33 - 0.08 for
    models of 7B and up, A100 >= 0.40 - 0.08)."""
    mega = statistics.mean(
        _mfu(p, six=True) for p in _plans(stack="megatron", model=model, gpus=gpus, gpu_type=gpu)
    )
    for stack in ("hf", "hf-deepspeed"):
        plans = _plans(stack=stack, model=model, gpus=gpus, gpu_type=gpu, kind="finetune")
        hf = [_mfu(p) for p in plans]
        assert max(hf) < mega - 0.05, (stack, max(hf), mega)
        ceiling = PROFILES[stack].benchmarks[0]
        if ceiling.model == model and ceiling.gpu == gpu:
            assert max(_per_gpu(p) for p in plans) < (ceiling.tokens_per_gpu or 0.0)
        assert max(hf) < (ceiling.mfu or 0.0)
        if param_count(plans[0].choice.model) >= 7e9:
            assert statistics.mean(hf) >= (0.25 if gpu == "H100" else 0.32) - 0.01


# --- plans a lab would run -----------------------------------------------------------------


def _schedule_tokens(p: RunPlan) -> int:
    return p.config.total_steps * p.config.global_batch_tokens


@pytest.mark.parametrize(
    ("model", "budget"),
    [
        ("Llama-3-8B", 15e12),
        ("Llama-3-70B", 15e12),
        ("Llama-3.1-405B", 15e12),
        ("Llama-3.2-1B", 9e12),
        ("Llama-2-13B", 2e12),
        ("Qwen2.5-7B", 18e12),
        ("Qwen2.5-72B", 18e12),
        ("SmolLM2-1.7B", 11e12),
    ],
)
def test_a_real_models_schedule_carries_its_published_budget(model: str, budget: float) -> None:
    """Llama 3: 15T tokens (model cards), Llama 3.2 1B/3B 9T, Llama 2 2T, Qwen2.5 18T, SmolLM2
    11T; the window sits at the end of it with loss and LR where the schedule is."""
    stacks: list[Stack] = ["megatron", "torchtitan"] if model in TITAN else ["megatron"]
    for stack in stacks:
        for seed in range(3):
            p = plan_run(GenerateOptions(seed=seed, model=model, stack=stack, kind="pretrain"))
            c = p.config
            assert 0.99 * budget <= _schedule_tokens(p) <= budget * 1.001, (stack, seed)
            corpus = next(k for k in CORPORA if k.hub_id == c.dataset)
            assert _schedule_tokens(p) <= corpus.tokens  # one pass over a corpus that holds it
            seen = c.resume_step * c.global_batch_tokens
            shown = float(LossModel(p.loss).smooth(np.array([float(c.resume_step)]))[0])
            assert shown == pytest.approx(float(chinchilla(c.params, seen)), rel=0.02)
            assert c.resume_step / c.total_steps > 0.5
            assert c.total_steps < 10_000_000  # Megatron's `iteration {:8d}` keeps its column


def test_a_70b_near_its_budget_is_near_loss_1_9() -> None:
    """REALISM.md: at 1T tokens a 70B is near loss 1.9 (Chinchilla's fit); at 15T a little
    lower, never the 3.4 of a young run."""
    p = plan_run(GenerateOptions(seed=4, model="Llama-3-70B", stack="megatron", kind="pretrain"))
    at = float(LossModel(p.loss).smooth(np.array([float(p.config.resume_step)]))[0])
    assert float(chinchilla(p.config.params, 1e12)) == pytest.approx(1.95, abs=0.03)
    assert 1.8 < at < 1.9


def test_other_models_train_at_least_chinchilla_tokens() -> None:
    """Invented models (and Mistral's, whose budget is not published): at least 20 tokens per
    parameter; the HF Trainer's pretraining is a labelled continued-pretraining stage."""
    seen = 0
    for seed in range(60):
        try:
            p = plan_run(GenerateOptions(seed=seed, kind="pretrain", incidents="none"))
        except GeneratorError:
            continue
        spec, c = p.choice.model, p.config
        if p.profile.continued_pretraining:
            assert p.loss.kind == "continued" and _schedule_tokens(p) <= 8.1e9
            continue
        assert p.loss.kind == "scratch"
        if not spec.published_tokens:
            assert _schedule_tokens(p) >= 19.9 * c.params, (c.model, c.gpus)
            seen += 1
    assert seen >= 5


def test_a_drawn_cluster_gets_through_its_schedule_in_a_season() -> None:
    """A lab sizes the cluster to the run: a drawn pretraining cluster gets through the whole
    schedule within SEASON_DAYS, unless even the largest (4,096 GPUs) cannot."""
    for seed in range(80):
        try:
            p = plan_run(GenerateOptions(seed=seed, kind="pretrain", incidents="none"))
        except GeneratorError:
            continue
        if p.profile.continued_pretraining:
            continue
        days = least_tokens(p.choice.model) / p.fit.throughput.tokens_per_s / 86400
        assert days <= SEASON_DAYS or p.config.gpus == MAX_GPUS, (p.config.model, days)
