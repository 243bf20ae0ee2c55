"""The Hugging Face Trainer with DeepSpeed ZeRO (stack `hf-deepspeed`). Its profile (profile.py: what the plan asks) and its run (run.py: what it prints)."""

from llmsim.generator.stacks.hf_deepspeed.profile import PROFILE
from llmsim.generator.stacks.hf_deepspeed.run import RUN

__all__ = ["PROFILE", "RUN"]
