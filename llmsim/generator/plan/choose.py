"""Options + seed -> what the run is: kind, stack, model, GPU type and count (or why it cannot be).

Which stack trains what is each profile's `refusal` (generator/stacks/<name>/profile.py); how
often each is drawn, its `weight`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

import numpy as np

from llmsim.generator.catalog.architecture import ModelSpec, param_count
from llmsim.generator.catalog.gpus import (
    GPU_TYPES,
    GPUS,
    PICK_WEIGHTS,
    POST_PICK_WEIGHTS,
    GpuSpec,
    find_gpu,
)
from llmsim.generator.catalog.models import MODEL_NAMES, MODELS, find_model
from llmsim.generator.options import GenerateOptions, GeneratorError
from llmsim.generator.plan import posttrain
from llmsim.generator.plan.choice import Choice
from llmsim.generator.plan.layout import GPUS_PER_NODE, MAX_GPUS, valid_gpu_count
from llmsim.generator.plan.profile import StackProfile
from llmsim.trace.vocab import POST_TRAINING, RUN_KINDS, RunKind, Stack

# The stacks a run may be drawn on, by name, in the vocabulary's order (the registry's).
Profiles = Mapping[Stack, StackProfile]

# Cluster sizes a drawn run uses, by parameters (up to, candidate GPU counts).
CLUSTER_SIZES: Final[tuple[tuple[float, tuple[int, ...]], ...]] = (
    (2.5e9, (1, 8, 8, 16, 32, 64)),
    (10e9, (8, 16, 32, 64, 64, 128, 256)),
    (40e9, (32, 64, 128, 256, 512)),
    (100e9, (128, 256, 512, 512, 1024)),
    (math.inf, (1024, 2048, 2048, 4096)),
)


def _model_pool(options: GenerateOptions) -> list[ModelSpec]:
    if options.model is not None:
        spec = find_model(options.model)
        if spec is None:
            raise GeneratorError(
                f"unknown model {options.model!r}; choose one of: {', '.join(MODEL_NAMES)}"
            )
        return [spec]
    if options.models == "real":
        return [m for m in MODELS if not m.invented]
    if options.models == "invented":
        return [m for m in MODELS if m.invented]
    return list(MODELS)


def _gpu_pool(options: GenerateOptions, kind: RunKind) -> list[GpuSpec]:
    """The GPU types a run may be drawn on: cluster GPUs, and for one machine's post-training
    runs the workstation and cloud cards too."""
    if options.gpu_type is None:
        one_machine = options.gpus is None or options.gpus <= GPUS_PER_NODE
        if kind in ("lora", "dpo") and one_machine:
            return [g for g in GPUS if POST_PICK_WEIGHTS.get(g.short, 0.0) > 0]
        return [g for g in GPUS if g.cluster]
    gpu = find_gpu(options.gpu_type)
    if gpu is None:
        raise GeneratorError(
            f"unknown GPU type {options.gpu_type!r}; choose one of: {', '.join(GPU_TYPES)}"
        )
    return [gpu]


def _check_gpus(gpus: int | None) -> None:
    if gpus is not None and not valid_gpu_count(gpus):
        raise GeneratorError(
            f"--gpus {gpus} is not possible: use 1, 2, 4 or a multiple of 8 from 8 to {MAX_GPUS}"
        )


def _pick(rng: np.random.Generator, weights: list[float]) -> int:
    w = np.asarray(weights, dtype=np.float64)
    return int(rng.choice(len(w), p=w / w.sum()))


def choose(options: GenerateOptions, profiles: Profiles, rng: np.random.Generator) -> Choice:
    """Resolve every open choice with the seed; GeneratorError when the options conflict.

    The stack is drawn first (every stack gets its share of runs), then a kind it runs, then a
    model it trains; what the user fixed narrows each draw (several epochs: a fine-tune).
    """
    _check_gpus(options.gpus)
    if options.stack is not None and options.stack not in profiles:
        names = ", ".join(profiles)
        raise GeneratorError(f"unknown stack {options.stack!r}; choose one of: {names}")
    if options.kind is not None and options.kind not in RUN_KINDS:
        raise GeneratorError(
            f"unknown kind {options.kind!r}; choose one of: {', '.join(RUN_KINDS)}"
        )
    pool = _model_pool(options)
    kinds: list[RunKind] = [options.kind] if options.kind else list(RUN_KINDS)
    if options.kind is None and options.epochs is not None and options.epochs > 1:
        # several passes over the data: a fine-tune (full, LoRA or DPO) does that
        kinds = ["finetune", "lora", "dpo"]
    candidates = [profiles[options.stack]] if options.stack else list(profiles.values())
    combos = [(p, k, m) for p in candidates for k in kinds for m in pool if p.refusal(k, m) is None]
    if not combos:  # every pair was refused: say why for the first one
        first = candidates[0]
        reason = first.refusal(kinds[0], pool[0])
        raise GeneratorError(reason or f"no catalogue model runs a {kinds[0]} run on {first.name}")
    open_stacks = [p for p in candidates if any(q is p for q, _, _ in combos)]
    profile = open_stacks[_pick(rng, [p.weight for p in open_stacks])]
    open_kinds = sorted({k for p, k, _ in combos if p is profile}, key=RUN_KINDS.index)
    kind = open_kinds[_pick(rng, [1.0] * len(open_kinds))]
    models = [m for p, k, m in combos if p is profile and k == kind]
    spec = models[_pick(rng, [0.3 if param_count(m) > 100e9 else 1.0 for m in models])]
    gpus = _gpu_pool(options, kind)
    weights = POST_PICK_WEIGHTS if kind in ("lora", "dpo") else PICK_WEIGHTS
    gpu = gpus[_pick(rng, [weights.get(g.short, 0.1) for g in gpus])]
    if not gpu.cluster and options.gpus is not None and options.gpus > GPUS_PER_NODE:
        raise GeneratorError(
            f"a {gpu.short} machine holds at most {GPUS_PER_NODE} GPUs; use --gpus 1 to "
            f"{GPUS_PER_NODE} or a data-centre --gpu-type such as H100"
        )
    post = posttrain.draw(kind, profile, spec, gpu, rng) if kind in POST_TRAINING else None
    return Choice(kind, profile, spec, gpu, post)


def draw_gpu_count(spec: ModelSpec, rng: np.random.Generator) -> list[int]:
    """Candidate GPU counts for a drawn run, most likely first (the caller keeps one that fits)."""
    n = param_count(spec)
    sizes = next(s for limit, s in CLUSTER_SIZES if n <= limit)
    first = int(rng.choice(sizes))
    larger = [g for g in (8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096) if g > first]
    return [first, *larger]
