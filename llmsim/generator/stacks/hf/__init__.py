"""The Hugging Face Trainer with FSDP (stack `hf`). Its profile (profile.py: what the plan asks) and its run (run.py: what it prints)."""

from llmsim.generator.stacks.hf.profile import PROFILE
from llmsim.generator.stacks.hf.run import RUN

__all__ = ["PROFILE", "RUN"]
