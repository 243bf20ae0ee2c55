"""torchtitan (stack `torchtitan`). Its profile (profile.py: what the plan asks) and its run (run.py: what it prints)."""

from llmsim.generator.stacks.torchtitan.profile import PROFILE
from llmsim.generator.stacks.torchtitan.run import RUN

__all__ = ["PROFILE", "RUN"]
