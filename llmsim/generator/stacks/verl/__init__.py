"""verl's PPO trainer running GRPO on Ray, vLLM rollout and FSDP training (stack `verl`). Its
profile (profile.py: what the plan asks) and its run (run.py: what it prints)."""

from llmsim.generator.stacks.verl.profile import PROFILE
from llmsim.generator.stacks.verl.run import RUN

__all__ = ["PROFILE", "RUN"]
