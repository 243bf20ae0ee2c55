"""What FSDP itself prints in a Trainer run (torch 2.8.0, accelerate 1.11.0).

- The Trainer saves and loads an FSDP checkpoint through accelerate's fsdp_utils
  (`save_fsdp_model`, `save_fsdp_optimizer`, `load_fsdp_model`, `load_fsdp_optimizer`), which
  wrap their work in `FSDP.state_dict_type(...)` for FSDP1 (utils/fsdp_utils.py:117-124). That
  calls `set_state_dict_type`, whose FutureWarning (fully_sharded_data_parallel.py:678 in
  2.8.0) each process prints once: at its first save, or at the load of a process that resumes.
- accelerate's own INFO lines there (`Saving model to ...`, fsdp_utils.py:150/158/272/278) go
  through `get_logger`, which lowers its level only when ACCELERATE_LOG_LEVEL is set
  (logging.py:86-125); the launch sets no such variable, so the root's WARNING level keeps them
  out, as it does in a real run launched the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

from llmsim.generator.stacks.common.torchlines import (
    FSDP_STATE_DICT_WARNING,
    python_warning,
    torch_lines,
)
from llmsim.generator.stacks.context import Context


def state_dict_warnings(ctx: Context, ranks: Sequence[int], phase: str) -> None:
    """Every process's FutureWarning on its first FSDP.state_dict_type() (stderr, unprefixed:
    torchrun passes the workers' streams through)."""
    line = torch_lines(ctx.config.torch_version).fsdp_state_dict_warn
    text = python_warning(
        "distributed/fsdp/fully_sharded_data_parallel.py",
        line,
        FSDP_STATE_DICT_WARNING,
        "warnings.warn(",
    )
    log = ctx.logger(phase, "plain")  # type: ignore[arg-type]
    start = ctx.clock.t
    for _ in ranks:  # the same text from each process, unprefixed
        ctx.clock.t = start + float(ctx.rng.uniform(0.0, 0.05))
        log.lines(text, level="WARNING")
    ctx.clock.t = start
