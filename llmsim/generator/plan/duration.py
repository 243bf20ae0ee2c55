"""An asked duration always plans: what the user left open is chosen so the run fits it.

The seed draws a run first (plan/make.py). When the asked `--duration` cannot hold it (its
start-up, checkpoint loading and export alone take longer, or its steps are too slow for the
fewest a trace shows), the options the user left open are chosen again, in turn: a smaller
model of the same pool (in an order the seed draws), then a fine-tune where the kind is open
(a fine-tune loads its base weights instead of a training checkpoint), then both. Only when the
options the user pinned make every such run too long is the duration refused, with the
shortest duration that plans and the pinned option whose removal would let the asked one plan.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, Final

import numpy as np

from llmsim.generator.catalog.architecture import ModelSpec, param_count
from llmsim.generator.catalog.models import MODELS, find_model
from llmsim.generator.options import DurationTooShort, GenerateOptions, GeneratorError
from llmsim.generator.plan.runplan import RunPlan

Planner = Callable[[GenerateOptions], RunPlan]

RNG_SHORTER: Final = 14  # the order smaller models are tried in (its own stream)
SMALLER_TRIES: Final = 8  # smaller models tried per kind before giving up
LONGER_TRIES: Final = 12  # durations tried (each ~15 % longer) for the shortest that plans
# Options a user pins, as the command line names them, in the order a refusal suggests dropping
# them (the one that costs the most time first).
PINNED: Final = (
    ("model", "--model"),
    ("gpus", "--gpus"),
    ("kind", "--kind"),
    ("stack", "--stack"),
    ("gpu_type", "--gpu-type"),
    ("steps_per_epoch", "--steps-per-epoch"),
    ("epochs", "--epochs"),
    ("models", "--models"),
)


def fitted(options: GenerateOptions, plan: Planner) -> RunPlan:
    """The run the seed draws, or, when the asked duration cannot hold it, one with what the
    user left open chosen again so that it can; DurationTooShort (one line, naming the
    shortest duration that plans and the option to drop) when the pinned options forbid it."""
    try:
        return plan(options)
    except DurationTooShort as short:
        found = _relaxed(options, plan, short)
        if found is not None:
            return found
        raise _refusal(options, plan, short) from None


def _relaxed(options: GenerateOptions, plan: Planner, short: DurationTooShort) -> RunPlan | None:
    """The first run that plans among the open options chosen again (None: none does)."""
    for other in _alternatives(options, short):
        try:
            return plan(other)
        except GeneratorError:
            continue
    return None


def _alternatives(options: GenerateOptions, short: DurationTooShort) -> Iterator[GenerateOptions]:
    """Options with what the user left open narrowed towards shorter runs, in turn."""
    kinds: list[GenerateOptions] = [options]
    if options.kind is None:
        kinds.append(replace(options, kind="finetune"))
    for asked in kinds[1:]:
        yield asked  # the drawn model as a fine-tune
    if options.model is not None:
        return
    limit = short.params or math.inf
    smaller = [m for m in _pool(options) if param_count(m) < limit]
    rng = np.random.default_rng([options.seed or 0, RNG_SHORTER])
    order = [smaller[i] for i in rng.permutation(len(smaller))]
    # the seed's order, but the smallest models last tried first among the rest: a short ask
    # tries a few at random, then the smallest
    tries = order[:SMALLER_TRIES] + sorted(order[SMALLER_TRIES:], key=param_count)[:3]
    for asked in kinds:
        for spec in tries:
            yield replace(asked, model=spec.name)


def _pool(options: GenerateOptions) -> list[ModelSpec]:
    if options.models == "real":
        return [m for m in MODELS if not m.invented]
    if options.models == "invented":
        return [m for m in MODELS if m.invented]
    return list(MODELS)


def _refusal(options: GenerateOptions, plan: Planner, short: DurationTooShort) -> DurationTooShort:
    """The one-line refusal: what takes the time, the shortest duration that plans with these
    options, and the pinned option whose removal would let the asked duration plan."""
    asked = options.duration or 0.0
    need = _shortest(options, plan, max(short.need_s, asked) if short.need_s else asked * 1.15)
    drop = _droppable(options, plan, short)
    what = _what(options)
    hint = f"ask for at least {_seconds(need)}" if need else "ask for a longer --duration"
    if drop:
        hint += f", or drop {drop}"
    why = f": {short.why}" if short.why else ""
    return DurationTooShort(
        f"--duration {asked:.0f} s is too short for {what}{why} ({hint})",
        need or short.need_s,
        short.why,
    )


def _shortest(options: GenerateOptions, plan: Planner, start: float) -> float:
    """The shortest duration (a round number of seconds) at or above `start` that plans with
    these options, 0.0 when none within a few tries does."""
    duration = math.ceil(start / 10) * 10
    for _ in range(LONGER_TRIES):
        longer = replace(options, duration=float(duration))
        try:
            plan(longer)
        except DurationTooShort as short:
            if _relaxed(longer, plan, short) is None:
                duration = math.ceil(duration * 1.15 / 10) * 10
                continue
        except GeneratorError:
            return 0.0
        return float(duration)
    return 0.0


def _droppable(options: GenerateOptions, plan: Planner, short: DurationTooShort) -> str:
    """The first pinned option whose removal lets the asked duration plan ("" for none)."""
    for field, flag in PINNED:
        if getattr(options, field) is None:
            continue
        unpinned: dict[str, Any] = {field: None}
        freer = replace(options, **unpinned)
        try:
            plan(freer)
        except DurationTooShort as again:
            if _relaxed(freer, plan, again) is None:
                continue
        except GeneratorError:
            continue
        return flag
    return ""


def _what(options: GenerateOptions) -> str:
    """The pinned part of the run, as the refusal names it."""
    spec = find_model(options.model) if options.model else None
    parts = [spec.name if spec else "this run"]
    if options.kind:
        parts.append(options.kind)
    if options.stack:
        parts.append(f"with {options.stack}")
    if options.gpus:
        parts.append(f"on {options.gpus} {options.gpu_type or ''} GPUs".replace("  ", " "))
    return " ".join(parts)


def _seconds(s: float) -> str:
    """A duration as the option takes it: whole minutes as `Nm`, else seconds."""
    return f"{s / 60:.0f}m" if s % 60 == 0 else f"{s:.0f} s"
