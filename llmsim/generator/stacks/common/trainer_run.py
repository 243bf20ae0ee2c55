"""A Hugging Face Trainer run's lines, from the launch to the end of train(): what the FSDP and
DeepSpeed runs share. Each names its launcher, how its process group comes up, its engine's
set-up, how it resumes and saves; the Trainer's own lines (common/trainer.py) are the same in
both, and the script's (an example-style train.py, run_clm.py's logic) too."""

from __future__ import annotations

from collections.abc import Mapping

from llmsim.generator.stacks.common import nccl, teardown, trainer
from llmsim.generator.stacks.common.run import StackRun
from llmsim.generator.stacks.context import Context


class TrainerRun(StackRun):
    """The Trainer's lines around the hooks each sharding fills in."""

    def init(self, ctx: Context) -> tuple[float, float, float]:
        """The launch, every process's start, the arguments, the model and data, the engine."""
        self.launch(ctx)
        workers = ctx.clock.tick(float(ctx.rng.uniform(3.0, 8.0)))  # imports in every worker
        ranks = self.worker_ranks(ctx)
        self.worker_start(ctx, ranks)
        self.process_group(ctx, ranks)
        trainer.process_warnings(ctx, ranks)
        trainer.arguments_dump(ctx, self.deepspeed_config(ctx), self.sharding_arguments(ctx))
        cache = trainer.cache_dir(ctx)
        trainer.load_tokenizer(ctx, cache)
        trainer.load_config(ctx, cache)
        trainer.weights_file(ctx, cache)
        self.model_context(ctx, ranks)
        trainer.generation_from_model(ctx)
        self.model_created(ctx)
        load0, _ = trainer.load_shards(ctx, cache, ranks)
        trainer.prepare_data(ctx, lambda main: self.first_barrier(ctx, ranks, main))
        trainer.half_precision(ctx)
        self.engine(ctx)
        if ctx.resume_step:
            self._resume(ctx)
        trainer.running_training(ctx)
        trainer.use_cache_warnings(ctx, ranks)
        return workers, load0, ctx.clock.t

    def _resume(self, ctx: Context) -> None:
        where = ctx.checkpoint_path(ctx.resume_step)
        self.resume_announce(ctx, where)
        span = ctx.plan.timings.load_s
        start = ctx.clock.t
        ctx.rows.progress(
            start, span, "init", "load_checkpoint", "Loading checkpoint", 1, "steps", 1
        )
        self.resume_load(ctx, where, span)
        ctx.clock.t = max(ctx.clock.t, start + span)

    def eval_begin(self, ctx: Context, step: int) -> None:
        """`***** Running Evaluation *****`."""
        trainer.eval_header(ctx, trainer.transformers_log(ctx, "eval"))

    def save(
        self, ctx: Context, step: int, seconds: float, last: bool, dropped: int | None
    ) -> None:
        """The save, then the rotation (save_total_limit)."""
        self.save_checkpoint(ctx, ctx.checkpoint_path(step), step, seconds)
        if dropped is not None:
            trainer.rotate(ctx, trainer.transformers_log(ctx, "checkpoint"), dropped)

    def finish(self, ctx: Context, runtime: float, train_loss: float) -> None:
        """The end of train(): the completion message and the metrics; then the interpreter's
        exit, where the process group nobody destroyed warns."""
        trainer.completed(ctx, trainer.transformers_log(ctx, "train"), runtime, train_loss)
        self.exit_warnings(ctx)

    def exit_warnings(self, ctx: Context) -> None:
        """The interpreter's exit: the process group nobody destroyed (common/teardown.py)."""
        teardown.destroy_warnings(ctx, self.worker_ranks(ctx))

    def script_args(self, ctx: Context) -> str:
        """The example script's arguments."""
        c = ctx.config
        return (
            f"--model_name_or_path {c.hub_id or c.model} --dataset_name {c.dataset} "
            f"--output_dir {c.output_dir} --bf16{self.extra_args(ctx)}"
            + (" --report_to wandb" if ctx.plan.flags.wandb else "")  # issue 21
        )

    # --- what each sharding fills in

    def launch(self, ctx: Context) -> None:
        """The launcher's lines before the workers start."""

    def worker_ranks(self, ctx: Context) -> list[int]:
        """The ranks whose lines reach the console shown."""
        return nccl.printing_ranks(ctx)

    def worker_start(self, ctx: Context, ranks: list[int]) -> None:
        """What each of those ranks prints as it starts, before the script's own lines."""

    def process_group(self, ctx: Context, ranks: list[int]) -> None:
        """What creating the process group prints (`training_args.should_log` sets up the
        devices first thing): nothing where NCCL comes up lazily, at the first collective."""

    def first_barrier(self, ctx: Context, ranks: list[int], main: bool) -> None:
        """main_process_first's barrier, entered by the replicas (`main` False) and then by
        the main process: the first collective."""

    def deepspeed_config(self, ctx: Context) -> str | None:
        """The --deepspeed config file the arguments name (None: none)."""
        return None

    def sharding_arguments(self, ctx: Context) -> Mapping[str, str] | None:
        """TrainingArguments the launch sets for the sharding, as __post_init__ leaves them."""
        return None

    def extra_args(self, ctx: Context) -> str:
        """Script arguments beyond the common ones (with a leading space)."""
        return ""

    def model_context(self, ctx: Context, ranks: list[int]) -> None:
        """What from_pretrained's init context prints before the model is built."""

    def model_created(self, ctx: Context) -> None:
        """What leaving the init context prints once the model is built."""

    def engine(self, ctx: Context) -> None:
        """The engine's set-up after the Trainer's (DeepSpeed's initialize)."""

    def resume_announce(self, ctx: Context, where: str) -> None:
        """The line naming the checkpoint the run resumes from."""

    def resume_load(self, ctx: Context, where: str, seconds: float) -> None:
        """The engine's lines while the checkpoint loads for `seconds`."""

    def save_checkpoint(self, ctx: Context, where: str, step: int, seconds: float) -> None:
        """The save's lines, taking `seconds`."""
