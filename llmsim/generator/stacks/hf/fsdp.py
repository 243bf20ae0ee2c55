"""Accelerate's FSDP checkpoint lines (accelerate 1.11.0 utils/fsdp_utils.py).

The Trainer saves an FSDP checkpoint with SHARDED_STATE_DICT through accelerate, whose logger
(`accelerate.utils.fsdp_utils`) prints in the script's format when ACCELERATE_LOG_LEVEL=info,
as the usual launch recipes set it.
"""

from __future__ import annotations

from typing import Final

from llmsim.generator.rows import Logger
from llmsim.generator.stacks.context import Context

ORIGIN: Final = "accelerate.utils.fsdp_utils"
MODEL_DIR: Final = "pytorch_model_fsdp_0"
OPTIMIZER_DIR: Final = "optimizer_0"


def logger(ctx: Context, phase: str) -> Logger:
    """Accelerate's logger in the example scripts' format."""
    return ctx.logger(phase, "hf-script", ORIGIN)  # type: ignore[arg-type]


def save_model(log: Logger, where: str, seconds: float) -> None:
    """dist_cp.save of the sharded model state."""
    log.info(f"Saving model to {where}/{MODEL_DIR}")
    log.info(f"Model saved to {where}/{MODEL_DIR}", dt=seconds)


def save_optimizer(log: Logger, where: str, seconds: float) -> None:
    """dist_cp.save of the sharded optimizer state."""
    log.info(f"Saving Optimizer state to {where}/{OPTIMIZER_DIR}")
    log.info(f"Optimizer state saved in {where}/{OPTIMIZER_DIR}", dt=seconds)


def load(log: Logger, where: str, seconds: float) -> None:
    """Resuming: the sharded model, then the optimizer."""
    log.info(f"Loading model from {where}/{MODEL_DIR}")
    log.info(f"Model loaded from {where}/{MODEL_DIR}", dt=seconds / 3)
    log.info(f"Loading Optimizer from {where}/{OPTIMIZER_DIR}")
    log.info(f"Optimizer loaded from {where}/{OPTIMIZER_DIR}", dt=2 * seconds / 3)
