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
from llmsim.generator.plan.choose import Profiles
from llmsim.generator.plan.runplan import RunPlan
from llmsim.trace.vocab import RUN_KINDS, RunKind

Planner = Callable[[GenerateOptions], RunPlan]  # plan these options as they are

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


def fitted(options: GenerateOptions, plan: Planner, profiles: Profiles) -> RunPlan:
    """The run the seed draws, or, when the asked duration cannot hold it, one with what the
    user left open chosen again so that it can; DurationTooShort (one line, naming the
    shortest duration that plans and the option to drop) when the pinned options forbid it."""
    search = _Search(plan, profiles)
    try:
        return plan(options)
    except DurationTooShort as short:
        found = search.relaxed(options, short)
        if found is not None:
            return found
        raise search.refusal(options, short) from None
    except GeneratorError:
        # The run drawn for a short ask fits no cluster at all (a batch of a post-training
        # recipe too big for the model's sequences, about 1 seed in 200): with nothing pinned,
        # the same search finds one that does, as it would for a run too long.
        if options.duration is None or any(getattr(options, f) is not None for f, _ in PINNED):
            raise
        found = search.relaxed(options, DurationTooShort(""))
        if found is None:
            raise
        return found


class _Search:
    """Planning with what is open chosen again, for one ask."""

    def __init__(self, plan: Planner, profiles: Profiles) -> None:
        self.plan, self.profiles = plan, profiles

    def relaxed(self, options: GenerateOptions, short: DurationTooShort) -> RunPlan | None:
        """The first run that plans among the open options chosen again (None: none does)."""
        for other in _alternatives(options, short, self.takes(options)):
            try:
                return self.plan(other)
            except GeneratorError:
                continue
        return None

    def takes(self, options: GenerateOptions) -> list[ModelSpec]:
        """The models of the pool some open stack runs as some open kind."""
        pinned = self.profiles.get(options.stack) if options.stack else None
        stacks = [pinned] if pinned else list(self.profiles.values())
        kinds: tuple[RunKind, ...] = (options.kind,) if options.kind else RUN_KINDS
        return [
            m for m in _pool(options) if any(p.refusal(k, m) is None for p in stacks for k in kinds)
        ]

    def refusal(self, options: GenerateOptions, short: DurationTooShort) -> DurationTooShort:
        """The one-line refusal: what takes the time, the shortest duration that plans with
        these options, and the pinned option whose removal would let the asked one plan."""
        asked = options.duration or 0.0
        start = max(short.need_s, asked) if short.need_s else asked * 1.15
        need = self.shortest(options, start)
        drop = self.droppable(options)
        hint = f"ask for at least {_seconds(need)}" if need else "ask for a longer --duration"
        if drop:
            hint += f", or drop {drop}"
        why = f": {short.why}" if short.why else ""
        return DurationTooShort(
            f"--duration {asked:.0f} s is too short for {_what(options)}{why} ({hint})",
            need or short.need_s,
            short.why,
        )

    def plans(self, options: GenerateOptions) -> bool:
        """Whether these options plan, with what is open chosen again if need be (other
        refusals than the duration's count as no)."""
        try:
            self.plan(options)
        except DurationTooShort as short:
            return self.relaxed(options, short) is not None
        except GeneratorError:
            return False
        return True

    def shortest(self, options: GenerateOptions, start: float) -> float:
        """The shortest duration (a round number of seconds) at or above `start` that plans
        with these options, 0.0 when none within a few tries does."""
        duration = math.ceil(start / 10) * 10
        for _ in range(LONGER_TRIES):
            if self.plans(replace(options, duration=float(duration))):
                return float(duration)
            duration = math.ceil(duration * 1.15 / 10) * 10
        return 0.0

    def droppable(self, options: GenerateOptions) -> str:
        """The first pinned option whose removal lets the asked duration plan ("" for none)."""
        for field, flag in PINNED:
            if getattr(options, field) is None:
                continue
            unpinned: dict[str, Any] = {field: None}
            if self.plans(replace(options, **unpinned)):
                return flag
        return ""


def _alternatives(
    options: GenerateOptions, short: DurationTooShort, takes: list[ModelSpec]
) -> Iterator[GenerateOptions]:
    """Options with what the user left open narrowed towards shorter runs, in turn."""
    kinds: list[GenerateOptions] = [options]
    if options.kind is None:
        kinds.append(replace(options, kind="finetune"))
    for asked in kinds[1:]:
        yield asked  # the drawn model as a fine-tune
    if options.model is not None:
        return
    limit = short.params or math.inf
    smaller = [m for m in takes if param_count(m) < limit]
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
