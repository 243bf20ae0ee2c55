"""The Hugging Face Trainer with DeepSpeed ZeRO-3 or ZeRO-2 (DeepSpeed 0.18.0, transformers
4.57.1), launched by the deepspeed runner (srun across nodes)."""

from __future__ import annotations

from typing import Final

from llmsim.generator.catalog.exportform import ZERO_TO_FP32
from llmsim.generator.catalog.software import Era
from llmsim.generator.plan.layout import Layout, Sharding
from llmsim.generator.stacks.common.trainer_profile import TrainerProfile

# DeepSpeed 0.18.0 (2025-10-07) with transformers 4.57.1 on torch 2.8.0.
ERA: Final = Era("0.18.0", "2.8.0", "12.8", "2.27.3", "4.57.1", 1_760_400_000.0, ("deepspeed",))


class DeepSpeedProfile(TrainerProfile):
    """ZeRO-3 or ZeRO-2 over every rank."""

    def sharding(self, layout: Layout) -> Sharding:
        """ZeRO's stage decides what is sharded."""
        return "zero3" if layout.zero_stage == 3 else "zero2"

    def strategy(self, layout: Layout) -> str:
        """`DeepSpeed ZeRO-3 over N ranks`."""
        return f"DeepSpeed ZeRO-{layout.zero_stage} over {layout.dp} ranks"


PROFILE: Final = DeepSpeedProfile(
    name="hf-deepspeed",
    era=ERA,
    weight=0.2,
    modes=((3, "full"), (2, "full")),
    export_source_pattern="{path}/global_step{step} (ZeRO-{zero})",
    export_form=ZERO_TO_FP32,  # what its converter writes (issue 21)
)
