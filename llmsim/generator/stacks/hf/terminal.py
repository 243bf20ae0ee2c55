"""The shell around an FSDP Trainer job: torchrun typed at the node (an sbatch script across
nodes), then accelerate's merge of the last sharded checkpoint.

accelerate 1.11.0 `commands/merge.py`: `accelerate merge-weights <checkpoint_directory>
<output_path>`; `utils/fsdp_utils.py:merge_fsdp_weights` writes one `model.safetensors` and
logs its two INFO lines only where ACCELERATE_LOG_LEVEL is set: on a terminal it prints nothing
(the command, a silent pause, the prompt).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from llmsim.generator.stacks.common.shell import Command
from llmsim.generator.stacks.common.terminal import Converter, python_window
from llmsim.generator.stacks.common.trainer_terminal import TrainerTerminal
from llmsim.generator.stacks.context import Context


class FsdpTerminal(TrainerTerminal):
    """torchrun (or sbatch) and accelerate merge-weights."""

    def converter(
        self, ctx: Context, out: str, files: Sequence[tuple[str, int]]
    ) -> Converter | None:
        """`accelerate merge-weights` of the last checkpoint's sharded model: no output."""
        ckpt = ctx.checkpoint_path(ctx.config.total_steps).removeprefix("./")
        command = f"accelerate merge-weights {ckpt}/pytorch_model_fsdp_0 {out.removeprefix('./')}"
        return Converter(Command(command, python_window(ctx)))


TERMINAL: Final = FsdpTerminal()
