"""Lay a run out: sequence length, batch, parallel layout and micro-batch that fit and run fastest.

Like an engineer tuning a job: every layout the stack accepts, with every recompute mode and
micro-batch it offers, is costed (memory.py, throughput.py); those that fit in the GPU's memory
compete on tokens per second, with a little per-run jitter so equal options vary by seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from llmsim.generator.catalog.architecture import param_count
from llmsim.generator.options import GeneratorError
from llmsim.generator.plan import layout as lay
from llmsim.generator.plan import postcost, posttrain
from llmsim.generator.plan.choice import Choice
from llmsim.generator.plan.layout import Layout
from llmsim.generator.plan.memory import Memory, memory
from llmsim.generator.plan.profile import StackProfile
from llmsim.generator.plan.throughput import Throughput, step_time
from llmsim.trace.vocab import Adapter

FILL_MAX: Final = 0.93  # of nvidia-smi's total: above this a real run would OOM sooner or later
PRETRAIN_BATCH_CAP: Final = 16 * 2**20  # tokens per optimizer step (published runs: <= ~16M)
FINETUNE_BATCH_CAP: Final = 4 * 2**20
MB_TOKENS_MAX: Final = 32_768  # tokens per micro-batch per GPU anyone configures
MP_PREFERENCE: Final = 0.015  # speed given up per doubling of TP x PP for a simpler layout


@dataclass(frozen=True)
class Luck:
    """What a cluster is like, drawn once per run: allocator, NCCL buffers, kernel speed."""

    fragmentation: float
    nccl_mib: float
    speed: float  # this cluster's kernels, clocks and network against the model's norm
    seed: int  # for the per-layout jitter of an engineer's choice

    @classmethod
    def draw(cls, profile: StackProfile, rng: np.random.Generator) -> Luck:
        """The luck of a run on the profile's stack."""
        return cls(
            float(rng.uniform(*profile.fragmentation)),
            float(rng.uniform(300.0, 900.0)),
            float(rng.uniform(0.86, 1.03)),
            int(rng.integers(0, 2**31)),
        )

    def jitter(self, layout: Layout) -> float:
        """A fixed +-1 % per layout, so near-equal layouts win by seed."""
        key = [
            self.seed,
            layout.tp,
            layout.pp,
            layout.micro_batch,
            layout.zero_stage,
            len(layout.recompute),
        ]
        return float(np.random.default_rng(key).uniform(0.99, 1.01))


@dataclass(frozen=True)
class Fit:
    """A laid-out run: layout, memory, speed and batch."""

    layout: Layout
    memory: Memory
    throughput: Throughput
    seq_len: int
    global_batch: int  # sequences per optimizer step
    grad_accum: int  # micro-batches per step on each pipeline (Megatron's num-microbatches)
    luck: Luck  # the cluster it was laid out on


def seq_len_for(choice: Choice, rng: np.random.Generator) -> int:
    """A sequence length the model supports and runs of this kind use."""
    if choice.post is not None:
        return posttrain.seq_len(choice, rng)
    options = choice.profile.seq_lens(choice.kind)
    fitting = [s for s in options if s <= choice.model.max_positions] or [
        min(2048, choice.model.max_positions)
    ]
    return int(rng.choice(fitting))


def target_tokens(choice: Choice, rng: np.random.Generator, seq_len: int = 0) -> int:
    """Tokens per optimizer step a run of this size and kind would configure (`seq_len`: the
    run's, which sizes a post-training batch)."""
    if choice.post is not None:
        return posttrain.target_tokens(choice, seq_len, rng)
    n = param_count(choice.model)
    if choice.kind == "finetune":
        return int(rng.choice((2**18, 2**19, 2**20, 2**21)))
    if choice.profile.continued_pretraining:  # a short stage
        return int(rng.choice((2**19, 2**20, 2**21)))
    if n < 2e9:
        options: tuple[int, ...] = (2**20, 2**21)
    elif n < 12e9:
        options = (2**21, 2**22)
    elif n < 100e9:
        options = (2**22, 2**23)
    else:
        options = (2**23, 2**24)
    return int(rng.choice(options))


def _batch(
    choice: Choice, layout: Layout, seq_len: int, tokens: int, exact: bool
) -> tuple[int, int] | None:
    """(global batch, grad accumulation) near `tokens` that this layout can run, or None.

    Drawn batches are powers of two of micro-batches per rank (what people configure); a batch
    fitted to a duration takes any accumulation count.
    """
    per_step = layout.dp * layout.micro_batch
    wanted = max(1.0, tokens / seq_len / per_step)
    accum = max(layout.pp, round(wanted) if exact else 2 ** round(math.log2(wanted)))
    if choice.post is not None and choice.post.rollout is not None:
        accum = posttrain.whole_groups(per_step, accum, choice.post.rollout.generations)
    # an RL step's batch is its completions at their padded length: as big as pretraining's
    big = choice.kind in ("pretrain", "grpo")
    cap = PRETRAIN_BATCH_CAP if big else FINETUNE_BATCH_CAP
    if per_step * accum * seq_len > cap * 1.01:
        return None
    return per_step * accum, accum


def _options(choice: Choice, gpus: int, seq_len: int, adapter: Adapter = "none") -> list[Layout]:
    spec = choice.model
    out = []
    for tp, pp in choice.profile.splits(spec, gpus):
        for zero, recompute in choice.profile.modes:
            if choice.post is not None and not postcost.mode_fits(adapter, zero, gpus):
                continue
            for mb in (1, 2, 4, 8):
                if mb * seq_len > MB_TOKENS_MAX:
                    continue
                out.append(lay.make(spec, gpus, tp, pp, zero, recompute, mb, adapter))
    return out


def fit(
    choice: Choice,
    gpus: int,
    seq_len: int,
    tokens: int,
    luck: Luck,
    exact: bool = False,
) -> Fit | None:
    """The fastest layout that fits, or None when nothing does. A post-training run tries its
    adapters in turn (full, LoRA, QLoRA) and keeps the first that fits."""
    if choice.post is not None:
        if gpus > posttrain.max_gpus(choice):
            return None
        for adapter in choice.post.adapters:
            found = _fastest(choice, gpus, seq_len, tokens, luck, exact, adapter)
            if found is not None:
                return found
        return None
    return _fastest(choice, gpus, seq_len, tokens, luck, exact)


def _fastest(
    choice: Choice,
    gpus: int,
    seq_len: int,
    tokens: int,
    luck: Luck,
    exact: bool,
    adapter: Adapter = "none",
) -> Fit | None:
    best: tuple[float, Fit] | None = None
    capacity_mib = choice.gpu.memory_mib
    for layout in _options(choice, gpus, seq_len, adapter):
        batch = _batch(choice, layout, seq_len, tokens, exact)
        if batch is None:
            continue
        gbs, accum = batch
        if choice.post is not None:
            mem = postcost.memory(choice, layout, seq_len, accum, luck.fragmentation, luck.nccl_mib)
        else:
            mem = memory(
                choice.model,
                choice.profile,
                layout,
                seq_len,
                accum,
                luck.fragmentation,
                luck.nccl_mib,
            )
        if mem.peak_smi_mib > FILL_MAX * capacity_mib:
            continue
        if choice.post is not None:
            th = postcost.step(choice, layout, gpus, seq_len, accum, luck.speed)
        else:
            th = step_time(
                choice.model, choice.profile, layout, choice.gpu, gpus, seq_len, accum, luck.speed
            )
        # an engineer keeps the model-parallel group as small as does the job
        split = 1.0 - MP_PREFERENCE * math.log2(layout.tp * layout.pp)
        score = th.tokens_per_s * split * luck.jitter(layout)
        if best is None or score > best[0]:
            best = (score, Fit(layout, mem, th, seq_len, gbs, accum, luck))
    return best[1] if best else None


def fit_or_explain(choice: Choice, gpus: int, seq_len: int, tokens: int, luck: Luck) -> Fit:
    """`fit`, or a GeneratorError saying what the user could change."""
    found = fit(choice, gpus, seq_len, tokens, luck)
    if found is not None:
        return found
    name, short = choice.model.name, choice.gpu.short
    if choice.post is not None and gpus > posttrain.max_gpus(choice):
        raise GeneratorError(
            f"{gpus} GPUs is more than a {choice.kind} run on {choice.stack} uses here (up to "
            f"{posttrain.max_gpus(choice)}); use fewer --gpus"
        )
    cap = PRETRAIN_BATCH_CAP if choice.kind in ("pretrain", "grpo") else FINETUNE_BATCH_CAP
    splits = choice.profile.splits(choice.model, gpus)
    if splits and min(gpus // (tp * pp) for tp, pp in splits) * seq_len > cap:
        raise GeneratorError(
            f"{gpus} GPUs is too many for {name}: one sequence per data-parallel rank is "
            f"already more than the ~{cap // 2**20}M-token batch a {choice.kind} run uses"
        )
    if not splits:
        raise GeneratorError(
            f"{choice.stack} cannot split {name} over {gpus} GPUs (heads, layers and nodes "
            "must divide evenly); try another --gpus"
        )
    lighter = " or --kind lora (LoRA/QLoRA adapters)" if choice.kind == "finetune" else ""
    raise GeneratorError(
        f"{name} does not fit on {gpus} {short} GPUs with {choice.stack} at a batch a "
        f"{choice.kind} run uses; try more GPUs, another --gpu-type or --stack{lighter}"
    )
