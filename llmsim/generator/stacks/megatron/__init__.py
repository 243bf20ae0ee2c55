"""Megatron-LM (stack `megatron`). Its profile (profile.py: what the plan asks) and its run (run.py: what it prints)."""

from llmsim.generator.stacks.megatron.profile import PROFILE
from llmsim.generator.stacks.megatron.run import RUN

__all__ = ["PROFILE", "RUN"]
