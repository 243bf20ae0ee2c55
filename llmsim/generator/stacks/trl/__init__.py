"""TRL's trainers (SFT with PEFT LoRA/QLoRA, DPO, GRPO with vLLM) on the HF Trainer, launched by
`accelerate launch` (stack `trl`). Its profile (profile.py: what the plan asks) and its run
(run.py: what it prints)."""

from llmsim.generator.stacks.trl.profile import PROFILE
from llmsim.generator.stacks.trl.run import RUN

__all__ = ["PROFILE", "RUN"]
