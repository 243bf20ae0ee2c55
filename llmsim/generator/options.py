"""What a user may ask of the generator (GenerateOptions) and the error for impossible asks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

from llmsim.errors import UsageError
from llmsim.trace.vocab import IncidentRate, RunKind, Stack

ModelChoice = Literal["real", "invented", "all"]
MODEL_CHOICES: Final[tuple[ModelChoice, ...]] = get_args(ModelChoice)


class GeneratorError(UsageError):
    """Options that no run can satisfy. The message is one line, meant for the user as it is."""


class DurationTooShort(GeneratorError):
    """The asked duration leaves no room for the fewest steps of the run that was drawn.

    `need_s` is about the shortest duration that run takes; `why` says what takes the time;
    `params` is the drawn model's size (the planner tries smaller ones).
    """

    def __init__(self, message: str, need_s: float = 0.0, why: str = "", params: int = 0) -> None:
        super().__init__(message)
        self.need_s = need_s
        self.why = why
        self.params = params


@dataclass(frozen=True)
class GenerateOptions:
    """Options of one generated run; None means "draw a plausible value from the seeded rng".

    `kind` is exactly `pretrain` or `finetune`. For pretraining, the trace is the window at the
    end of a long schedule: `epochs` must be 1 and `steps_per_epoch` is the number of steps the
    trace shows. `duration` is the simulated length of the whole run in seconds.
    """

    seed: int | None = None
    model: str | None = None  # a catalogue name (case-insensitive)
    models: ModelChoice | None = None  # which models a random pick draws from (None: the mix)
    gpus: int | None = None
    gpu_type: str | None = None  # a catalogue short name (H100, A100, ...)
    stack: Stack | None = None
    kind: RunKind | None = None
    incidents: IncidentRate = "rare"
    epochs: int | None = None
    steps_per_epoch: int | None = None
    duration: float | None = None  # target simulated seconds of the whole run
    start_time: float | None = None  # unix seconds of t = 0
