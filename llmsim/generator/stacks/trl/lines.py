"""What TRL's scripts print besides the Trainer's dicts (sources: TRL v0.24.0, PEFT 0.17.1,
accelerate 1.11.0; the scripts keep transformers at its default WARNING verbosity, so none of the
Trainer's `[INFO|...]` lines show).

- accelerate commands/launch.py:1128-1208: without a config file, the defaults it filled in
  (a WARNING through a logger with no handler: the bare message on stderr; items start with a
  TAB);
- the datasets `map` bars of the trainers' dataset preparation, rank 0 first
  (`main_process_first`): sft_trainer.py:917 `Converting {name} dataset to ChatML` (ShareGPT-
  style sets), :947 `Tokenizing {name} dataset`, :1045 `Packing {name} dataset`
  (`packing=True`); dpo_trainer.py:652/657/664 `Extracting prompt in`, `Applying chat template
  to`, `Tokenizing` (a bar keeps its last state, 10 cells as a log keeps it);
- peft_model.py:836-851 `print_trainable_parameters` (print, every rank: the runs' scripts are
  TRL's trl/scripts/{sft,dpo}.py with `trainer.model.print_trainable_parameters()` added after
  the trainer is built);
- trl/scripts/{sft,dpo,grpo}.py's end (`accelerator.print`, rank 0): `✅ Training completed.`,
  `💾 Model saved to {output_dir}.`.
"""

from __future__ import annotations

from typing import Final

from llmsim.generator.catalog.datasets import PREFERENCE_SETS, SFT_SETS, SftSet
from llmsim.generator.plan.adapters import lora_params, peft_line
from llmsim.generator.stacks.common.trainer import finished_bar
from llmsim.generator.stacks.context import Context

# SFT sets stored as ShareGPT-style `conversations` (from/value): converted to ChatML first.
SHAREGPT: Final = frozenset(
    {"teknium/OpenHermes-2.5", "Open-Orca/SlimOrca", "Magpie-Align/Magpie-Pro-300K-Filtered"}
)
TOKENIZE_RATE: Final = (1_500.0, 6_000.0)  # examples/s of one process (dataset_num_proc None)
# Seconds a `Dataset.map` call costs besides its examples (fingerprinting, the cache file, the
# first batch): a 28-example eval set takes ~20 ms, not 28 examples / 1 ms = "28000.00 examples/s".
MAP_OVERHEAD_S: Final = (0.008, 0.04)


def accelerate_defaults(ctx: Context) -> None:
    """`accelerate launch train.py` with neither a config file nor the flags: the defaults it
    used (one GPU: one process)."""
    log = ctx.logger("init", "plain")
    log.lines(
        [
            "The following values were not passed to `accelerate launch` and had defaults used "
            "instead:",
            f"\t`--num_processes` was set to a value of `{ctx.config.gpus}`",
            "\t`--num_machines` was set to a value of `1`",
            "\t`--mixed_precision` was set to a value of `'no'`",
            "\t`--dynamo_backend` was set to a value of `'no'`",
            "To avoid this warning pass in values for each of the problematic parameters or run "
            "`accelerate config`.",
        ],
        level="WARNING",
        dt=float(ctx.rng.uniform(0.8, 2.0)),
    )


def _dataset(ctx: Context) -> SftSet:
    table = PREFERENCE_SETS if ctx.config.kind == "dpo" else SFT_SETS
    return next((d for d in table if d.hub_id == ctx.config.dataset), table[0])


def dataset_bars(ctx: Context) -> None:
    """The trainer's dataset preparation, train then eval, as datasets' bars are left."""
    data = _dataset(ctx)
    c = ctx.config
    evals = max(1, c.eval_batches * c.micro_batch * c.dp * c.seq_len // max(1, data.mean_tokens))
    for name, n in (("train", data.examples), ("eval", evals)):
        for desc in _steps(ctx, data, name):
            took = n / float(ctx.rng.uniform(*TOKENIZE_RATE)) * (0.15 if "Packing" in desc else 1)
            took += float(ctx.rng.uniform(*MAP_OVERHEAD_S))
            ctx.clock.tick(took)
            ctx.init.info(finished_bar(desc, n, took, " examples"))


def _steps(ctx: Context, data: SftSet, name: str) -> list[str]:
    if ctx.config.kind == "dpo":
        return [
            f"Extracting prompt in {name} dataset",
            f"Applying chat template to {name} dataset",
            f"Tokenizing {name} dataset",
        ]
    out = [f"Converting {name} dataset to ChatML"] if data.hub_id in SHAREGPT else []
    return [*out, f"Tokenizing {name} dataset", f"Packing {name} dataset"]


def trainable(ctx: Context, ranks: list[int]) -> None:
    """PEFT's count, printed by each rank that calls it."""
    post = ctx.plan.choice.post
    if post is None or post.lora is None or ctx.config.adapter == "none":
        return
    n = lora_params(ctx.plan.choice.model, post.lora)
    line = peft_line(n, ctx.config.params + n)
    for _ in ranks:
        ctx.init.info(line, dt=float(ctx.rng.uniform(0.0, 0.05)))


def script_end(ctx: Context) -> None:
    """The script's last prints (rank 0)."""
    log = ctx.logger("train", "plain")
    log.info("✅ Training completed.", dt=0.05)
    seconds = float(ctx.rng.uniform(1.0, 4.0))
    log.info(f"💾 Model saved to {ctx.config.output_dir}.", dt=seconds)
