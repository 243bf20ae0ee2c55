"""The shell around a torchtitan job: `run_train.sh` with its config (bash's xtrace of the
script first), or `multinode_trainer.slurm` submitted across nodes; then torchtitan's DCP to
Hugging Face conversion of the last (model-only) checkpoint; W&B from rank 0.

Sources (torchtitan v0.2.0): `run_train.sh` (`set -ex`; the xtrace lines as bash 5.2 prints
them), `multinode_trainer.slurm` (`echo Node IP: $head_node_ip`, output to slurm-%j.out),
`scripts/checkpoint_conversion/convert_to_hf.py` (prints nothing itself; torch's DCP warns
once when loading and once when saving in a single process: `utils.py:483`, from a January
2026 capture), `components/metrics.py:133-152` (`wandb.init(project=$WANDB_PROJECT or
"torchtitan", name=$WANDB_RUN_NAME, dir=<dump_folder>/tb/%Y%m%d-%H%M)`, then `WandB logging
enabled`; without a name W&B's server names the run) and `:410-472` (the keys it logs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

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
from llmsim.generator.stacks.common.torchlines import python_warning
from llmsim.generator.stacks.common.wandb import History, WandbRun
from llmsim.generator.stacks.context import Context
from llmsim.generator.stacks.torchtitan.lines import WANDB_SWITCH, overrides
from llmsim.generator.stacks.torchtitan.profile import FLAVORS

CONFIGS: Final = "./torchtitan/models/llama3/train_configs"
ASSETS: Final = {"8B": "Llama-3.1-8B", "70B": "Llama-3.1-70B", "405B": "Llama-3.1-405B"}
DCP_WARNING: Final = (  # torch/distributed/checkpoint/utils.py:483 (torch 2.9.0)
    "UserWarning: torch.distributed is disabled, unavailable or uninitialized, assuming the "
    "intent is to {what} in a single process."
)


class TitanTerminal(StackTerminal):
    """run_train.sh (or multinode_trainer.slurm), convert_to_hf.py, W&B from rank 0."""

    folder = "torchtitan"
    wandb_after = "Building llama3"  # build_metrics_processor follows the model's build
    wandb_before = "Process group destroyed"  # trainer.close() finishes the W&B run first
    wandb_rank = 0  # --local-ranks-filter 0 --role rank --tee 3

    def launch(self, ctx: Context, script_args: str) -> Launch:
        """The config's flavor and the run's overrides (lines.overrides, W&B's switch among
        them) after run_train.sh, whose xtrace is the job's first output (run.py). Across
        nodes the overrides are in the edited Slurm script, W&B's switch typed."""
        c = ctx.config
        flavor = FLAVORS.get(c.model, "8B").lower()
        config = f"{CONFIGS}/llama3_{flavor}.toml"
        if c.nodes > 1:
            switch = f" {WANDB_SWITCH}" if ctx.plan.flags.wandb else ""
            submitted = batch(ctx, f"multinode_trainer.slurm{switch}", "torchtitan_multi_node")
            assert submitted.submit is not None
            return Launch(
                submitted.run,
                Command(f"CONFIG_FILE={config} {submitted.submit.text}", "sbatch"),
                submitted.job_id,
                (f"Node IP: {ctx.ip(0)}",),
            )
        extra = f" {overrides(ctx)}".rstrip()
        return Launch(Command(f"CONFIG_FILE={config} ./run_train.sh{extra}", "bash"))

    def tty(self, launch: Launch) -> bool:
        """torchrun's --tee pipes the workers' output."""
        return False

    def converter(
        self, ctx: Context, out: str, files: Sequence[tuple[str, int]]
    ) -> Converter | None:
        """convert_to_hf.py of the last (model-only) checkpoint, with the flavor's HF assets."""
        c = ctx.config
        flavor = FLAVORS.get(c.model, "8B")
        ckpt = ctx.checkpoint_path(c.total_steps).removeprefix("./")
        command = (
            f"python ./scripts/checkpoint_conversion/convert_to_hf.py {ckpt} "
            f"{out.removeprefix('./')} --hf_assets_path ./assets/hf/{ASSETS.get(flavor, flavor)} "
            f"--model_name llama3 --model_flavor {flavor}"
        )
        says = []
        for stage, what in (("start", "load"), ("prepare", "save")):
            warning = DCP_WARNING.format(what=what)
            for line in python_warning(
                "distributed/checkpoint/utils.py", 483, warning, "return func(*args, **kwargs)"
            ):
                says.append(Say(stage, line))
        return Converter(Command(command, python_window(ctx)), tuple(says))

    def wandb_run(self, ctx: Context) -> WandbRun:
        """Named by W&B's server; its folder the metrics' dump folder of the moment."""
        term = ctx.plan.terminal
        adjective, noun, n = term.wandb_words
        cwd = self.cwd(ctx)
        return WandbRun(
            term.user,
            term.wandb_entity,
            "torchtitan",
            f"{adjective}-{noun}-{n}",
            term.wandb_id,
            f"{cwd}/outputs/tb",
            cwd,
            "%Y%m%d-%H%M",  # <dump_folder>/<save_tb_folder>/%Y%m%d-%H%M
        )

    def wandb_start(self, ctx: Context) -> tuple[list[Said], list[Said]]:
        """torchtitan's logger after wandb.init returns."""
        return [], [Said("titan", "WandB logging enabled", "root")]

    def wandb_history(self, ctx: Context, logged: Logged) -> History:
        """The MetricsProcessor's keys at every logged step, the Validator's at each
        validation."""
        mem = logged.step("mem_gib")
        pct = logged.step("mem_pct")
        active = [m * 0.94 for m in mem]  # allocated peak under the reserved one
        loss = logged.step("loss")
        n = len(loss)
        h = History(
            ints=frozenset({"memory/num_alloc_retries", "memory/num_ooms", "n_tokens_seen"})
        )
        h.add("grad_norm", logged.step("grad_norm"))
        h.add("loss_metrics/global_avg_loss", loss)
        h.add("loss_metrics/global_max_loss", [x * 1.012 for x in loss])
        h.add("lr", logged.step("lr"))
        h.add("memory/max_active(%)", [p * 0.94 for p in pct])
        h.add("memory/max_active(GiB)", active)
        h.add("memory/max_reserved(%)", pct)
        h.add("memory/max_reserved(GiB)", mem)
        h.add("memory/num_alloc_retries", [0] * n)
        h.add("memory/num_ooms", [0] * n)
        h.add("mfu(%)", [100 * m for m in logged.step("mfu")])
        h.add("n_tokens_seen", logged.step("tokens"))
        h.add("tflops", logged.step("tflops"))
        h.add("throughput(tps)", logged.step("tokens_per_s_gpu"))
        h.add("time_metrics/data_loading(%)", [0.4] * n)
        h.add("time_metrics/data_loading(s)", [0.004 * t for t in logged.step("step_time")])
        h.add("time_metrics/end_to_end(s)", logged.step("step_time"))
        evals = logged.eval("val_loss")
        h.add("validation_metrics/loss", evals)
        h.add("validation_metrics/throughput(tps)", logged.eval("samples_per_s"))
        h.add(
            "validation_metrics/memory/max_active(GiB)",
            [active[-1] if active else 0.0] * len(evals),
        )
        h.add(
            "validation_metrics/memory/max_active(%)", [pct[-1] * 0.94 if pct else 0.0] * len(evals)
        )
        h.add("validation_metrics/memory/max_reserved(GiB)", [mem[-1] if mem else 0.0] * len(evals))
        h.add("validation_metrics/memory/max_reserved(%)", [pct[-1] if pct else 0.0] * len(evals))
        return h


TERMINAL: Final = TitanTerminal()
