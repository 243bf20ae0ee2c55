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
from llmsim.generator.plan.layout import GPUS_PER_NODE, Layout, tp_allowed
from llmsim.generator.plan.profile import NcclDebug, StackProfile
from llmsim.trace.vocab import Launcher, RunKind

# torchtitan v0.2.0 (2025-10-17) on torch 2.9.0 (2025-10-15).
ERA: Final = Era("0.2.0", "2.9.0", "12.8", "2.27.5", "", 1_760_659_200.0, ("torchrun",))
# Catalogue model -> the llama3 flavor torchtitan trains it as (models/llama3/__init__.py).
FLAVORS: Final[dict[str, str]] = {
    "Llama-3-8B": "8B",
    "Llama-3-70B": "70B",
    "Llama-3.1-405B": "405B",
}
# Datasets torchtitan has registered (datasets/hf_datasets.py and a registered FineWeb-Edu),
# by the catalogue's short names, which are torchtitan's keys.
CORPORA: Final = ("c4", "fineweb_edu")


def flops_per_token(spec: ModelSpec, seq_len: int) -> float:
    """torchtitan's `num_flops_per_token` (models/utils.py, v0.2.0).

    6 x (parameters - embedding) + 12 x layers x heads x head_dim x seq_len: attention counted,
    causal sparsity not discounted, recomputation not counted.
    """
    dense = param_count(spec) - embedding_params(spec)
    return 6.0 * dense + 12.0 * spec.num_layers * spec.num_heads * spec.dim_per_head * seq_len


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
        """FSDP2, with TP 8 as the shipped 70B/405B configs use it (no PP)."""
        return [(tp, 1) for tp in (1, 8) if tp_allowed(spec, tp, gpus) and gpus % tp == 0]

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
