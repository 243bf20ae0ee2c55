"""torchtitan v0.2.0: the coloured metrics line, the validation line, the save line.

Sources: torchtitan/components/metrics.py (MetricsProcessor.log, log_validation: red step,
green loss, orange grad_norm, turquoise memory, blue tps, cyan tflops, magenta mfu, fields two
spaces apart; the colours are torchtitan/tools/utils.py's Color: SGR 31, 32, 38;2;180;60;0,
38;2;54;234;195, 34, 36, 35 — the `titan_*` styles, the only colours the tmux layout keeps) and components/checkpoint.py (the save's closing line, its missing space before
`in` included). run_train.sh's `--tee 3` puts `[rank0]:` in front.
"""

from __future__ import annotations

from llmsim.player.dialects.base import Line, Segment, Stamps
from llmsim.trace import Event, RunConfig, prints_step


class Titan:
    """torchtitan's console lines (v0.2 logger format, run_train.sh's [rank0]: prefix)."""

    kept_bars: frozenset[str] = frozenset()  # it draws no bar of its own
    training_bar = False

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
            (f"step: {step:2}", "titan_red"),
            ("  ", None),
            (f"loss: {ev.loss or 0.0:7.4f}", "titan_green"),
            ("  ", None),
            (f"grad_norm: {ev.grad_norm or 0.0:7.4f}", "titan_orange"),
            ("  ", None),
            (f"memory: {ev.mem_gib or 0.0:5.2f}GiB({ev.mem_pct or 0.0:.2f}%)", "titan_turquoise"),
            ("  ", None),
            (f"tps: {round(ev.tokens_per_s_gpu or 0.0):,}", "titan_blue"),
            ("  ", None),
            (f"tflops: {ev.tflops or 0.0:,.2f}", "titan_cyan"),
            ("  ", None),
            (f"mfu: {(ev.mfu or 0.0) * 100:.2f}%", "titan_magenta"),
        )
        return [Line(self._prefix(when), body)]

    def eval(self, ev: Event, when: float) -> list[Line]:
        body: tuple[Segment, ...] = (
            (f"validate step: {ev.step or 0:2}", "titan_red"),
            ("  ", None),
            (f"loss: {ev.val_loss or 0.0:7.4f}", "titan_green"),
            ("  ", None),
            (f"memory: {ev.mem_gib or 0.0:5.2f}GiB({ev.mem_pct or 0.0:.2f}%)", "titan_turquoise"),
            ("  ", None),
            (f"tps: {round(ev.tokens_per_s_gpu or 0.0):,}", "titan_blue"),
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
