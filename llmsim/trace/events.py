"""The typed row the player consumes: one Event per trace row, fields in schema order."""

from __future__ import annotations

from typing import NamedTuple


class Event(NamedTuple):
    """One trace row. Fields that do not apply to the row's `kind` are None.

    A NamedTuple rather than a dataclass: the reader builds one per row on the player's
    hot path, and `Event._make` over zipped columns is the cheapest typed record Python has.
    """

    t: float
    kind: str
    phase: str
    level: str | None = None
    source: str | None = None
    text: str | None = None
    epoch: int | None = None
    step: int | None = None
    loss: float | None = None
    ppl: float | None = None
    lr: float | None = None
    grad_norm: float | None = None
    tokens_per_s: float | None = None
    step_time: float | None = None
    mfu: float | None = None
    elapsed: float | None = None
    eta: float | None = None
    val_loss: float | None = None
    val_ppl: float | None = None
    patience: int | None = None
    patience_limit: int | None = None
    op: str | None = None
    done: int | None = None
    total: int | None = None
    unit: str | None = None
    path: str | None = None
    size_bytes: int | None = None
    gpu_util: list[float] | None = None
    gpu_mem: list[float] | None = None
    gpu_temp: list[float] | None = None
    gpu_power: list[float] | None = None
    gpu_clock: list[float] | None = None
    gpu_health: list[int] | None = None
    avg_gpu_util: float | None = None
    peak_mem_mib: float | None = None
