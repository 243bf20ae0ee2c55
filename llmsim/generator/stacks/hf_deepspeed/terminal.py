"""The shell around a DeepSpeed Trainer job: the deepspeed runner typed at the node (an sbatch
script across nodes), then DeepSpeed's `zero_to_fp32.py`, which the Trainer copies into every
checkpoint, turning the last checkpoint's ZeRO partitions into fp32 safetensors.

DeepSpeed 0.17.5 (the stack's pin; 0.18.0's file is identical) `utils/zero_to_fp32.py`: `Processing zero
checkpoint '<dir>/<tag>'` (196), the `Loading checkpoint shards` bar over the data-parallel
ranks' optimizer files (151), `Detected checkpoint of type zero stage N, world_size: W` (200),
`Parsing checkpoint created by deepspeed==V` (205); ZeRO-3: the `Gathering sharded weights` bar
(465) and `Reconstructed Trainable fp32 state dict with N params M elements` (487), ZeRO-2:
`Reconstructed fp32 state dict with ...` (322); the `Saving checkpoint shards` bar (655).
Importing deepspeed first logs its accelerator (`accelerator/real_accelerator.py:260`); on a
login node without GPUs it warns (209) and falls back to the CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from llmsim.generator.catalog.architecture import tensors
from llmsim.generator.stacks.common.shell import Command, Launch
from llmsim.generator.stacks.common.terminal import (
    Bar,
    Converter,
    Say,
    batch,
    python_window,
)
from llmsim.generator.stacks.common.trainer_terminal import TrainerTerminal
from llmsim.generator.stacks.context import Context

ACCEL: Final = "real_accelerator.py:260:get_accelerator"
NO_GPU: Final = "real_accelerator.py:209:get_accelerator"


class DeepSpeedTerminal(TrainerTerminal):
    """deepspeed (or sbatch) and zero_to_fp32.py."""

    def launch(self, ctx: Context, script_args: str) -> Launch:
        """`deepspeed --num_gpus 8 train.py ...` at the node; sbatch across nodes."""
        c = ctx.config
        if c.nodes > 1:
            return batch(ctx, "train.sbatch", "train")
        text = f"deepspeed --num_gpus {c.gpus_per_node} {ctx.profile.entrypoint} {script_args}"
        return Launch(Command(text, python_window(ctx)))

    def converter(
        self, ctx: Context, out: str, files: Sequence[tuple[str, int]]
    ) -> Converter | None:
        """zero_to_fp32.py of the last checkpoint, run from where the job ran."""
        c = ctx.config
        ckpt = ctx.checkpoint_path(c.total_steps).removeprefix("./")
        tag = f"global_step{c.total_steps}"
        command = (
            f"python {ckpt}/zero_to_fp32.py {ckpt} {out.removeprefix('./')} --safe_serialization"
        )
        zero = ctx.plan.fit.layout.zero_stage
        n = len(tensors(ctx.plan.choice.model))
        says = [*self._accelerator(ctx), Say("start", f"Processing zero checkpoint '{ckpt}/{tag}'")]
        says += [
            Say("gather", f"Detected checkpoint of type zero stage {zero}, world_size: {c.dp}"),
            Say("gather", f"Parsing checkpoint created by deepspeed=={c.stack_version}"),
        ]
        bars = [Bar("start", "gather", "Loading checkpoint shards", c.dp)]
        if zero == 3:
            bars.append(Bar("gather", "prepare", "Gathering sharded weights", n))
            done = f"Reconstructed Trainable fp32 state dict with {n} params {c.params} elements"
        else:
            done = f"Reconstructed fp32 state dict with {n} params {c.params} elements"
        says.append(Say("prepare", done))
        weights = sum(1 for name, _ in files if name.endswith(".safetensors"))
        bars.append(Bar("serialize", "write", "Saving checkpoint shards", weights))
        return Converter(Command(command, python_window(ctx)), tuple(says), tuple(bars))

    def _accelerator(self, ctx: Context) -> list[Say]:
        """DeepSpeed's accelerator lines on import: CUDA at the job's node, CPU elsewhere."""
        if ctx.config.nodes == 1:  # the shell is on the job's node
            return [
                Say("start", "Setting ds_accelerator to cuda (auto detect)", "deepspeed", ACCEL)
            ]
        warn = (
            "Setting accelerator to CPU. If you have GPU or other accelerator, we were unable "
            "to detect it."
        )
        return [
            Say("start", warn, "deepspeed", NO_GPU, "WARNING"),
            Say("start", "Setting ds_accelerator to cpu (auto detect)", "deepspeed", ACCEL),
        ]


TERMINAL: Final = DeepSpeedTerminal()
