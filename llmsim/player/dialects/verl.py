"""verl 0.6 (its console logger behind Ray): `step:N - key:value - ...` after every step, then
the tqdm bar of `Training Progress`.

Sources: verl utils/logger/aggregate_logger.py:26-31 and :51 (`step:{step} - ` then `{k}:{v}`
joined by ` - `, each value `pprint.pformat`: ints plain, floats their full repr, numbers only),
printed by the TaskRunner actor (Ray prefixes `(TaskRunner pid=N) `); ray_trainer.py:1003 the
bar (`desc="Training Progress"`; tqdm on a pipe: a 10-cell bar). The keys and their order are
the run's (config.metric_keys: verl inserts them as its timers close; `timing_per_token_ms/*`
come from a set); a key a trace column holds is read from it (TYPED), the others from the row's
`metrics` (NaN: not on this step, as `timing_s/testing` off validation steps).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from llmsim.player.dialects.base import Line, Stamps
from llmsim.trace import Event, RunConfig
from llmsim.units import format_clock as clock

TYPED: Final[dict[str, Callable[[Event], float | None]]] = {
    "actor/entropy": lambda ev: ev.entropy,
    "actor/kl_loss": lambda ev: ev.kl,
    "actor/grad_norm": lambda ev: None if ev.grad_norm is None else float(ev.grad_norm),
    "actor/lr": lambda ev: ev.lr,
    "critic/score/mean": lambda ev: ev.reward,
    "critic/rewards/mean": lambda ev: ev.reward,
    "response_length/mean": lambda ev: ev.response_len,
}
# Keys verl logs as Python ints (pformat prints them without a decimal point).
INTS: Final = frozenset(
    {
        "global_seqlen/min",
        "global_seqlen/max",
        "global_seqlen/minmax_diff",
        "global_seqlen/balanced_min",
        "global_seqlen/balanced_max",
        "training/global_step",
        "training/epoch",
        "perf/total_num_tokens",
    }
)
BAR: Final = "Training Progress"
CELLS: Final = 10
PARTIALS: Final = " ▏▎▍▌▋▊▉"


def _shown(key: str, v: float) -> str:
    return str(int(v)) if key in INTS else repr(float(v))


def line(step: int, keys: tuple[str, ...], ev: Event) -> str:
    """`step:N - key:value - ...` for the keys the row reports."""
    parts = [f"step:{step}"]
    values = ev.metrics or []
    for i, key in enumerate(keys):
        typed = TYPED.get(key)
        v = typed(ev) if typed is not None else (values[i] if i < len(values) else None)
        if v is None:
            continue
        parts.append(f"{key}:{_shown(key, v)}")
    return " - ".join(parts)


def bar(done: int, total: int, elapsed: float, left: float, rate: float) -> str:
    """tqdm's meter on a pipe: `Training Progress:   1%|          | 1/140 [00:49<1:53:43, 49.09s/it]`."""
    frac = done / total if total else 1.0
    eighths = int(frac * CELLS * 8)
    full, part = divmod(eighths, 8)
    cells = "█" * full + (PARTIALS[part] if part and full < CELLS else "")
    cells = cells.ljust(CELLS)
    pace = f"{rate:.2f}s/it" if rate >= 1 else f"{1 / max(rate, 1e-9):.2f}it/s"
    return (
        f"{BAR}: {int(100 * frac):3d}%|{cells}| {done}/{total} "
        f"[{clock(elapsed)}<{clock(left)}, {pace}]"
    )


class Verl:
    """verl's step lines (checkpoint lines are log rows; validations merge into the step's)."""

    kept_bars: frozenset[str] = frozenset()
    # its `Training Progress` bar reaches the driver through Ray's pipe: a printed line a step
    training_bar = False

    def __init__(self, config: RunConfig, stamps: Stamps) -> None:
        self.config = config
        self.stamps = stamps

    def step(self, ev: Event, when: float) -> list[Line]:
        step = ev.step or 0
        text = line(step, self.config.metric_keys, ev)
        meter = bar(
            step, self.config.total_steps, ev.elapsed or 0.0, ev.eta or 0.0, ev.step_time or 0.0
        )
        return [Line(((self._task(), "origin"),), ((text, None),)), Line((), ((meter, None),))]

    def _task(self) -> str:
        """The TaskRunner's Ray prefix, as the run names it."""
        return self.config.step_prefix

    def eval(self, ev: Event, when: float) -> list[Line]:
        if ev.step or ev.reward is None:  # later validations are in their step's line
            return []
        key = self.config.eval_metric_keys[0] if self.config.eval_metric_keys else "val-core"
        text = f"step:0 - {key}:{float(ev.reward)!r}"
        return [Line(((self._task(), "origin"),), ((text, None),))]

    def checkpoint(self, ev: Event, when: float) -> list[Line]:
        return []
