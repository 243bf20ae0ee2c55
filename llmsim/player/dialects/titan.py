"""torchtitan v0.2.0: the coloured metrics line, the validation line, the save line.

Sources: torchtitan/components/metrics.py (MetricsProcessor.log, log_validation: red step,
green loss, orange grad_norm, turquoise memory, blue tps, cyan tflops, magenta mfu, fields two
spaces apart) and components/checkpoint.py (the save's closing line, its missing space before
`in` included). run_train.sh's `--tee 3` puts `[rank0]:` in front.
"""

from __future__ import annotations

from llmsim.player.dialects.base import Line, Segment, Stamps
from llmsim.trace import Event, RunConfig, prints_step


class Titan:
    """torchtitan's console lines (v0.2 logger format, run_train.sh's [rank0]: prefix)."""

    kept_bars: frozenset[str] = frozenset()  # it draws no bar of its own

    def __init__(self, config: RunConfig, stamps: Stamps) -> None:
        self.config = config
        self.stamps = stamps

    def _prefix(self, when: float) -> tuple[Segment, ...]:
        return (
            ("[rank0]:[titan] ", None),
            (self.stamps.millis(when), "time"),
            (" - root - ", "origin"),
            ("INFO", "INFO"),
            (" - ", None),
        )

    def step(self, ev: Event, when: float) -> list[Line]:
        step = ev.step or 0
        if not prints_step(self.config, step):
            return []
        body: tuple[Segment, ...] = (
            (f"step: {step:2}", "metric_step"),
            ("  ", None),
            (f"loss: {ev.loss or 0.0:7.4f}", "metric_loss"),
            ("  ", None),
            (f"grad_norm: {ev.grad_norm or 0.0:7.4f}", "metric_grad"),
            ("  ", None),
            (f"memory: {ev.mem_gib or 0.0:5.2f}GiB({ev.mem_pct or 0.0:.2f}%)", "metric_mem"),
            ("  ", None),
            (f"tps: {round(ev.tokens_per_s_gpu or 0.0):,}", "metric_tps"),
            ("  ", None),
            (f"tflops: {ev.tflops or 0.0:,.2f}", "metric_tflops"),
            ("  ", None),
            (f"mfu: {(ev.mfu or 0.0) * 100:.2f}%", "metric_mfu"),
        )
        return [Line(self._prefix(when), body)]

    def eval(self, ev: Event, when: float) -> list[Line]:
        body: tuple[Segment, ...] = (
            (f"validate step: {ev.step or 0:2}", "metric_step"),
            ("  ", None),
            (f"loss: {ev.val_loss or 0.0:7.4f}", "metric_loss"),
            ("  ", None),
            (f"memory: {ev.mem_gib or 0.0:5.2f}GiB({ev.mem_pct or 0.0:.2f}%)", "metric_mem"),
            ("  ", None),
            (f"tps: {round(ev.tokens_per_s_gpu or 0.0):,}", "metric_tps"),
        )
        return [Line(self._prefix(when), body)]

    def checkpoint(self, ev: Event, when: float) -> list[Line]:
        c = self.config
        if c.last_save_model_only and ev.step == c.total_steps:
            return []  # _save_last_step saves the model only and returns before this line
        text = (
            "Finished saving the checkpoint (or staging if async is enabled)"
            f"in {ev.elapsed or 0.0:.2f} seconds."
        )
        return [Line(self._prefix(when), ((text, None),))]
