"""The Hugging Face Trainer with DeepSpeed ZeRO-3 or ZeRO-2 (DeepSpeed 0.17.5, transformers
4.57.1), launched by the deepspeed runner (srun across nodes)."""

from __future__ import annotations

from typing import Final

from llmsim.generator.catalog.exportform import ZERO_TO_FP32
from llmsim.generator.catalog.software import Era
from llmsim.generator.plan.layout import GPUS_PER_NODE, Layout, Sharding
from llmsim.generator.stacks.common.trainer_profile import TrainerProfile
from llmsim.trace.vocab import Launcher

# DeepSpeed 0.17.5 (2025-08-19: the last release whose logger prints INFO in a Trainer run, see
# hf_deepspeed/deepspeed.py) with transformers 4.57.1 (2025-10-14, the newest of the set) on
# torch 2.8.0.
ERA: Final = Era("0.17.5", "2.8.0", "12.8", "2.27.3", "4.57.1", 1_760_400_000.0, ("deepspeed",))


class DeepSpeedProfile(TrainerProfile):
    """ZeRO-3 or ZeRO-2 over every rank."""

    def sharding(self, layout: Layout) -> Sharding:
        """ZeRO's stage decides what is sharded."""
        return "zero3" if layout.zero_stage == 3 else "zero2"

    def merged_output(self, gpus: int, launcher: Launcher) -> bool:
        """Across nodes the runner launches through srun (`--launcher slurm`): every rank's
        output merged."""
        return launcher == "srun" or (launcher == "deepspeed" and gpus > GPUS_PER_NODE)

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
