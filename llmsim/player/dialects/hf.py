"""Hugging Face Trainer 4.57 (with Accelerate/FSDP or DeepSpeed): the dicts of tqdm.write.

Sources: transformers/trainer.py `_maybe_log_save_evaluate` (loss `round(x, 4)`, grad_norm the
float of a float32 tensor, learning_rate the scheduler's float) and trainer_callback.py
`ProgressCallback.on_log` (epoch rounded to 2 places, total_flos dropped); evaluation metrics
from trainer_utils.speed_metrics (runtime to 4 places, rates to 3).
"""

from __future__ import annotations

from llmsim.player.dialects.base import Line, Stamps
from llmsim.trace import Event, RunConfig, prints_step


class HuggingFace:
    """The HF Trainer's console lines for steps, evaluations and checkpoints."""

    # from_pretrained's `Loading checkpoint shards` bar stays (tqdm's leave=True)
    kept_bars: frozenset[str] = frozenset({"load_checkpoint", "init_weights"})
    # ProgressCallback: tqdm(total=max_steps, dynamic_ncols=True), on_log's training_bar.write
    training_bar = True

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
