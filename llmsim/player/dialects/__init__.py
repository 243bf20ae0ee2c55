"""Dialects: how each training stack prints its lines. The player formats, never computes.

The renderer asks this package for the text of every line it prints from a trace row:
`log_line` for `log` rows (the prefix of the row's LogFormat, then its text), and the run's
`Dialect` (`dialect_for(config)`) for `step`, `eval` and `checkpoint` rows, which hold numbers.
A line is returned as styled segments split into a prefix (stamp, level, logger) and a body, so
that the renderer can colour it, sanitise it and wrap it with continuation rows indented under
the body. Dialects never sanitise (the renderer does) and never read a clock: `when` is the
unix time the line is stamped with.
"""

from __future__ import annotations

from typing import Protocol

from llmsim.player.dialects.base import Line, Segment, Stamps
from llmsim.player.dialects.logformats import log_line, tool_prefix
from llmsim.trace import Event, RunConfig

__all__ = ["Dialect", "Line", "Segment", "Stamps", "dialect_for", "log_line", "tool_prefix"]


class Dialect(Protocol):
    """The lines one stack prints for the rows that carry numbers, and which of its progress
    bars stay on screen once finished (tqdm's leave=True: HF's `Loading checkpoint shards`)."""

    kept_bars: frozenset[str]
    # Whether its training loop draws tqdm bars (a bar over the steps, one over the evaluation
    # batches) and writes its metric dicts above them with tqdm.write (the tmux layout's pane).
    training_bar: bool

    def step(self, ev: Event, when: float) -> list[Line]:
        """Lines for a `step` row ([] when the stack prints nothing at this step)."""
        ...

    def eval(self, ev: Event, when: float) -> list[Line]:
        """Lines for an `eval` row (the result of a validation pass)."""
        ...

    def checkpoint(self, ev: Event, when: float) -> list[Line]:
        """Lines for a `checkpoint` row (a save finished)."""
        ...


def dialect_for(config: RunConfig, stamps: Stamps) -> Dialect:
    """The dialect of the run's stack."""
    from llmsim.player.dialects import hf, megatron, titan, trl, verl

    if config.stack == "megatron":
        return megatron.Megatron(config, stamps)
    if config.stack == "torchtitan":
        return titan.Titan(config, stamps)
    if config.stack == "trl":
        return trl.Trl(config, stamps)
    if config.stack == "verl":
        return verl.Verl(config, stamps)
    return hf.HuggingFace(config, stamps)
