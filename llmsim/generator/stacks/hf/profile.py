"""The Hugging Face Trainer with FSDP (transformers 4.57.1, accelerate 1.11.0), launched by
torchrun: `--fsdp "full_shard auto_wrap"`, sharded state dicts saved through accelerate."""

from __future__ import annotations

from typing import Final

from llmsim.generator.catalog.exportform import MERGE_WEIGHTS
from llmsim.generator.catalog.software import Era
from llmsim.generator.plan.layout import Layout
from llmsim.generator.stacks.common.trainer_profile import TrainerProfile
from llmsim.trace.vocab import Launcher

# transformers 4.57.1 (2025-10-14), accelerate 1.11.0 (2025-10-20) on torch 2.8.0. torchrun for
# several GPUs (what the run prints: torch's OMP banner, which `accelerate launch` silences by
# setting OMP_NUM_THREADS; torchrun's traceback) and FSDP through the Trainer's `--fsdp`;
# `accelerate launch` for one GPU, a single process without FSDP.
ERA: Final = Era(
    "1.11.0", "2.8.0", "12.8", "2.27.3", "4.57.1", 1_760_918_400.0, ("torchrun", "accelerate")
)


class FsdpProfile(TrainerProfile):
    """FSDP FULL_SHARD over every rank."""

    def launchers(self, gpus: int) -> tuple[Launcher, ...]:
        """One GPU needs no torchrun: `accelerate launch` runs the script as one process (no
        process group, no FSDP)."""
        return ("accelerate",) if gpus == 1 else ("torchrun",)

    def strategy(self, layout: Layout) -> str:
        """`FSDP FULL_SHARD over N ranks`."""
        return f"FSDP FULL_SHARD over {layout.dp} ranks"


PROFILE: Final = FsdpProfile(
    name="hf",
    era=ERA,
    weight=0.25,
    modes=((3, "full"),),
    export_source_pattern="{path}/pytorch_model_fsdp_0 (FSDP sharded)",
    export_form=MERGE_WEIGHTS,  # what its converter writes (issue 21)
)
