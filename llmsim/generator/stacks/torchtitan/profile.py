"""torchtitan v0.2.0 pretraining of its llama3 flavors (run_train.sh): FSDP2 with TP 8 for the
big flavors, torch.compile, its own FLOP count, a validation at step 1, saves before
validations, `step-N` checkpoints under ./outputs/checkpoint, the last step saving the model
only, and only rank 0's lines on the console (`--local-ranks-filter 0`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from llmsim.generator.catalog.architecture import ModelSpec, embedding_params, param_count
from llmsim.generator.catalog.exportform import TITAN_TO_HF
from llmsim.generator.catalog.software import Era
from llmsim.generator.plan.layout import GPUS_PER_NODE, Layout, Recompute, tp_allowed
from llmsim.generator.plan.profile import Benchmark, NcclDebug, StackProfile
from llmsim.trace.vocab import Launcher, RunKind

# torchtitan v0.2.0 (2025-10-17) on torch 2.9.0 (2025-10-15).
ERA: Final = Era("0.2.0", "2.9.0", "12.8", "2.27.5", "", 1_760_659_200.0, ("torchrun",))
# Catalogue model -> the llama3 flavor torchtitan trains it as (models/llama3/__init__.py).
FLAVORS: Final[dict[str, str]] = {
    "Llama-3-8B": "8B",
    "Llama-3-70B": "70B",
    "Llama-3.1-405B": "405B",
}
# Tensor-parallel degree of each flavor's shipped train config
# (models/llama3/train_configs/llama3_{8b,70b,405b}.toml at v0.2.0: 1, 8, 8).
SHIPPED_TP: Final[dict[str, int]] = {"8B": 1, "70B": 8, "405B": 8}
# Datasets torchtitan reads (datasets/hf_datasets.py registers c4; a lab registers FineWeb-Edu
# or FineWeb, the only one that holds a Llama 3 budget), by the catalogue's short names, which
# are torchtitan's keys.
CORPORA: Final = ("c4", "fineweb_edu", "fineweb")


def flops_per_token(spec: ModelSpec, seq_len: int) -> float:
    """torchtitan's `num_flops_per_token` (models/utils.py, v0.2.0).

    6 x (parameters - embedding) + 12 x layers x heads x head_dim x seq_len: attention counted,
    causal sparsity not discounted, recomputation not counted.
    """
    dense = param_count(spec) - embedding_params(spec)
    return 6.0 * dense + 12.0 * spec.num_layers * spec.num_heads * spec.dim_per_head * seq_len


# Its published bf16 figures (no Float8), on H100s of 96 GB HBM2e at the default 500 W (MFU
# against the SXM peak), and A100s.
_DEC24 = "benchmarks/llama3_h100_202412_torchtitan.md (v0.2.0)"
_ASYNC = "benchmarks/asyncTP_llama3_h100_2025-06_torchtitan.md (v0.2.0), vanilla TP"
_PERF = "docs/performance.md at 4d88a8a44 (2024-12-03)"
BENCHMARKS: Final = (
    Benchmark(
        label="Llama 3.1 8B, FSDP, selective AC",
        model="Llama-3-8B",
        gpu="H100",
        gpus=8,
        micro_batch=2,
        global_batch=16,
        seq_len=8192,
        recompute="selective",
        tokens_per_gpu=5762,
        source=_DEC24 + ", table 1",
    ),
    Benchmark(
        label="Llama 3.1 8B, FSDP, selective AC, compile",
        model="Llama-3-8B",
        gpu="H100",
        gpus=8,
        micro_batch=2,
        global_batch=16,
        seq_len=8192,
        recompute="selective",
        compiled=True,
        tokens_per_gpu=6667,
        source=_DEC24 + ", table 1",
    ),
    Benchmark(
        label="Llama 3.1 8B, FSDP, selective AC",
        model="Llama-3-8B",
        gpu="H100",
        gpus=128,
        micro_batch=2,
        global_batch=256,
        seq_len=8192,
        recompute="selective",
        tokens_per_gpu=5605,
        source=_DEC24 + ", table 3",
    ),
    Benchmark(
        label="Llama 3.1 8B, FSDP, selective AC, compile",
        model="Llama-3-8B",
        gpu="H100",
        gpus=128,
        micro_batch=2,
        global_batch=256,
        seq_len=8192,
        recompute="selective",
        compiled=True,
        tokens_per_gpu=6514,
        mfu=0.381,  # 6,514 x 57.9 GFLOP (num_flops_per_token at seq 8192) / 989 TFLOPS
        source=_DEC24 + ", table 3",
    ),
    Benchmark(
        label="Llama 3.1 70B, FSDP 32 x TP 8, full AC, compile",
        model="Llama-3-70B",
        gpu="H100",
        gpus=256,
        tp=8,
        micro_batch=16,
        global_batch=512,
        seq_len=8192,
        recompute="full",
        compiled=True,
        tokens_per_gpu=597.3,
        source=_ASYNC,
    ),
    Benchmark(
        label="Llama 3.1 405B, FSDP 16 x TP 8, full AC",
        model="Llama-3.1-405B",
        gpu="H100",
        gpus=128,
        tp=8,
        micro_batch=2,
        global_batch=32,
        seq_len=8192,
        recompute="full",
        tokens_per_gpu=109,
        mfu=0.290,
        source=_PERF,
    ),
    Benchmark(
        label="Llama 3 8B, FSDP, selective (op) AC",
        model="Llama-3-8B",
        gpu="A100",
        gpus=64,
        micro_batch=1,
        global_batch=64,
        seq_len=8192,
        recompute="selective",
        tokens_per_gpu=2973,
        mfu=0.582,
        source=_PERF,
    ),
    Benchmark(
        label="Llama 3 70B, FSDP, full AC",
        model="Llama-3-70B",
        gpu="A100",
        gpus=64,
        tp=8,  # published without TP (1D FSDP); its runs here keep the shipped TP 8
        micro_batch=1,
        global_batch=8,
        seq_len=8192,
        recompute="full",
        tokens_per_gpu=331,
        mfu=0.517,
        source=_PERF,
    ),
)


class TitanProfile(StackProfile):
    """torchtitan's flavors, layouts, counts and cadences."""

    def refusal(self, kind: RunKind, spec: ModelSpec) -> str | None:
        """Its llama3 flavors only, pretraining only."""
        if spec.name not in FLAVORS:
            return (
                f"torchtitan trains its llama3 flavors only (Llama-3-8B, Llama-3-70B, "
                f"Llama-3.1-405B), not {spec.name}"
            )
        if kind != "pretrain":
            return "torchtitan runs here are pretraining runs: use --kind pretrain"
        return None

    def seq_lens(self, kind: RunKind) -> tuple[int, ...]:
        """The shipped llama3 configs' seq_len."""
        return (8192,)

    def splits(self, spec: ModelSpec, gpus: int) -> list[tuple[int, int]]:
        """FSDP2, with the TP of the flavor's shipped config (8 for 70B and 405B; no PP)."""
        tp = SHIPPED_TP[FLAVORS[spec.name]]
        return [(tp, 1)] if tp_allowed(spec, tp, gpus) and gpus % tp == 0 else []

    def modes_for(self, spec: ModelSpec) -> tuple[tuple[int, Recompute], ...]:
        """The shipped configs' activation checkpointing: full for 70B and 405B (TP 8), the
        8B's selective (`op`) or full."""
        if SHIPPED_TP[FLAVORS[spec.name]] > 1:
            return tuple(m for m in self.modes if m[1] == "full")
        return self.modes

    def flops_per_token(self, spec: ModelSpec, seq_len: int, tp: int) -> float:
        """num_flops_per_token."""
        return flops_per_token(spec, seq_len)

    def strategy(self, layout: Layout) -> str:
        """`FSDP2 (dp_shard=N, tp=8)`."""
        dims = f"dp_shard={layout.dp}" + (f", tp={layout.tp}" if layout.tp > 1 else "")
        return f"FSDP2 ({dims})"

    def log_interval(self, step_s: float) -> int:
        """[metrics] log_freq: 10 by default, less for slow steps."""
        return 10 if step_s < 1.5 else 5 if step_s < 4 else 1

    def launch_env(self, nodes: int) -> Mapping[str, str]:
        """multinode_trainer.slurm exports LOGLEVEL=INFO and NCCL_DEBUG=WARN; run_train.sh
        sets neither (the agent logs at WARNING)."""
        return {"LOGLEVEL": "INFO", "NCCL_DEBUG": "WARN"} if nodes > 1 else {}

    def nccl_debug_levels(self, gpus: int, launcher: Launcher) -> tuple[NcclDebug, ...]:
        """Across nodes the Slurm script's WARN; on one node what the user sets before
        run_train.sh."""
        return ("WARN",) if gpus > GPUS_PER_NODE else ("INFO", "WARN")


PROFILE: Final = TitanProfile(
    name="torchtitan",
    era=ERA,
    weight=0.2,
    entrypoint="torchtitan.train",
    modes=((3, "selective"), (3, "full")),
    fragmentation=(0.02, 0.05),  # expandable segments fragment less
    selective_share=0.6,
    selective_extra=0.15,  # op-level selective AC recomputes every other matmul
    # Its own benchmarks (benchmarks/llama3_h100_202412_torchtitan.md, H100, bf16): Llama 3.1 8B
    # on 128 GPUs, FSDP, selective AC: 5,605 tok/s/GPU eager, 6,514 compiled; async TP off, so
    # most of a TP group's collectives are exposed (70B, FSDP 32 x TP 8: 597 tok/s/GPU).
    eager_overhead=0.41,
    compiled_overhead=0.23,
    tp_overlap=0.26,
    benchmarks=BENCHMARKS,
    corpora=CORPORA,
    evaluates_first_step=True,  # the Validator runs at step 1
    saves_before_eval=True,  # the loop saves, then validates
    last_save_model_only=True,  # last_save_model_only, in bf16
    window_mean_loss=False,  # prints the step's own loss
    checkpoint_pattern="step-{step}",
    checkpoints_under="./outputs/checkpoint",
    export_source_pattern="{path} (DCP)",
    export_form=TITAN_TO_HF,  # what its converter writes (issue 21)
    first_step_compile_s=(25.0, 70.0),
    compile_chance=0.7,
    rank0_only=True,  # run_train.sh: --local-ranks-filter 0
    agent_role="rank",  # --role rank
    torchrun_restarts=(0,),  # neither launch script passes --max-restarts
    rdzv_id="101",  # multinode_trainer.slurm's --rdzv_id
    rdzv_by_ip=True,  # ... and --rdzv_endpoint "$head_node_ip:29500"
)
