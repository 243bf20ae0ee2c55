"""The shell around a Hugging Face Trainer job (FSDP or DeepSpeed): its folder, and how its
WandbCallback logs to W&B.

transformers 4.57.1 `integrations/integration_utils.py`: `setup` (on_train_begin, on the main
process) logs `Automatic Weights & Biases logging enabled...` (line 867) and calls
`wandb.init(project=$WANDB_PROJECT or "huggingface", name=args.run_name)`; `on_log` logs every
dict the Trainer logs under `train/` or `eval/` (rewrite_logs) with `train/global_step`, except
the single values of the final metrics (train_runtime, train_samples_per_second,
train_steps_per_second, train_loss, total_flos), which go to the run summary.
"""

from __future__ import annotations

import ast

from llmsim.generator.stacks.common.terminal import Logged, Said, StackTerminal
from llmsim.generator.stacks.common.trainer import total_flos
from llmsim.generator.stacks.common.wandb import History
from llmsim.generator.stacks.context import Context

SINGLE_VALUES = (
    "train_runtime",
    "train_samples_per_second",
    "train_steps_per_second",
    "train_loss",
)


class TrainerTerminal(StackTerminal):
    """The Trainer's W&B integration; the FSDP and DeepSpeed terminals add launch and export."""

    folder = "llm-finetune"

    def wandb_start(self, ctx: Context) -> tuple[list[Said], list[Said]]:
        """The callback's own INFO line before wandb.init's."""
        enabled = (
            "Automatic Weights & Biases logging enabled, to disable set "
            'os.environ["WANDB_DISABLED"] = "true"'
        )
        return [Said("hf", enabled, "integration_utils.py:867")], []

    def wandb_history(self, ctx: Context, logged: Logged) -> History:
        """train/* every logged step, eval/* every evaluation (both with the epoch and global
        step, in time order), the final metrics' epoch and step, and its single values."""
        c = ctx.config
        h = History(ints=frozenset({"train/global_step"}))
        h.add("train/loss", logged.step("loss"))
        h.add("train/grad_norm", logged.step("grad_norm"))
        h.add("train/learning_rate", logged.step("lr"))
        h.add("eval/loss", logged.eval("val_loss"))
        h.add("eval/runtime", [round(x, 4) for x in logged.eval("elapsed")])
        h.add("eval/samples_per_second", [round(x, 3) for x in logged.eval("samples_per_s")])
        h.add("eval/steps_per_second", [round(x, 3) for x in logged.eval("steps_per_s")])
        both = sorted(
            [
                *zip(
                    logged.step("t"),
                    logged.step("epoch_progress"),
                    logged.step("step"),
                    strict=True,
                ),
                *zip(
                    logged.eval("t"),
                    logged.eval("epoch_progress"),
                    logged.eval("step"),
                    strict=True,
                ),
            ]
        )
        h.add("train/epoch", [e for _, e, _ in both] + [c.total_steps / c.steps_per_epoch])
        h.add("train/global_step", [s for _, _, s in both] + [c.total_steps])
        h.singles["total_flos"] = total_flos(ctx)
        h.singles.update(_final_metrics(logged.finish))
        return h


def _final_metrics(lines: list[str]) -> dict[str, float]:
    """The single values of the metrics dict the Trainer printed at the end (the same dict
    on_log hands the callback)."""
    for text in lines:
        if text.startswith("{'train_runtime'"):
            try:
                metrics = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                return {}
            return {k: float(metrics[k]) for k in SINGLE_VALUES if k in metrics}
    return {}
