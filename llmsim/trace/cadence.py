"""Which optimizer steps a stack prints a line for: one rule, used by generator and player, read
from the run config."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmsim.trace.config import RunConfig

if TYPE_CHECKING:  # the player asks prints_step without numpy: it stays off its start-up
    import numpy as np
    import numpy.typing as npt


def prints_step(config: RunConfig, step: int) -> bool:
    """True if the run's stack prints its step line after optimizer step `step`: every
    `log_interval` steps, and after step 1 where the config says so (`log_first_step`: the HF
    Trainer's `logging_first_step`, torchtitan's MetricsProcessor.should_log; not Megatron's
    `--log-interval`)."""
    return step % config.log_interval == 0 or (config.log_first_step and step == 1)


def printed_steps(config: RunConfig, steps: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """prints_step for an array of steps (the generator's chunks)."""
    printed: npt.NDArray[np.bool_] = steps % config.log_interval == 0
    if config.log_first_step:
        printed |= steps == 1
    return printed
