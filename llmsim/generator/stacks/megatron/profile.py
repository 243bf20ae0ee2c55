"""Megatron-LM core_v0.15.0 pretraining (pretrain_gpt.py): TP x PP x DP with the distributed
optimizer, srun across nodes (torchrun on one), its own FLOP count, `iter_NNNNNNN` checkpoints
under `--save`, a save/evaluation interval of 30 min to 2 h of work, no line at step 1, and the
post-loop save and `on validation set` evaluation at the last iteration."""

from __future__ import annotations

from typing import Final

import numpy as np

from llmsim.generator.catalog.architecture import ModelSpec
from llmsim.generator.catalog.exportform import BRIDGE_EXPORT
from llmsim.generator.catalog.software import Era
from llmsim.generator.plan.layout import (
    GPUS_PER_NODE,
    PP_CHOICES,
    TP_CHOICES,
    Layout,
    Sharding,
    stage_split,
    tp_allowed,
)
from llmsim.generator.plan.profile import Benchmark, StackProfile
from llmsim.generator.plan.schedule import MIN_WINDOW, nice
from llmsim.generator.stacks.megatron import counts
from llmsim.trace.vocab import Launcher, RunKind

# Megatron core_v0.15.0 (2025-12-05) on torch 2.9.1 (2025-11-12); HF tokenizer via transformers.
ERA: Final = Era(
    "0.15.0", "2.9.1", "12.8", "2.27.5", "4.57.1", 1_764_892_800.0, ("torchrun", "srun")
)
ENTRYPOINT: Final = "pretrain_gpt.py"
# The weak-scaling table of README.md (core_v0.15.0, images/model_table.png): GPT models with a
# 131,072 vocabulary at sequence length 4096 on H100s, data parallel 48, TE kernels with DP, TP
# and PP overlap, "throughputs include all operations". (label, heads, hidden, layers, TP, PP,
# batch, MFU); the 70B is the catalogue's nearest model for the planner's own figure.
_TABLE: Final = (
    ("1.7B", 16, 2048, 24, 1, 1, 192, 0.41),
    ("7.1B", 32, 4096, 30, 2, 1, 192, 0.47),
    ("16B", 48, 6144, 32, 4, 1, 192, 0.49),
    ("32B", 56, 7168, 48, 8, 1, 192, 0.46),
    ("70B", 64, 8192, 84, 8, 2, 384, 0.42),
    ("119B", 80, 10240, 92, 8, 4, 768, 0.43),
    ("177B", 96, 12288, 96, 8, 6, 1152, 0.44),
    ("314B", 128, 16384, 96, 8, 8, 1536, 0.48),
    ("462B", 144, 18432, 112, 8, 16, 3072, 0.47),
)
BENCHMARKS: Final = tuple(
    Benchmark(
        label=f"GPT {label}, TP {tp} x PP {pp} x DP 48",
        model=f"GPT-{label}",
        gpu="H100",
        gpus=tp * pp * 48,
        tp=tp,
        pp=pp,
        micro_batch=1,
        global_batch=batch,
        seq_len=4096,
        recompute="none",
        mfu=mfu,
        source="README.md and images/model_table.png (core_v0.15.0)",
        gpt=(hidden, layers, heads),
    )
    for label, heads, hidden, layers, tp, pp, batch, mfu in _TABLE
)


class MegatronProfile(StackProfile):
    """Megatron's layouts, counts and cadences."""

    def refusal(self, kind: RunKind, spec: ModelSpec) -> str | None:
        """Pretraining only (any catalogue model: it has Llama, Mistral and Qwen2 presets)."""
        if kind == "pretrain":
            return None
        return "Megatron-LM runs here are pretraining runs: use --kind pretrain or an hf stack"

    def splits(self, spec: ModelSpec, gpus: int) -> list[tuple[int, int]]:
        """Every TP inside a node and PP with whole (or Megatron's uneven) stages."""
        out = []
        for tp in TP_CHOICES:
            for pp in PP_CHOICES:
                if not tp_allowed(spec, tp, gpus) or gpus % (tp * pp):
                    continue
                if stage_split(spec.num_layers, pp) is None or spec.num_layers < 2 * pp:
                    continue
                out.append((tp, pp))
        return sorted(out, key=lambda c: (c[0] * c[1], c[1]))

    def sharding(self, layout: Layout) -> Sharding:
        """The distributed optimizer shards the optimizer state only."""
        return "dist_opt"

    def rank_params(self, spec: ModelSpec, layout: Layout, stage: int) -> int:
        """What a (tensor, pipeline) rank holds, as Megatron counts it."""
        first, last = stage == 0, stage == layout.pp - 1
        return counts.rank_params(spec, layout.tp, layout.stage_layers[stage], first, last)

    def flops_per_token(self, spec: ModelSpec, seq_len: int, tp: int) -> float:
        """num_floating_point_operations per token, over the padded vocabulary."""
        return counts.flops_per_token(spec, seq_len, counts.padded_vocab(spec.vocab_size, tp))

    def strategy(self, layout: Layout) -> str:
        """`Megatron TP=.. PP=.. DP=.. (distributed optimizer)`."""
        return f"Megatron TP={layout.tp} PP={layout.pp} DP={layout.dp} (distributed optimizer)"

    def log_interval(self, step_s: float) -> int:
        """--log-interval: every iteration when they are slow, else every ~10 s."""
        return 1 if step_s >= 2.5 else nice(10.0 / step_s)

    def save_interval(self, log: int, step_s: float, rng: np.random.Generator) -> int:
        """--save-interval (= --eval-interval) of a long run: every 30 min to 2 h of work."""
        minutes = float(rng.uniform(30.0, 120.0))
        every = nice(minutes * 60.0 / step_s)
        return max(log, -(-every // log) * log)

    def align_window(
        self, resume: int, window: int, every: int, log: int, fixed: bool, rng: np.random.Generator
    ) -> tuple[int, int]:
        """(resume step, window) of a trace whose window shows an interval boundary.

        A window shorter than the save interval starts after the checkpoint the previous job
        wrote when --exit-duration-in-mins ran out, and holds one regular evaluation and save; a
        longer one resumes from a regular save. The resume step stays on the log grid, a window
        the user did not fix too, and the last iteration is never a multiple of the interval:
        the run ends with the post-loop save and the `on validation set` evaluation only.
        """
        if not fixed:  # on the log grid, never under the fewest steps a trace shows
            near = round(window / log) * log
            window = near if near >= MIN_WINDOW else -(-max(window, MIN_WINDOW) // log) * log
        if window > every:
            if (resume + window) % every == 0:
                if fixed:  # the previous job stopped one log window past the save
                    resume += log
                else:
                    window -= log
            return resume, window
        before = int(window * float(rng.uniform(0.3, 0.7))) // log * log
        if not 0 < before < window:  # a log window as long as the whole trace
            before = max(1, window // 2)
        boundary = max(every * (-(-window // every)), resume + every)
        return boundary - before, window

    def launchers(self, gpus: int) -> tuple[Launcher, ...]:
        """One node needs no Slurm step: torchrun."""
        return ("torchrun",) if gpus <= GPUS_PER_NODE else self.era.launchers


PROFILE: Final = MegatronProfile(
    name="megatron",
    era=ERA,
    weight=0.35,
    entrypoint=ENTRYPOINT,
    modes=((1, "none"), (1, "selective"), (1, "full")),
    logit_bytes=6.0,  # fused vocab-parallel cross entropy
    # Transformer Engine's fused kernels are the reference (eager_overhead 0); --tp-comm-overlap
    # hides about half of the sequence-parallel collectives (README core_v0.15.0's table).
    tp_overlap=0.55,
    benchmarks=BENCHMARKS,
    eval_global_batch=True,  # an eval iteration runs a whole global batch through the pipeline
    logs_first_step=False,
    evaluates_after_loop=True,
    window_evals=2,  # one in the window, one after the loop
    min_eval_batches=2,  # --eval-iters, each a full global batch
    loss_decimals=6,  # `lm loss` as .6E: a 7-digit mantissa
    checkpoint_pattern="iter_{step:07d}",
    checkpoints_under="{output_dir}/checkpoints",
    export_source_pattern="{path} (torch_dist)",
    startup_extra_s=20.0,  # compiling the dataset helpers and fused kernels, TE
    straggler_report_chance=0.6,  # --log-straggler
    export_form=BRIDGE_EXPORT,  # Megatron-Bridge's export (issue 21)
)
