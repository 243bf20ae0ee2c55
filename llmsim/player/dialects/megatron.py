"""Megatron-LM: the `iteration` line of training_log, the validation block, checkpoint lines."""

from __future__ import annotations

from llmsim.player.dialects.base import Line, Stamps
from llmsim.trace import Event, RunConfig, prints_step


class Megatron:
    """Megatron-LM's console lines (core >= 0.16: microsecond stamps)."""

    def __init__(self, config: RunConfig, stamps: Stamps) -> None:
        self.config = config
        self.stamps = stamps

    def step(self, ev: Event, when: float) -> list[Line]:
        step = ev.step or 0
        if not prints_step(self.config, step):
            return []
        c = self.config
        body = (
            f" iteration {step:8d}/{c.total_steps:8d} | consumed samples: {ev.samples or 0:12d} | "
            f"elapsed time per iteration (ms): {(ev.step_time or 0.0) * 1000:.1f} | "
            f"throughput per GPU (TFLOP/s/GPU): {ev.tflops or 0.0:.1f} | "
            f"learning rate: {ev.lr or 0.0:.6E} | global batch size: {c.global_batch:5d} | "
            f"lm loss: {ev.loss or 0.0:.6E} | loss scale: {ev.loss_scale or 1.0:.1f} | "
            f"grad norm: {ev.grad_norm or 0.0:.3f} | "
            f"number of skipped iterations: {ev.skipped or 0:3d} | "
            f"number of nan iterations: {ev.nan_iters or 0:3d} |"
        )
        return [Line(((f" [{self.stamps.micros(when)}]", "time"),), ((body, None),))]

    def eval(self, ev: Event, when: float) -> list[Line]:
        text = (
            f" validation loss at iteration {ev.step or 0} | lm loss value: "
            f"{ev.val_loss or 0.0:.6E} | lm loss PPL: {ev.val_ppl or 1.0:.6E} | "
        )
        rule = "-" * (len(text) + 1)
        return [Line((), ((rule, None),)), Line((), ((text, None),)), Line((), ((rule, None),))]

    def checkpoint(self, ev: Event, when: float) -> list[Line]:
        c = self.config
        text = (
            f"successfully saved checkpoint from iteration {ev.step or 0:7d} to "
            f"{c.output_dir}/checkpoints [ t 1/{c.tp}, p 1/{c.pp} ]"
        )
        return [Line((("  ", None), (f"[{self.stamps.micros(when)}] ", "time")), ((text, None),))]
