"""Trace format v2: the version, the Arrow schema and which columns hold which vocabulary.

This module is the contract between the generator and the player; `docs/trace-format.md`
documents every column. A change that a reader of this major version could misread must bump
SCHEMA_MAJOR; a change that only adds columns or config keys bumps SCHEMA_MINOR.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

from llmsim.trace.vocab import (
    INCIDENT_KINDS,
    KINDS,
    LEVELS,
    LOG_FORMATS,
    OPS,
    PHASES,
    PROCESS_OPS,
    SHELL_OPS,
    UNITS,
)

SCHEMA_MAJOR: Final = 2
SCHEMA_MINOR: Final = 5
SCHEMA_VERSION: Final = f"{SCHEMA_MAJOR}.{SCHEMA_MINOR}"

# File key-value metadata keys.
META_VERSION: Final = b"llmsim.schema_version"
META_CONFIG: Final = b"llmsim.config"

_DICT = pa.dictionary(pa.int32(), pa.string())
_GPU_LIST = pa.list_(pa.float32())

# Column order is the Event field order (llmsim.trace.events; a test checks they agree).
SCHEMA: Final = pa.schema(
    [
        pa.field("t", pa.float64(), nullable=False),
        pa.field("kind", _DICT, nullable=False),
        pa.field("phase", _DICT, nullable=False),
        # log lines
        pa.field("level", _DICT),
        pa.field("source", _DICT),
        pa.field("origin", _DICT),
        pa.field("rank", pa.int32()),
        pa.field("text", pa.string()),
        # optimizer steps (and eval/summary rows)
        pa.field("epoch", pa.int32()),
        pa.field("epoch_progress", pa.float64()),
        pa.field("step", pa.int32()),
        pa.field("loss", pa.float64()),
        pa.field("ppl", pa.float64()),
        pa.field("lr", pa.float64()),
        pa.field("grad_norm", pa.float32()),
        pa.field("loss_scale", pa.float32()),
        pa.field("skipped", pa.int32()),
        pa.field("nan_iters", pa.int32()),
        pa.field("tokens", pa.int64()),
        pa.field("samples", pa.int64()),
        pa.field("tokens_per_s", pa.float64()),
        pa.field("tokens_per_s_gpu", pa.float64()),
        pa.field("step_time", pa.float64()),
        pa.field("mfu", pa.float32()),
        pa.field("tflops", pa.float32()),
        pa.field("mem_gib", pa.float32()),
        pa.field("mem_pct", pa.float32()),
        pa.field("elapsed", pa.float64()),
        pa.field("eta", pa.float64()),
        # validation
        pa.field("val_loss", pa.float64()),
        pa.field("val_ppl", pa.float64()),
        pa.field("patience", pa.int32()),
        pa.field("patience_limit", pa.int32()),
        pa.field("samples_per_s", pa.float64()),
        pa.field("steps_per_s", pa.float64()),
        # long operations, checkpoints, export files, incidents
        pa.field("op", _DICT),
        pa.field("done", pa.int64()),
        pa.field("total", pa.int64()),
        pa.field("unit", _DICT),
        pa.field("path", pa.string()),
        pa.field("size_bytes", pa.int64()),
        # GPU telemetry: one value per GPU, global rank order
        pa.field("gpu_util", _GPU_LIST),
        pa.field("gpu_mem", _GPU_LIST),
        pa.field("gpu_temp", _GPU_LIST),
        pa.field("gpu_power", _GPU_LIST),
        pa.field("gpu_clock", _GPU_LIST),
        pa.field("gpu_health", pa.list_(pa.int8())),
        # summary
        pa.field("avg_gpu_util", pa.float32()),
        pa.field("peak_mem_mib", pa.float32()),
        pa.field("restarts", pa.int32()),
        pa.field("redone", pa.int32()),
        pa.field("lost_s", pa.float64()),
        # post-training (2.5): what DPO and RL runs report besides a loss
        pa.field("reward", pa.float64()),
        pa.field("reward_std", pa.float64()),
        pa.field("kl", pa.float64()),
        pa.field("entropy", pa.float64()),
        pa.field("response_len", pa.float64()),
        pa.field("chosen", pa.float64()),
        pa.field("rejected", pa.float64()),
        pa.field("margin", pa.float64()),
        pa.field("accuracy", pa.float64()),
        # the stack's other keys of the row, in the order of config.metric_keys (step rows) or
        # config.eval_metric_keys (eval rows)
        pa.field("metrics", pa.list_(pa.float64())),
    ]
)
# Columns each minor version added: a trace of an older minor version lacks them, and the
# reader gives them as nulls.
ADDED: Final[dict[int, tuple[str, ...]]] = {
    5: (
        "reward",
        "reward_std",
        "kl",
        "entropy",
        "response_len",
        "chosen",
        "rejected",
        "margin",
        "accuracy",
        "metrics",
    ),
}

COLUMNS: Final[tuple[str, ...]] = tuple(SCHEMA.names)
DICT_COLUMNS: Final[frozenset[str]] = frozenset(
    f.name for f in SCHEMA if pa.types.is_dictionary(f.type)
)
# The per-GPU lists of telemetry rows (one value per GPU); `metrics` is a list of another kind.
METRICS_COLUMN: Final = "metrics"
LIST_COLUMNS: Final[frozenset[str]] = frozenset(
    f.name for f in SCHEMA if pa.types.is_list(f.type) and f.name != METRICS_COLUMN
)
# Dictionary columns whose values come from a closed vocabulary (the reader refuses others).
# `op` holds an Op on progress rows, an IncidentKind on incident rows, a ShellOp on shell rows
# and a ProcessOp on process rows.
VOCABULARY: Final[dict[str, tuple[str, ...]]] = {
    "kind": KINDS,
    "phase": PHASES,
    "level": LEVELS,
    "source": LOG_FORMATS,
    "op": (*OPS, *INCIDENT_KINDS, *SHELL_OPS, *PROCESS_OPS),
    "unit": UNITS,
}
