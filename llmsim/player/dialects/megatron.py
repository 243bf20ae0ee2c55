"""Megatron-LM core 0.15: training_log's `iteration` line, the validation block, the save line.

Sources (megatron/training/training.py and checkpointing.py at core_v0.15.0): the iteration
line is one physical line opening with ` [%Y-%m-%d %H:%M:%S]` (microseconds came in 0.16), its
fields in this order, `lm loss` and the learning rate as `.6E`; the validation block is framed
by `len(string) + 1` dashes and its middle line keeps a trailing space; the save line of 0.15
carries no time stamp. The evaluation after the loop reads `at iteration N on validation set`
(the config says whether the run has one: `eval_after_loop`); saves go to `--save`
(`checkpoint_dir`).
"""

from __future__ import annotations

from llmsim.player.dialects.base import Line, Segment, Stamps
from llmsim.trace import Event, RunConfig, prints_step


class Megatron:
    """Megatron-LM's console lines for steps, evaluations and checkpoints."""

    kept_bars: frozenset[str] = frozenset()  # it draws no bar of its own
    training_bar = False

    def __init__(self, config: RunConfig, stamps: Stamps) -> None:
        self.config = config
        self.stamps = stamps

    def step(self, ev: Event, when: float) -> list[Line]:
        step = ev.step or 0
        if not prints_step(self.config, step):
            return []
        c = self.config
        body: tuple[Segment, ...] = (
            (f" iteration {step:8d}/{c.total_steps:8d} |", "metric_step"),
            (f" consumed samples: {ev.samples or 0:12d} |", None),
            (f" elapsed time per iteration (ms): {(ev.step_time or 0.0) * 1000:.1f} |", None),
            (f" throughput per GPU (TFLOP/s/GPU): {ev.tflops or 0.0:.1f} |", "metric_tflops"),
            (f" learning rate: {ev.lr or 0.0:.6E} |", None),
            (f" global batch size: {c.global_batch:5d} |", None),
            (f" lm loss: {ev.loss or 0.0:.6E} |", "metric_loss"),
            (f" loss scale: {ev.loss_scale or 1.0:.1f} |", None),
            (f" grad norm: {ev.grad_norm or 0.0:.3f} |", "metric_grad"),
            (f" number of skipped iterations: {ev.skipped or 0:3d} |", None),
            (f" number of nan iterations: {ev.nan_iters or 0:3d} |", None),
        )
        return [Line(((" [", None), (self.stamps.seconds(when), "time"), ("]", None)), body)]

    def eval(self, ev: Event, when: float) -> list[Line]:
        step = ev.step or 0
        c = self.config
        final = c.eval_after_loop and step == c.total_steps
        where = f"iteration {step} on validation set" if final else f"iteration {step}"
        text = (
            f" validation loss at {where} | lm loss value: "
            f"{ev.val_loss or 0.0:.6E} | lm loss PPL: {ev.val_ppl or 1.0:.6E} | "
        )
        rule = "-" * (len(text) + 1)
        return [Line((), ((rule, None),)), Line((), ((text, None),)), Line((), ((rule, None),))]

    def checkpoint(self, ev: Event, when: float) -> list[Line]:
        c = self.config
        text = (
            f"  successfully saved checkpoint from iteration {ev.step or 0:7d} to "
            f"{c.checkpoint_dir} [ t 1/{c.tp}, p 1/{c.pp} ]"
        )
        return [Line((), ((text, None),))]
