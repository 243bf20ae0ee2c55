"""Which optimizer steps a stack prints a line for: one rule, used by generator and player."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from llmsim.trace.config import RunConfig


def prints_step(config: RunConfig, step: int) -> bool:
    """True if the run's stack prints its step line after optimizer step `step`.

    HF Trainer logs every `logging_steps` (and the first step of a fresh run, as the example
    scripts' `logging_first_step` asks); Megatron every `--log-interval`; torchtitan at step 1
    and every `log_freq` (MetricsProcessor.should_log).
    """
    interval = config.log_interval
    if step % interval == 0:
        return True
    if config.stack == "megatron":
        return False
    return step == 1


def printed_steps(config: RunConfig, steps: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """prints_step for an array of steps (the generator's chunks)."""
    printed: npt.NDArray[np.bool_] = steps % config.log_interval == 0
    if config.stack != "megatron":
        printed |= steps == 1
    return printed
