"""The stack registry: each stack's name -> its profile and its run, in the order of the trace's
vocabulary. Adding a stack is adding its folder (profile.py, run.py and an __init__ exporting
PROFILE and RUN) and one line here, besides its name in llmsim.trace.vocab and a dialect in
the player."""

from __future__ import annotations

from typing import Final

from llmsim.generator.plan.profile import StackProfile
from llmsim.generator.stacks import hf, hf_deepspeed, megatron, torchtitan, trl, verl
from llmsim.generator.stacks.common.run import StackRun
from llmsim.trace.vocab import Stack

STACKS: Final[dict[Stack, tuple[StackProfile, StackRun]]] = {
    "hf": (hf.PROFILE, hf.RUN),
    "hf-deepspeed": (hf_deepspeed.PROFILE, hf_deepspeed.RUN),
    "megatron": (megatron.PROFILE, megatron.RUN),
    "torchtitan": (torchtitan.PROFILE, torchtitan.RUN),
    "trl": (trl.PROFILE, trl.RUN),
    "verl": (verl.PROFILE, verl.RUN),
}
PROFILES: Final[dict[Stack, StackProfile]] = {name: p for name, (p, _) in STACKS.items()}


def run_for(stack: Stack) -> StackRun:
    """The run (what it prints) of the stack called `stack`."""
    return STACKS[stack][1]
