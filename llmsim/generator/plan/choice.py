"""What a run is before it is laid out: its kind, its stack's profile, its model and GPU type."""

from __future__ import annotations

from dataclasses import dataclass

from llmsim.generator.catalog.architecture import ModelSpec
from llmsim.generator.catalog.gpus import GpuSpec
from llmsim.generator.plan.postspec import PostSpec
from llmsim.generator.plan.profile import StackProfile
from llmsim.trace.vocab import RunKind, Stack


@dataclass(frozen=True)
class Choice:
    """What the run is, before it is laid out."""

    kind: RunKind
    profile: StackProfile  # the stack that trains it
    model: ModelSpec
    gpu: GpuSpec
    post: PostSpec | None = None  # a post-training run's own choices (lora, dpo, grpo)

    @property
    def stack(self) -> Stack:
        """The stack's name."""
        return self.profile.name
