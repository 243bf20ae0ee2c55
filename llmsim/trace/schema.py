"""Trace format v1: the version, the Arrow schema and the vocabularies of the event columns.

This module is the contract between the generator and the player; `docs/trace-format.md`
documents every column. A change that a v1 reader could misread must bump SCHEMA_MAJOR.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

import pyarrow as pa

SCHEMA_MAJOR: Final = 1
SCHEMA_MINOR: Final = 0
SCHEMA_VERSION: Final = f"{SCHEMA_MAJOR}.{SCHEMA_MINOR}"

# File key-value metadata keys.
META_VERSION: Final = b"llmsim.schema_version"
META_CONFIG: Final = b"llmsim.config"

Kind = Literal[
    "phase",
    "log",
    "progress",
    "step",
    "telemetry",
    "eval",
    "checkpoint",
    "shard",
    "file",
    "summary",
]
KINDS: Final[tuple[str, ...]] = get_args(Kind)
Phase = Literal["init", "train", "eval", "checkpoint", "export", "summary"]
PHASES: Final[tuple[str, ...]] = get_args(Phase)
LEVELS: Final[tuple[str, ...]] = ("DEBUG", "INFO", "WARNING", "ERROR")

# Progress operations (the `op` column of `progress` rows).
OPS: Final[tuple[str, ...]] = (
    "load_checkpoint",
    "init_weights",
    "eval",
    "checkpoint",
    "merge_weights",
    "optimize",
    "serialize",
    "write_shards",
)

# GPU health codes in `gpu_health`, decided by the generator from the same sample's numbers.
HEALTH_OK: Final = 0
HEALTH_WARN: Final = 1
HEALTH_CRIT: Final = 2

_DICT = pa.dictionary(pa.int32(), pa.string())
_GPU_LIST = pa.list_(pa.float32())

# Column order is the Event field order (llmsim.trace.events).
SCHEMA: Final = pa.schema(
    [
        pa.field("t", pa.float64(), nullable=False),
        pa.field("kind", _DICT, nullable=False),
        pa.field("phase", _DICT, nullable=False),
        pa.field("level", _DICT),
        pa.field("source", _DICT),
        pa.field("text", pa.string()),
        pa.field("epoch", pa.int32()),
        pa.field("step", pa.int32()),
        pa.field("loss", pa.float64()),
        pa.field("ppl", pa.float64()),
        pa.field("lr", pa.float64()),
        pa.field("grad_norm", pa.float32()),
        pa.field("tokens_per_s", pa.float64()),
        pa.field("step_time", pa.float64()),
        pa.field("mfu", pa.float32()),
        pa.field("elapsed", pa.float64()),
        pa.field("eta", pa.float64()),
        pa.field("val_loss", pa.float64()),
        pa.field("val_ppl", pa.float64()),
        pa.field("patience", pa.int32()),
        pa.field("patience_limit", pa.int32()),
        pa.field("op", _DICT),
        pa.field("done", pa.int64()),
        pa.field("total", pa.int64()),
        pa.field("unit", _DICT),
        pa.field("path", pa.string()),
        pa.field("size_bytes", pa.int64()),
        pa.field("gpu_util", _GPU_LIST),
        pa.field("gpu_mem", _GPU_LIST),
        pa.field("gpu_temp", _GPU_LIST),
        pa.field("gpu_power", _GPU_LIST),
        pa.field("gpu_clock", _GPU_LIST),
        pa.field("gpu_health", pa.list_(pa.int8())),
        pa.field("avg_gpu_util", pa.float32()),
        pa.field("peak_mem_mib", pa.float32()),
    ]
)

COLUMNS: Final[tuple[str, ...]] = tuple(SCHEMA.names)
DICT_COLUMNS: Final[frozenset[str]] = frozenset(
    f.name for f in SCHEMA if pa.types.is_dictionary(f.type)
)
LIST_COLUMNS: Final[frozenset[str]] = frozenset(f.name for f in SCHEMA if pa.types.is_list(f.type))
FLOAT_COLUMNS: Final[frozenset[str]] = frozenset(
    f.name for f in SCHEMA if pa.types.is_floating(f.type)
)
