"""The shell around a Megatron-LM job: an sbatch script run in the NGC container (pyxis) across
nodes, its own launch script on one node, then Megatron-Bridge's export of the last checkpoint
to Hugging Face files; W&B on the last rank.

Sources: Megatron-LM core_v0.15.0 `megatron/training/global_vars.py:165-213` (`> setting
tensorboard ...`, then wandb.init on the last rank with `--wandb-exp-name` as the name and
`<--save>/wandb` as its folder), `training.py:1467-1618` (with `--tensorboard-dir`, every
iteration logs `samples vs steps`, `learning-rate`, `batch-size`, `lm loss`, `loss-scale`,
`grad-norm`; an evaluation `lm loss validation`), `training.py:804` (wandb's finish after the
last evaluation). Megatron-Bridge v0.2.0 `examples/conversion/convert_checkpoints.py:139-204`
(the export's lines) and `models/conversion/model_bridge.py:358-367` (its rich bar: description,
a 40-cell bar, percentage, time remaining, `(done/total)`, the bridge's class name). The
example asks for the `run_config.yaml` that Bridge-run training writes beside each iteration;
these runs are shown with it (docs/screen.md says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from llmsim.generator.stacks.common.shell import Command, Launch
from llmsim.generator.stacks.common.terminal import (
    Converter,
    Logged,
    Said,
    Say,
    StackTerminal,
    batch,
    python_window,
)
from llmsim.generator.stacks.common.wandb import History, WandbRun
from llmsim.generator.stacks.context import Context

CONTAINER_CWD: Final = "/workspace/megatron-lm"  # the NGC container's Megatron-LM checkout
BRIDGES: Final = {"llama": "LlamaBridge", "qwen2": "Qwen2Bridge", "mistral": "MistralBridge"}
BAR_CELLS: Final = 40  # rich's BarColumn default width


class MegatronTerminal(StackTerminal):
    """sbatch (or its launch script), Megatron-Bridge's export, W&B on the last rank."""

    folder = "Megatron-LM"
    containerised = True
    wandb_after = " > padded vocab"  # set_global_variables: the tokenizer, then the writers
    wandb_every_step = True  # --tensorboard-log-interval 1

    def launch(self, ctx: Context, script_args: str) -> Launch:
        """`sbatch pretrain_<model>.sbatch` and its log; on one node `bash pretrain_<model>.sh`."""
        model = ctx.config.model.lower()
        if ctx.config.nodes > 1:
            job = f"pretrain-{model}"
            return batch(ctx, f"pretrain_{model}.sbatch", job, "logs/{job}-{id}.out")
        return Launch(Command(f"bash pretrain_{model}.sh", "bash"))

    def tty(self, launch: Launch) -> bool:
        """srun pipes every task's output: only the one-node script writes to a terminal."""
        return not launch.batch

    def converter(
        self, ctx: Context, out: str, files: Sequence[tuple[str, int]]
    ) -> Converter | None:
        """Megatron-Bridge's example export, from its checkout beside Megatron-LM's."""
        c = ctx.config
        save = ctx.checkpoint_dir.removeprefix("./")
        last = ctx.checkpoint_path(c.total_steps).removeprefix("./")  # the latest iteration
        dest = out.removeprefix("./")
        hf = c.hub_id or f"./hf/{c.model}"
        command = (
            "python ../Megatron-Bridge/examples/conversion/convert_checkpoints.py export "
            f"--hf-model {hf} --megatron-path {save} --hf-path {dest}"
        )
        tasks = 6 * c.layers + (2 if c.tied_embeddings else 3)
        bridge = BRIDGES.get(c.family, "LlamaBridge")
        rng = np.random.default_rng([c.seed, 16])  # the folder's listing order (os.iterdir)
        listed = [files[int(i)][0] for i in rng.permutation(len(files))]
        says = [
            Say("start", f"🔄 Starting export: {save} -> {dest}"),
            Say("start", f"📂 Found Megatron checkpoint: {save}"),
            Say("start", f"📋 Found configuration: {last}/run_config.yaml"),
            Say("gather", "📤 Exporting to HuggingFace format..."),
            Say(
                "write",
                f"Converting to HuggingFace {'━' * BAR_CELLS} 100% 0:00:00 ({tasks}/{tasks}) "
                f"{bridge}",
            ),
            Say("files", f"✅ Successfully exported model to: {dest}"),
            Say("files", "📁 Export structure:"),
            *(Say("files", f"   📄 {name}") for name in listed),
            Say("files", "🔍 You can now load this model with:"),
            Say("files", "   from transformers import AutoModelForCausalLM"),
            Say("files", f"   model = AutoModelForCausalLM.from_pretrained('{dest}')"),
        ]
        return Converter(Command(command, python_window(ctx)), tuple(says))

    def wandb_run(self, ctx: Context) -> WandbRun:
        """--wandb-exp-name (the job's name), its project, `<--save>/wandb` in the container."""
        term, c = ctx.plan.terminal, ctx.config
        save = ctx.checkpoint_dir.removeprefix("./")
        return WandbRun(
            term.user,
            term.wandb_entity,
            f"{c.family}-pretrain",
            c.name,
            term.wandb_id,
            f"{CONTAINER_CWD}/{save}/wandb",
            CONTAINER_CWD,
        )

    def wandb_start(self, ctx: Context) -> tuple[list[Said], list[Said]]:
        """The TensorBoard writer first (W&B's metrics are logged where it is)."""
        return [Said("plain", "> setting tensorboard ...")], []

    def wandb_history(self, ctx: Context, logged: Logged) -> History:
        """Every iteration's scalars, and each validation's loss."""
        c = ctx.config
        steps = logged.step("step")
        h = History(ints=frozenset({"batch-size", "samples vs steps"}))
        h.add("samples vs steps", [s * c.global_batch for s in steps])
        h.add("learning-rate", logged.step("lr"))
        h.add("batch-size", [c.global_batch] * len(steps))
        h.add("lm loss", logged.step("loss"))
        h.add("loss-scale", [1.0] * len(steps))
        h.add("grad-norm", logged.step("grad_norm"))
        h.add("lm loss validation", logged.eval("val_loss"))
        return h


TERMINAL: Final = MegatronTerminal()
