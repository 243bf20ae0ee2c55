"""The typed row the player consumes: one Event per trace row, fields in schema order."""

from __future__ import annotations

from typing import NamedTuple

from llmsim.trace.vocab import Kind, Level, LogFormat, Phase


class Event(NamedTuple):
    """One trace row. Fields that do not apply to the row's `kind` are None.

    A NamedTuple rather than a dataclass: the reader builds one per row on the player's hot
    path, and `Event._make` over zipped columns is the cheapest typed record Python has. The
    reader has checked every vocabulary column, so `kind`, `phase`, `level` and `source` hold
    only their Literal values; `op` holds an Op (progress rows) or an IncidentKind (incidents).
    docs/trace-format.md says which fields each kind fills.
    """

    t: float
    kind: Kind
    phase: Phase
    level: Level | None = None
    source: LogFormat | None = None
    origin: str | None = None
    rank: int | None = None
    text: str | None = None
    epoch: int | None = None
    epoch_progress: float | None = None
    step: int | None = None
    loss: float | None = None
    ppl: float | None = None
    lr: float | None = None
    grad_norm: float | None = None
    loss_scale: float | None = None
    skipped: int | None = None
    nan_iters: int | None = None
    tokens: int | None = None
    samples: int | None = None
    tokens_per_s: float | None = None
    tokens_per_s_gpu: float | None = None
    step_time: float | None = None
    mfu: float | None = None
    tflops: float | None = None
    mem_gib: float | None = None
    mem_pct: float | None = None
    elapsed: float | None = None
    eta: float | None = None
    val_loss: float | None = None
    val_ppl: float | None = None
    patience: int | None = None
    patience_limit: int | None = None
    samples_per_s: float | None = None
    steps_per_s: float | None = None
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
    restarts: int | None = None
    redone: int | None = None
    lost_s: float | None = None
    reward: float | None = None
    reward_std: float | None = None
    kl: float | None = None
    entropy: float | None = None
    response_len: float | None = None
    chosen: float | None = None
    rejected: float | None = None
    margin: float | None = None
    accuracy: float | None = None
    metrics: list[float | None] | None = None  # null: the key is not in this list
