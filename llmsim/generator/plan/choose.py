"""Options + seed -> what the run is: kind, stack, model, GPU type and count (or why it cannot be).

Which stack trains what (one home for the rule, `refusal`):
- torchtitan pretrains its llama3 flavors (8B, 70B, 405B) and nothing else;
- Megatron-LM pretrains any catalogue model (it has Llama, Mistral and Qwen2 presets);
- the Hugging Face Trainer (FSDP or DeepSpeed) fine-tunes models up to ~80B, and runs short
  continued-pretraining stages of models up to ~15B.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from llmsim.generator.catalog.architecture import ModelSpec, param_count, size_label
from llmsim.generator.catalog.gpus import GPU_TYPES, GPUS, PICK_WEIGHTS, GpuSpec, find_gpu
from llmsim.generator.catalog.models import MODEL_NAMES, MODELS, find_model
from llmsim.generator.options import GenerateOptions, GeneratorError
from llmsim.generator.plan.layout import MAX_GPUS, valid_gpu_count
from llmsim.trace.vocab import RUN_KINDS, STACKS, RunKind, Stack

TITAN_FLAVORS: Final[dict[str, str]] = {
    "Llama-3-8B": "8B",
    "Llama-3-70B": "70B",
    "Llama-3.1-405B": "405B",
}
HF_FINETUNE_MAX: Final = 80e9
HF_PRETRAIN_MAX: Final = 15e9
# Cluster sizes a drawn run uses, by parameters (up to, candidate GPU counts).
CLUSTER_SIZES: Final[tuple[tuple[float, tuple[int, ...]], ...]] = (
    (2.5e9, (1, 8, 8, 16, 32, 64)),
    (10e9, (8, 16, 32, 64, 64, 128, 256)),
    (40e9, (32, 64, 128, 256, 512)),
    (100e9, (128, 256, 512, 512, 1024)),
    (math.inf, (1024, 2048, 2048, 4096)),
)
STACK_WEIGHTS: Final[dict[Stack, float]] = {
    "hf": 0.25,
    "hf-deepspeed": 0.2,
    "megatron": 0.35,
    "torchtitan": 0.2,
}


@dataclass(frozen=True)
class Choice:
    """What the run is, before it is laid out."""

    kind: RunKind
    stack: Stack
    model: ModelSpec
    gpu: GpuSpec


def refusal(stack: Stack, kind: RunKind, spec: ModelSpec) -> str | None:
    """Why `stack` would not run this model and kind (one line), or None when it would."""
    n = param_count(spec)
    if stack == "torchtitan":
        if spec.name not in TITAN_FLAVORS:
            return (
                f"torchtitan trains its llama3 flavors only (Llama-3-8B, Llama-3-70B, "
                f"Llama-3.1-405B), not {spec.name}"
            )
        if kind != "pretrain":
            return "torchtitan runs here are pretraining runs: use --kind pretrain"
        return None
    if stack == "megatron":
        return (
            None
            if kind == "pretrain"
            else ("Megatron-LM runs here are pretraining runs: use --kind pretrain or an hf stack")
        )
    limit = HF_FINETUNE_MAX if kind == "finetune" else HF_PRETRAIN_MAX
    if n > limit:
        what = "fine-tunes" if kind == "finetune" else "continued pretraining"
        return (
            f"{spec.name} ({size_label(n)}) is too big for {what} with the HF Trainer here "
            f"(up to {size_label(int(limit))}); use --stack megatron"
        )
    return None


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


def _gpu_pool(options: GenerateOptions) -> list[GpuSpec]:
    if options.gpu_type is None:
        return list(GPUS)
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


def choose(options: GenerateOptions, rng: np.random.Generator) -> Choice:
    """Resolve every open choice with the seed; GeneratorError when the options conflict.

    The stack is drawn first (every stack gets its share of runs), then a kind it runs, then a
    model it trains; what the user fixed narrows each draw (several epochs: a fine-tune).
    """
    _check_gpus(options.gpus)
    if options.stack is not None and options.stack not in STACKS:
        raise GeneratorError(f"unknown stack {options.stack!r}; choose one of: {', '.join(STACKS)}")
    if options.kind is not None and options.kind not in RUN_KINDS:
        raise GeneratorError(f"unknown kind {options.kind!r}; choose pretrain or finetune")
    pool = _model_pool(options)
    kinds: list[RunKind] = [options.kind] if options.kind else list(RUN_KINDS)
    if options.kind is None and options.epochs is not None and options.epochs > 1:
        kinds = ["finetune"]  # several passes over the data: only a fine-tune does that
    stacks = [options.stack] if options.stack else list(STACKS)
    combos = [(s, k, m) for s in stacks for k in kinds for m in pool if refusal(s, k, m) is None]
    if not combos:  # every pair was refused: say why for the first one
        reason = refusal(stacks[0], kinds[0], pool[0])
        raise GeneratorError(reason or f"no catalogue model runs a {kinds[0]} run on {stacks[0]}")
    open_stacks = sorted({s for s, _, _ in combos}, key=STACKS.index)
    stack = open_stacks[_pick(rng, [STACK_WEIGHTS[s] for s in open_stacks])]
    open_kinds = sorted({k for s, k, _ in combos if s == stack}, key=RUN_KINDS.index)
    kind = open_kinds[_pick(rng, [1.0] * len(open_kinds))]
    models = [m for s, k, m in combos if s == stack and k == kind]
    spec = models[_pick(rng, [0.3 if param_count(m) > 100e9 else 1.0 for m in models])]
    gpus = _gpu_pool(options)
    gpu = gpus[_pick(rng, [PICK_WEIGHTS.get(g.short, 0.1) for g in gpus])]
    return Choice(kind, stack, spec, gpu)


def draw_gpu_count(spec: ModelSpec, rng: np.random.Generator) -> list[int]:
    """Candidate GPU counts for a drawn run, most likely first (the caller keeps one that fits)."""
    n = param_count(spec)
    sizes = next(s for limit, s in CLUSTER_SIZES if n <= limit)
    first = int(rng.choice(sizes))
    larger = [g for g in (8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096) if g > first]
    return [first, *larger]
