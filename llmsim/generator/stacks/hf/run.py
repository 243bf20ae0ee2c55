"""A Hugging Face Trainer run with FSDP, launched by torchrun: accelerate's sharded saves and
loads (hf/fsdp.py) around the Trainer's own lines."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from llmsim.generator.stacks.common import launch
from llmsim.generator.stacks.common.terminal import StackTerminal
from llmsim.generator.stacks.common.trainer import resume_load
from llmsim.generator.stacks.common.trainer_run import TrainerRun
from llmsim.generator.stacks.context import Context
from llmsim.generator.stacks.hf import fsdp
from llmsim.generator.stacks.hf.terminal import TERMINAL

# How __post_init__ leaves `--fsdp "full_shard auto_wrap"` (a list of FSDPOption, printed by
# repr) and an fsdp.json of {"state_dict_type": "SHARDED_STATE_DICT"} (its keys, then the
# defaults it adds): sharded saves are what accelerate's fsdp_utils lines report.
FSDP_ARGUMENTS: Final[dict[str, str]] = {
    "fsdp": "[<FSDPOption.FULL_SHARD: 'full_shard'>, <FSDPOption.AUTO_WRAP: 'auto_wrap'>]",
    "fsdp_config": (
        "{'state_dict_type': 'SHARDED_STATE_DICT', 'min_num_params': 0, 'xla': False, "
        "'xla_fsdp_v2': False, 'xla_fsdp_grad_ckpt': False}"
    ),
}


class FsdpRun(TrainerRun):
    """torchrun + `--fsdp "full_shard auto_wrap" --fsdp_config fsdp.json`."""

    def launch(self, ctx: Context) -> None:
        """torchrun's agent."""
        launch.torchrun_start(ctx, info=ctx.agent_info)

    def sharding_arguments(self) -> Mapping[str, str]:
        """--fsdp and --fsdp_config as the dump shows them."""
        return FSDP_ARGUMENTS

    def resume_announce(self, ctx: Context, where: str) -> None:
        """The Trainer names the checkpoint it loads."""
        resume_load(ctx)

    def resume_load(self, ctx: Context, where: str, seconds: float) -> None:
        """accelerate loads the sharded model, then the optimizer."""
        fsdp.load(fsdp.logger(ctx, "init"), where, seconds)

    def save_checkpoint(self, ctx: Context, where: str, step: int, seconds: float) -> None:
        """accelerate saves the sharded model, then the optimizer."""
        log = fsdp.logger(ctx, "checkpoint")
        fsdp.save_model(log, where, seconds * 0.25)
        fsdp.save_optimizer(log, where, seconds * 0.75)

    def close(self, ctx: Context) -> None:
        """torchrun's agent after the workers exit."""
        launch.torchrun_end(ctx, info=ctx.agent_info)

    def terminal(self) -> StackTerminal:
        """The shell around the job (stacks/hf/terminal.py)."""
        return TERMINAL


RUN: Final = FsdpRun()
