"""A Hugging Face Trainer run with FSDP, launched by torchrun: the process group accelerate
creates without a device (NCCL comes up at the first collective, main_process_first's barrier),
FSDP's state-dict warnings at the first save or load (hf/fsdp.py) around the Trainer's own
lines. On one GPU there is no FSDP and no process group: the Trainer saves the model itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from llmsim.generator.stacks.common import launch, nccl
from llmsim.generator.stacks.common.terminal import StackTerminal
from llmsim.generator.stacks.common.torchlines import python_warning, torch_lines
from llmsim.generator.stacks.common.trainer import (
    AT,
    resume_load,
    save_pretrained,
    transformers_log,
)
from llmsim.generator.stacks.common.trainer_run import TrainerRun
from llmsim.generator.stacks.context import Context
from llmsim.generator.stacks.hf import fsdp
from llmsim.generator.stacks.hf.terminal import TERMINAL

# How __post_init__ leaves `--fsdp "full_shard auto_wrap"` (a list of FSDPOption, printed by
# repr) and an fsdp.json of {"state_dict_type": "SHARDED_STATE_DICT"} (its keys, then the
# defaults it adds).
FSDP_ARGUMENTS: Final[dict[str, str]] = {
    "fsdp": "[<FSDPOption.FULL_SHARD: 'full_shard'>, <FSDPOption.AUTO_WRAP: 'auto_wrap'>]",
    "fsdp_config": (
        "{'state_dict_type': 'SHARDED_STATE_DICT', 'min_num_params': 0, 'xla': False, "
        "'xla_fsdp_v2': False, 'xla_fsdp_grad_ckpt': False}"
    ),
}


class FsdpRun(TrainerRun):
    """torchrun + `--fsdp "full_shard auto_wrap" --fsdp_config fsdp.json` (one GPU: neither)."""

    def launch(self, ctx: Context) -> None:
        """torchrun's agent (one process needs none)."""
        if ctx.config.gpus > 1:
            launch.torchrun_start(ctx, info=ctx.agent_info)

    def first_barrier(self, ctx: Context, ranks: list[int], main: bool) -> None:
        """`dist.barrier()` without device ids on a group created without one: torch 2.8 warns
        on every rank (distributed_c10d.py:4807; 2.9 on group rank 0 only, 4876), once per
        process. It is the job's first collective: NCCL sets its communicator up as the main
        process arrives."""
        if ctx.config.gpus == 1:  # main_process_first does nothing in a single process
            return
        tl = torch_lines(ctx.config.torch_version)
        text = python_warning(*tl.barrier_warn)
        log = ctx.logger("init", "plain")
        waiting = [r for r in ranks if r != 0] if not main else [0]
        start = ctx.clock.t
        for rank in waiting:
            if tl.barrier_warns_all or rank == 0:
                ctx.clock.t = start + float(ctx.rng.uniform(0.0, 0.05))
                log.lines(text, level="WARNING")
        ctx.clock.t = start + 0.06
        if main:
            nccl.init_lines(ctx, ctx.init)

    def sharding_arguments(self, ctx: Context) -> Mapping[str, str] | None:
        """--fsdp and --fsdp_config as the dump shows them (one GPU runs without)."""
        return FSDP_ARGUMENTS if ctx.config.gpus > 1 else None

    def resume_announce(self, ctx: Context, where: str) -> None:
        """The Trainer names the checkpoint it loads."""
        resume_load(ctx)

    def resume_load(self, ctx: Context, where: str, seconds: float) -> None:
        """accelerate loads the sharded model, then the optimizer: the process's first
        FSDP.state_dict_type() warns."""
        if ctx.config.gpus > 1:
            fsdp.state_dict_warnings(ctx, self.worker_ranks(ctx), "init")
        ctx.clock.tick(seconds)

    def save_checkpoint(self, ctx: Context, where: str, step: int, seconds: float) -> None:
        """accelerate saves the sharded model, then the optimizer (silently: see hf/fsdp.py);
        a fresh process warns at its first save. One GPU: the Trainer's own _save."""
        if ctx.config.gpus == 1:
            log = transformers_log(ctx, "checkpoint")
            log.info(f"Saving model checkpoint to {where}", AT["save"])
            ctx.clock.tick(seconds * 0.15)
            save_pretrained(ctx, log, where)
            ctx.clock.tick(seconds * 0.85)
            return
        if not ctx.resume_step and step == _first_save(ctx):
            fsdp.state_dict_warnings(ctx, self.worker_ranks(ctx), "checkpoint")
        ctx.clock.tick(seconds)

    def close(self, ctx: Context) -> None:
        """torchrun's agent after the workers exit."""
        if ctx.config.gpus > 1:
            launch.torchrun_end(ctx, info=ctx.agent_info)

    def terminal(self) -> StackTerminal:
        """The shell around the job (stacks/hf/terminal.py)."""
        return TERMINAL


def _first_save(ctx: Context) -> int:
    """The first step a save follows (every save interval, and the last step)."""
    c = ctx.config
    return min(c.checkpoint_interval, c.total_steps)


RUN: Final = FsdpRun()
