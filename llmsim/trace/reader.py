"""Streaming, validating trace reader: opens a trace, checks it, and yields row groups or Events.

Every way a file can be wrong (missing, a folder, not Parquet, truncated, foreign schema, other
major version, oversized or invalid config, unsorted or non-finite `t`, NaN/inf or absurd numbers,
missing per-GPU values, huge strings) becomes one TraceError with a one-line message naming the
file; nothing else escapes. docs/reliability.md lists each case and the test that proves it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from llmsim.trace.config import RunConfig
from llmsim.trace.errors import TraceError
from llmsim.trace.events import Event
from llmsim.trace.schema import (
    DICT_COLUMNS,
    LIST_COLUMNS,
    META_CONFIG,
    META_VERSION,
    SCHEMA,
    SCHEMA_MAJOR,
    VOCABULARY,
)

# Values outside these bounds are no real training run: refuse them rather than draw nonsense.
BOUNDS: Final[dict[str, tuple[float, float]]] = {
    "t": (0.0, 1e9),
    "loss": (0.0, 100.0),
    "ppl": (1.0, 1e44),
    "lr": (0.0, 10.0),
    "grad_norm": (0.0, 1e6),
    "epoch_progress": (0.0, 1e6),
    "loss_scale": (0.0, 2.0**64),
    "skipped": (0, 10**8),
    "nan_iters": (0, 10**8),
    "tokens": (0, 10**16),
    "samples": (0, 10**13),
    "tokens_per_s_gpu": (0.0, 1e9),
    "tflops": (0.0, 1e5),
    "mem_gib": (0.0, 1e4),
    "mem_pct": (0.0, 100.0),
    "samples_per_s": (0.0, 1e12),
    "steps_per_s": (0.0, 1e6),
    "rank": (0, 65_535),
    "restarts": (0, 10**4),
    "redone": (0, 10**8),
    "lost_s": (0.0, 1e9),
    "tokens_per_s": (0.0, 1e12),
    "step_time": (0.0, 1e6),
    "mfu": (0.0, 1.0),
    "elapsed": (0.0, 1e9),
    "eta": (0.0, 1e9),
    "val_loss": (0.0, 100.0),
    "val_ppl": (1.0, 1e44),
    "patience": (0, 10**6),
    "patience_limit": (0, 10**6),
    "epoch": (0, 10**6),
    "step": (0, 10**8),
    "done": (0, 10**15),
    "total": (0, 10**15),
    "size_bytes": (0, 10**16),
    "gpu_util": (0.0, 100.0),
    "gpu_mem": (0.0, 10**7),
    "gpu_temp": (-50.0, 200.0),
    "gpu_power": (0.0, 10**5),
    "gpu_clock": (0.0, 10**5),
    "gpu_health": (0, 3),
    "avg_gpu_util": (0.0, 100.0),
    "peak_mem_mib": (0.0, 10**7),
}
MAX_TEXT: Final = 65_536
MAX_CONFIG_BYTES: Final = 4 << 20  # the run config JSON; a 65,536-GPU cluster needs ~2 MB
_VOCABULARY = {name: pa.array(values, pa.string()) for name, values in VOCABULARY.items()}
_VERSION = re.compile(r"(?a)([0-9]{1,4})\.([0-9]{1,4})")


class TraceFile:
    """An opened, header-checked trace. Rows are checked as they are read."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise TraceError(f"{self.path}: no such file")
        if self.path.is_dir():
            if any(self.path.glob("*.parquet")):
                raise TraceError(f"{self.path}: is a directory, not a trace")
            raise TraceError(f"{self.path}: is a directory with no *.parquet traces in it")
        try:
            self._pf = pq.ParquetFile(str(self.path))
        except (pa.ArrowException, OSError) as exc:
            raise TraceError(
                f"{self.path}: not a readable Parquet file ({_one_line(exc)})"
            ) from None
        meta = self._pf.schema_arrow.metadata or {}
        if META_VERSION not in meta:
            raise TraceError(
                f"{self.path}: Parquet file but not an llmsim trace (no schema version)"
            )
        version = meta[META_VERSION].decode("utf-8", "replace")
        match = _VERSION.fullmatch(version)
        if match is None:
            raise TraceError(f"{self.path}: trace schema version is not MAJOR.MINOR")
        if int(match.group(1)) != SCHEMA_MAJOR:
            raise TraceError(
                f"{self.path}: trace schema version {version} is not supported "
                f"(this llmsim reads {SCHEMA_MAJOR}.x; regenerate it with `llmsim generate`)"
            )
        self.version = version
        schema = self._pf.schema_arrow
        for f in SCHEMA:
            if f.name not in schema.names:
                raise TraceError(f"{self.path}: column {f.name!r} is missing")
            if not schema.field(f.name).type.equals(f.type):
                raise TraceError(
                    f"{self.path}: column {f.name!r} has type {schema.field(f.name).type}"
                )
        if META_CONFIG not in meta:
            raise TraceError(f"{self.path}: the run config is missing")
        if len(meta[META_CONFIG]) > MAX_CONFIG_BYTES:
            raise TraceError(
                f"{self.path}: the run config is over {MAX_CONFIG_BYTES:,} bytes of JSON"
            )
        try:
            self.config = RunConfig.from_json(meta[META_CONFIG])
        except TraceError as exc:
            raise TraceError(f"{self.path}: {exc}") from None
        self.num_rows = self._pf.metadata.num_rows
        if self.num_rows == 0:
            raise TraceError(f"{self.path}: the trace holds no events")

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Yield validated record batches (one per row group), in order."""
        last_t = 0.0
        try:
            for i in range(self._pf.num_row_groups):
                batch = self._pf.read_row_group(i, columns=list(SCHEMA.names)).combine_chunks()
                for rb in batch.to_batches():
                    last_t = self._check(rb, last_t)
                    yield rb
        except (pa.ArrowException, OSError) as exc:
            raise TraceError(f"{self.path}: corrupt or truncated ({_one_line(exc)})") from None

    def events(self) -> Iterator[Event]:
        """Yield every row as an Event, streaming row group by row group."""
        make = Event._make
        for rb in self.batches():
            columns = [rb.column(i).to_pylist() for i in range(rb.num_columns)]
            yield from map(make, zip(*columns, strict=True))

    @property
    def duration(self) -> float:
        """Seconds the run lasts: `t` of its last row (the last row group's statistics, or its
        `t` column when a writer left none). Not validated like rows are: a hint, >= 0."""
        last = self._pf.num_row_groups - 1
        try:
            stats = self._pf.metadata.row_group(last).column(0).statistics
            if stats is not None and stats.has_min_max and stats.max is not None:
                value = float(stats.max)
            else:
                t = self._pf.read_row_group(last, columns=["t"]).column(0)
                value = float(pc.max(t).as_py() or 0.0)
        except (pa.ArrowException, OSError, TypeError, ValueError) as exc:
            raise TraceError(f"{self.path}: corrupt or truncated ({_one_line(exc)})") from None
        return value if math.isfinite(value) and value > 0 else 0.0

    def read_table(self) -> pa.Table:
        """The whole validated trace as one table (for `info` and tests, not for playback)."""
        return pa.Table.from_batches(list(self.batches()), schema=self._pf.schema_arrow)

    def _check(self, rb: pa.RecordBatch, last_t: float) -> float:
        t = rb.column("t")
        if rb.num_rows == 0:
            return last_t
        if t.null_count:
            raise TraceError(f"{self.path}: null time in column 't'")
        for name, (lo, hi) in BOUNDS.items():
            col = rb.column(name)
            if name in LIST_COLUMNS:
                col = pc.list_flatten(col)
                if col.null_count:  # a per-GPU list with a hole: no value for some GPU
                    raise TraceError(f"{self.path}: null value inside a {name!r} list")
            if len(col) == col.null_count:
                continue
            if pa.types.is_floating(col.type) and pc.any(pc.is_nan(col)).as_py():
                raise TraceError(f"{self.path}: NaN in column {name!r}")
            mm = pc.min_max(col)
            vmin, vmax = mm["min"].as_py(), mm["max"].as_py()
            if not (math.isfinite(vmin) and math.isfinite(vmax)):
                raise TraceError(f"{self.path}: infinite value in column {name!r}")
            if vmin < lo or vmax > hi:
                bad = vmin if vmin < lo else vmax
                raise TraceError(f"{self.path}: value {bad:g} in column {name!r} is out of range")
        tv = t.to_numpy()
        if tv[0] < last_t or (len(tv) > 1 and (tv[1:] < tv[:-1]).any()):
            raise TraceError(f"{self.path}: rows are not sorted by time 't'")
        for name, allowed in _VOCABULARY.items():
            col = rb.column(name)
            if col.null_count and name in ("kind", "phase"):
                raise TraceError(f"{self.path}: null in column {name!r}")
            assert isinstance(col, pa.DictionaryArray)  # the header check guaranteed the type
            used = pc.unique(col.indices.drop_null())
            values = col.dictionary.take(used)
            if len(values) and not pc.all(pc.is_in(values, value_set=allowed)).as_py():
                raise TraceError(f"{self.path}: unknown value in column {name!r}")
        for name in ("text", "path", *sorted(DICT_COLUMNS - set(VOCABULARY))):
            strings = rb.column(name)
            if isinstance(strings, pa.DictionaryArray):  # level, source, op, unit
                strings = strings.dictionary
            assert isinstance(strings, pa.StringArray)
            lengths = pc.utf8_length(strings)
            if lengths.null_count < len(lengths) and pc.max(lengths).as_py() > MAX_TEXT:
                raise TraceError(
                    f"{self.path}: a string in column {name!r} is over {MAX_TEXT:,} characters"
                )
        width = self.config.gpus
        for name in LIST_COLUMNS:
            col = rb.column(name)
            if col.null_count < len(col):
                lengths = pc.list_value_length(col).drop_null()
                if pc.any(pc.not_equal(lengths, pa.scalar(width, pa.int32()))).as_py():
                    raise TraceError(f"{self.path}: {name!r} lists do not have one value per GPU")
        return float(tv[-1])


def open_trace(path: Path | str) -> TraceFile:
    """Open and header-check a trace; raise TraceError (one line, naming the file) if it is bad."""
    return TraceFile(Path(path))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160] if text else type(exc).__name__
