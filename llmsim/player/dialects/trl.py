"""TRL 0.24 (SFTTrainer, DPOTrainer, GRPOTrainer on transformers 4.57's Trainer): the dicts its
ProgressCallback writes.

Sources: transformers trainer.py `_maybe_log_save_evaluate` (`loss` as `round(x, 4)`,
`grad_norm` the float of a float32 tensor, `learning_rate` the scheduler's), TRL's `log`
overrides (sft_trainer.py:1187-1198, dpo_trainer.py:1979-1995, grpo_trainer.py:1790-1801: the
trainer's own keys after learning_rate, then the Trainer's `epoch` rounded to 2 places), all
printed by Python's repr. The keys and their order are the run's (config.metric_keys); a key
that a trace column holds is read from it (TYPED), the others from the row's `metrics`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from llmsim.player.dialects.base import Line, Stamps
from llmsim.trace import Event, RunConfig, prints_step

# Keys whose value a trace column holds, step and eval rows alike.
TYPED: Final[dict[str, Callable[[Event], float | None]]] = {
    "entropy": lambda ev: ev.entropy,
    "num_tokens": lambda ev: None if ev.tokens is None else float(ev.tokens),
    "completions/mean_length": lambda ev: ev.response_len,
    "reward": lambda ev: ev.reward,
    "reward_std": lambda ev: ev.reward_std,
    "kl": lambda ev: ev.kl,
    "rewards/chosen": lambda ev: ev.chosen,
    "rewards/rejected": lambda ev: ev.rejected,
    "rewards/accuracies": lambda ev: ev.accuracy,
    "rewards/margins": lambda ev: ev.margin,
}


def value(key: str, ev: Event, values: list[float | None] | None, index: int) -> float | None:
    """The value a key prints on this row (None: the row does not report it)."""
    typed = TYPED.get(key.removeprefix("eval_"))
    if typed is not None:
        return typed(ev)
    if values is None or index >= len(values):
        return None
    return values[index]


def pairs(keys: tuple[str, ...], ev: Event) -> str:
    """`'key': value` for each key the row reports, in order."""
    out = []
    for i, key in enumerate(keys):
        v = value(key, ev, ev.metrics, i)
        if v is not None:
            out.append(f"{key!r}: {float(v)!r}")
    return ", ".join(out)


class Trl:
    """TRL's console lines for steps and evaluations (checkpoints print nothing at the
    scripts' WARNING verbosity)."""

    # from_pretrained's `Loading checkpoint shards` bar stays (tqdm's leave=True)
    kept_bars: frozenset[str] = frozenset({"load_checkpoint"})
    # the Trainer's ProgressCallback: tqdm(total=max_steps) on the terminal, dicts by tqdm.write
    training_bar = True

    def __init__(self, config: RunConfig, stamps: Stamps) -> None:
        self.config = config
        self.stamps = stamps

    def step(self, ev: Event, when: float) -> list[Line]:
        if not prints_step(self.config, ev.step or 0):
            return []
        middle = pairs(self.config.metric_keys, ev)
        text = (
            f"{{'loss': {round(ev.loss or 0.0, 4)!r}, 'grad_norm': {float(ev.grad_norm or 0.0)!r}, "
            f"'learning_rate': {float(ev.lr or 0.0)!r}, {middle + ', ' if middle else ''}"
            f"'epoch': {round(ev.epoch_progress or 0.0, 2)!r}}}"
        )
        return [Line((), ((text, None),))]

    def eval(self, ev: Event, when: float) -> list[Line]:
        middle = pairs(self.config.eval_metric_keys, ev)
        text = (
            f"{{'eval_loss': {float(ev.val_loss or 0.0)!r}, "
            f"'eval_runtime': {round(ev.elapsed or 0.0, 4)!r}, "
            f"'eval_samples_per_second': {round(ev.samples_per_s or 0.0, 3)!r}, "
            f"'eval_steps_per_second': {round(ev.steps_per_s or 0.0, 3)!r}, "
            f"{middle + ', ' if middle else ''}"
            f"'epoch': {round(ev.epoch_progress or 0.0, 2)!r}}}"
        )
        return [Line((), ((text, None),))]

    def checkpoint(self, ev: Event, when: float) -> list[Line]:
        return []
