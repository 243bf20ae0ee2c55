"""Hugging Face Trainer (with Accelerate/FSDP or DeepSpeed): logged dicts via tqdm.write.

transformers 4.x: `{'loss': 1.2087, 'grad_norm': 0.8125, 'learning_rate': 1.93e-05, 'epoch': 0.14}`
(loss to 4 decimals, grad_norm and learning_rate as raw floats, epoch to 2 decimals).
"""

from __future__ import annotations

from llmsim.player.dialects.base import Line, Stamps
from llmsim.trace import Event, RunConfig, prints_step


class HuggingFace:
    """The HF Trainer's console lines for steps, evaluations and checkpoints."""

    def __init__(self, config: RunConfig, stamps: Stamps) -> None:
        self.config = config
        self.stamps = stamps

    def step(self, ev: Event, when: float) -> list[Line]:
        step = ev.step or 0
        if not prints_step(self.config, step):
            return []
        text = (
            f"{{'loss': {ev.loss or 0.0:.4f}, 'grad_norm': {float(ev.grad_norm or 0.0)!r}, "
            f"'learning_rate': {float(ev.lr or 0.0)!r}, "
            f"'epoch': {round(ev.epoch_progress or 0.0, 2)!r}}}"
        )
        return [Line((), ((text, None),))]

    def eval(self, ev: Event, when: float) -> list[Line]:
        text = (
            f"{{'eval_loss': {float(ev.val_loss or 0.0)!r}, "
            f"'eval_runtime': {round(ev.elapsed or 0.0, 4)!r}, "
            f"'eval_samples_per_second': {round(ev.samples_per_s or 0.0, 3)!r}, "
            f"'eval_steps_per_second': {round(ev.steps_per_s or 0.0, 3)!r}, "
            f"'epoch': {round(ev.epoch_progress or 0.0, 2)!r}}}"
        )
        return [Line((), ((text, None),))]

    def checkpoint(self, ev: Event, when: float) -> list[Line]:
        return []  # the Trainer's save lines are ordinary log rows
