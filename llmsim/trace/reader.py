"""Streaming, validating trace reader: opens a trace, checks it, and yields record batches or Events.

Every way a file can be wrong (missing, not a regular file, unreadable, not Parquet, truncated,
foreign schema, duplicated columns, other major version, oversized or invalid config, unsorted
or non-finite `t`, NaN/inf or absurd numbers, values outside a vocabulary, invalid UTF-8,
missing per-GPU values, huge strings, more than memory allows) becomes one TraceError with a
one-line message naming the file; nothing else escapes. docs/reliability.md lists each case
and the test that proves it.

Memory stays bounded by the screen, not by the trace: row groups are read in batches of at
most `MAX_BATCH_VALUES` per-GPU values (sized from the footer's value counts, so an ordinary
row group is one batch) and turned into Events in slices of at most `MAX_SLICE_VALUES` values
and `SLICE_ROWS` rows, so a trace of 65,536-GPU telemetry never becomes hundreds of megabytes
of arrays or millions of Python floats at once, and a player converts rows as it plays them.
Text is bounded in total, not only per string: a small file can hold the same 64 KiB line
20,000 times (dictionary encoding), which read as plain strings is 1.3 GB. So the free-text
columns are read as dictionaries (each distinct string once; Events share one Python string
per distinct value), and a row group with more than `MAX_GROUP_TEXT` bytes of text is
refused: the footer's sizes bound what a dictionary can hold, and are checked against what is
decoded.

A file is opened only after stat() says it is a regular file, without blocking, and checked
again on the open descriptor (a FIFO swapped in meanwhile is refused, never waited on); it is
read through that descriptor, so a file name that is not valid UTF-8 reads like any other.
"""

from __future__ import annotations

import errno
import functools
import math
import os
import re
import stat
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from llmsim.errors import one_line, os_reason
from llmsim.trace.config import MAX_GPUS, RunConfig
from llmsim.trace.errors import TraceError
from llmsim.trace.events import Event
from llmsim.trace.schema import (
    ADDED,
    COLUMNS,
    DICT_COLUMNS,
    LIST_COLUMNS,
    META_CONFIG,
    META_VERSION,
    METRICS_COLUMN,
    SCHEMA,
    SCHEMA_MAJOR,
    VOCABULARY,
)
from llmsim.trace.vocab import HEALTH_CODES

MAX_T: Final = 1e8  # seconds (over three years): the player's clock sleeps in bounded chunks
# Values outside these bounds are no real training run: refuse them rather than draw nonsense.
BOUNDS: Final[dict[str, tuple[float, float]]] = {
    "t": (0.0, MAX_T),
    "rank": (0, MAX_GPUS - 1),
    "epoch": (0, 10**6),
    "epoch_progress": (0.0, 1e6),
    "step": (0, 10**8),
    "loss": (-100.0, 100.0),  # an RL policy loss (GRPO's) may be negative
    "ppl": (1.0, 1e44),
    "lr": (0.0, 10.0),
    "grad_norm": (0.0, 1e6),
    "loss_scale": (0.0, 2.0**64),
    "skipped": (0, 10**8),
    "nan_iters": (0, 10**8),
    "tokens": (0, 10**16),
    "samples": (0, 10**13),
    "tokens_per_s": (0.0, 1e12),
    "tokens_per_s_gpu": (0.0, 1e9),
    "step_time": (0.0, 1e6),
    "mfu": (0.0, 1.0),
    "tflops": (0.0, 1e5),
    "mem_gib": (0.0, 1e4),
    "mem_pct": (0.0, 100.0),
    "elapsed": (0.0, MAX_T),
    "eta": (0.0, 1e9),
    "val_loss": (0.0, 100.0),
    "val_ppl": (1.0, 1e44),
    "patience": (0, 10**6),
    "patience_limit": (0, 10**6),
    "samples_per_s": (0.0, 1e12),
    "steps_per_s": (0.0, 1e6),
    "done": (0, 10**15),
    "total": (0, 10**15),
    "size_bytes": (0, 10**16),
    "gpu_util": (0.0, 100.0),
    "gpu_mem": (0.0, 10**7),
    "gpu_temp": (-50.0, 200.0),
    "gpu_power": (0.0, 10**5),
    "gpu_clock": (0.0, 10**5),
    "gpu_health": (min(HEALTH_CODES), max(HEALTH_CODES)),
    "avg_gpu_util": (0.0, 100.0),
    "peak_mem_mib": (0.0, 10**7),
    "restarts": (0, 10**4),
    "redone": (0, 10**8),
    "lost_s": (0.0, MAX_T),
    "reward": (-1e6, 1e6),
    "reward_std": (0.0, 1e6),
    "kl": (0.0, 1e3),
    "entropy": (0.0, 100.0),
    "response_len": (0.0, 1e7),
    "chosen": (-1e6, 1e6),
    "rejected": (-1e6, 1e6),
    "margin": (-1e6, 1e6),
    "accuracy": (0.0, 1.0),
    METRICS_COLUMN: (-1e15, 1e15),
}
MAX_TEXT: Final = 65_536  # characters of one string (a log line, a path)
# Bytes of strings in one row group, uncompressed, as the footer counts them: what bounds the
# memory of its dictionaries. A row group of the generator's (16,384 rows) holds a few MB.
MAX_GROUP_TEXT: Final = 32 << 20
TEXT_COLUMNS: Final = ("text", "path")  # free text (the other string columns are dictionaries)
MAX_CONFIG_BYTES: Final = 4 << 20  # the run config JSON; a 65,536-GPU cluster needs ~2 MB
MAX_SLICE_VALUES: Final = 1 << 20  # per-GPU values turned into Python objects at a time
# Rows turned into Events at a time: a player pays for rows as it plays them, not for minutes of
# trace ahead at once (a row group can hold most of a run).
SLICE_ROWS: Final = 64
MAX_BATCH_VALUES: Final = 1 << 22  # per-GPU values decoded from the file at a time (~16 MB)
MAX_BATCH_ROWS: Final = 1 << 16  # rows of a batch without per-GPU lists
READ_BUFFER: Final = 1 << 20  # bytes: column chunks are read in pieces, not whole
_VOCABULARY = {name: frozenset(values) for name, values in VOCABULARY.items()}
_VERSION = re.compile(r"([0-9]{1,4})\.([0-9]{1,4})")


class TraceFile:
    """An opened, header-checked trace. Rows are checked as they are read."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._file = _open_regular_file(self.path)
        weakref.finalize(self, self._file.close)  # closed with the TraceFile, however it ends
        try:
            self._pf = self._parquet()
            schema = self._pf.schema_arrow
            self.num_rows = self._pf.metadata.num_rows
        except MemoryError:  # before ArrowException: pyarrow's ArrowMemoryError is both
            raise TraceError(f"{self.path}: not enough memory to open the file") from None
        except UnicodeDecodeError:  # pyarrow decodes the footer's column names itself
            raise TraceError(
                f"{self.path}: not a readable Parquet file (a column name is not UTF-8)"
            ) from None
        except (pa.ArrowException, OSError) as exc:
            raise TraceError(
                f"{self.path}: not a readable Parquet file ({one_line(exc)})"
            ) from None
        meta = schema.metadata or {}
        self.version = self._check_version(meta)
        minor = int(self.version.split(".")[1])
        self._absent = self._check_columns(schema, minor)
        self.config = self._read_config(meta, minor)
        if self.num_rows == 0:
            raise TraceError(f"{self.path}: the trace holds no events")
        # The columns are there: read the text ones as dictionaries (the footer is reused).
        try:
            self._pf = self._parquet(self._pf.metadata, TEXT_COLUMNS)
        except (pa.ArrowException, OSError, MemoryError) as exc:
            raise TraceError(
                f"{self.path}: not a readable Parquet file ({one_line(exc)})"
            ) from None

    def _parquet(
        self, metadata: pq.FileMetaData | None = None, dictionaries: tuple[str, ...] = ()
    ) -> pq.ParquetFile:
        return pq.ParquetFile(
            self._file,
            metadata=metadata,
            pre_buffer=False,
            buffer_size=READ_BUFFER,
            read_dictionary=list(dictionaries) or None,  # each distinct string once (see above)
        )

    def _check_version(self, meta: dict[bytes, bytes]) -> str:
        if META_VERSION not in meta:
            raise TraceError(
                f"{self.path}: Parquet file but not an llmsim trace (no schema version)"
            )
        version = meta[META_VERSION].decode("utf-8", "replace")
        match = _VERSION.fullmatch(version)  # ASCII digits only: "².0" is no version
        if match is None or int(match.group(1)) != SCHEMA_MAJOR:
            shown = version if match else repr(version[:40])
            raise TraceError(
                f"{self.path}: trace schema version {shown} is not supported "
                f"(this llmsim reads {SCHEMA_MAJOR}.x; regenerate it with `llmsim generate`)"
            )
        return version

    def _check_columns(self, schema: pa.Schema, minor: int) -> frozenset[str]:
        """Check the columns; return those an older minor version did not have yet (they read
        as nulls)."""
        names = schema.names
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise TraceError(f"{self.path}: column {twice[0][:40]!r} appears more than once")
        later = {name for version, added in ADDED.items() if version > minor for name in added}
        absent = frozenset(f.name for f in SCHEMA if f.name not in names and f.name in later)
        for f in SCHEMA:
            if f.name in absent:
                continue
            if f.name not in names:
                raise TraceError(f"{self.path}: column {f.name!r} is missing")
            if not schema.field(f.name).type.equals(f.type):
                raise TraceError(f"{self.path}: column {f.name!r} has the wrong type")
        return absent

    def _read_config(self, meta: dict[bytes, bytes], minor: int) -> RunConfig:
        if META_CONFIG not in meta:
            raise TraceError(f"{self.path}: the run config is missing")
        if len(meta[META_CONFIG]) > MAX_CONFIG_BYTES:
            raise TraceError(
                f"{self.path}: the run config is over {MAX_CONFIG_BYTES:,} bytes of JSON"
            )
        try:
            return RunConfig.from_json(meta[META_CONFIG], minor)
        except TraceError as exc:
            raise TraceError(f"{self.path}: {exc}") from None

    def batches(self, columns: tuple[str, ...] = COLUMNS) -> Iterator[pa.RecordBatch]:
        """Yield validated record batches in order: a row group at a time, in batches of at
        most MAX_BATCH_VALUES per-GPU values. `columns` (a subset, for a quick pass) are
        checked as far as they go: `t` and the kinds are always read."""
        wanted = list(dict.fromkeys(("t", "kind", *columns)))
        stored = [c for c in wanted if c not in self._absent]
        last_t = 0.0
        try:
            for i in range(self._pf.num_row_groups):
                self._check_group_text(i, wanted)
                rows = self._batch_rows(i) if any(c in LIST_COLUMNS for c in wanted) else None
                for rb in self._pf.iter_batches(
                    batch_size=rows or MAX_BATCH_ROWS,
                    row_groups=[i],
                    columns=stored,
                    use_threads=False,  # no thread pool: it cannot fail to start under ulimit
                ):
                    self._validate(rb)
                    self._check_text_size(rb, i)
                    last_t = self._check(rb, last_t)
                    yield self._complete(rb, wanted) if len(stored) < len(wanted) else rb
        except MemoryError:  # before ArrowException: pyarrow's ArrowMemoryError is both
            raise TraceError(f"{self.path}: not enough memory to read the trace") from None
        except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
            raise TraceError(f"{self.path}: corrupt or truncated ({one_line(exc)})") from None

    def _complete(self, rb: pa.RecordBatch, wanted: list[str]) -> pa.RecordBatch:
        """`rb` with the columns its (older) trace lacks, as nulls, in the order asked."""
        arrays = [
            rb.column(name) if name in rb.schema.names else pa.nulls(rb.num_rows, _type(name))
            for name in wanted
        ]
        return pa.RecordBatch.from_arrays(
            arrays, schema=pa.schema([SCHEMA.field(n) for n in wanted])
        )

    def _validate(self, rb: pa.RecordBatch) -> None:
        """Offsets, dictionary indices and the UTF-8 of strings, as Arrow checks them."""
        try:
            rb.validate(full=True)
        except pa.ArrowInvalid as exc:
            where = re.match(r"In column (\d+): ", str(exc))
            if where is None or "UTF8" not in str(exc):
                raise
            name = rb.schema.names[int(where.group(1))]
            raise TraceError(f"{self.path}: corrupt text in column {name!r} (not UTF-8)") from None

    def _check_group_text(self, group: int, wanted: list[str]) -> None:
        """TraceError if the wanted string columns of row group `group` hold more than
        MAX_GROUP_TEXT bytes (the footer's count, uncompressed)."""
        meta = self._pf.metadata.row_group(group)
        text = sum(
            meta.column(j).total_uncompressed_size
            for j, name in self._text_leaves.items()
            if name in wanted
        )
        if text > MAX_GROUP_TEXT:
            raise TraceError(
                f"{self.path}: row group {group} holds {text:,} bytes of text, over the "
                f"{MAX_GROUP_TEXT:,} llmsim reads at once (a real run's hold a few MB)"
            )

    @functools.cached_property
    def _text_leaves(self) -> dict[int, str]:
        """Indexes of the Parquet leaf columns holding strings, and their names."""
        schema = self._pf.metadata.schema
        names = {*TEXT_COLUMNS, *DICT_COLUMNS}
        return {
            j: schema.column(j).path for j in range(len(schema)) if schema.column(j).path in names
        }

    def _check_text_size(self, rb: pa.RecordBatch, group: int) -> None:
        """A string column's dictionary holds no more than its footer said: the footer's sizes
        are what bound the memory of a batch, so a file that understates them is refused."""
        meta = self._pf.metadata.row_group(group)
        for j, name in self._text_leaves.items():
            if name not in rb.schema.names:
                continue
            col = rb.column(name)
            if not isinstance(col, pa.DictionaryArray):
                continue
            data = col.dictionary.buffers()[2]
            if data is not None and data.size > meta.column(j).total_uncompressed_size:
                raise TraceError(
                    f"{self.path}: corrupt (column {name!r} holds more text than the file says)"
                )

    def _batch_rows(self, group: int) -> int:
        """Rows per batch of row group `group`, so that no batch decodes more than
        MAX_BATCH_VALUES per-GPU values (from the footer's value counts of the list columns;
        a group within the budget is one batch, whatever its rows)."""
        meta = self._pf.metadata.row_group(group)
        values = sum(meta.column(j).num_values for j in self._list_leaves)
        if values <= MAX_BATCH_VALUES:
            return MAX_BATCH_ROWS
        return max(1, MAX_BATCH_VALUES // (self.config.gpus * len(LIST_COLUMNS)))

    @functools.cached_property
    def _list_leaves(self) -> list[int]:
        """Indexes of the Parquet leaf columns holding per-GPU values."""
        schema = self._pf.metadata.schema
        return [
            j for j in range(len(schema)) if schema.column(j).path.split(".")[0] in LIST_COLUMNS
        ]

    def events(self) -> Iterator[Event]:
        """Yield every row as an Event, streaming in slices of bounded size. Rows with the same
        text share one Python string (a dictionary's values are made once per row group)."""
        make = Event._make
        made: dict[int, tuple[pa.Array[Any], list[Any]]] = {}  # column: dictionary, values
        for rb in self.batches():
            try:
                words = {
                    i: _words(col.dictionary, made, i)
                    for i, col in enumerate(rb.columns)
                    if isinstance(col, pa.DictionaryArray)
                }
                for part in _slices(rb, self.config.gpus):
                    columns = [
                        _values(part.column(i), words.get(i)) for i in range(part.num_columns)
                    ]
                    yield from map(make, zip(*columns, strict=True))
            except MemoryError:
                raise TraceError(f"{self.path}: not enough memory to read the trace") from None

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
                t = _present(
                    self._pf.read_row_group(last, columns=["t"]).column(0).combine_chunks()
                )
                value = float(t.max()) if len(t) else 0.0
        except MemoryError:
            raise TraceError(f"{self.path}: not enough memory to read the trace") from None
        except (pa.ArrowException, OSError, TypeError, ValueError) as exc:
            raise TraceError(f"{self.path}: corrupt or truncated ({one_line(exc)})") from None
        return value if math.isfinite(value) and value > 0 else 0.0

    def read_table(self) -> pa.Table:
        """The whole validated trace as one table in the trace schema (for tests and small
        traces; not for playback)."""
        tables = [pa.Table.from_batches([rb]).cast(SCHEMA) for rb in self.batches()]
        return pa.concat_tables(tables) if tables else SCHEMA.empty_table()

    def close(self) -> None:
        """Close the file now (it is closed anyway when the TraceFile is collected)."""
        self._file.close()

    def _check(self, rb: pa.RecordBatch, last_t: float) -> float:
        if rb.num_rows == 0:
            return last_t
        t = rb.column("t")
        if t.null_count:
            raise TraceError(f"{self.path}: null time in column 't'")
        self._check_bounds(rb)
        tv = t.to_numpy()
        if tv[0] < last_t or (len(tv) > 1 and (tv[1:] < tv[:-1]).any()):
            raise TraceError(f"{self.path}: rows are not sorted by time 't'")
        self._check_vocabularies(rb)
        self._check_strings(rb)
        self._check_gpu_lists(rb)
        self._check_metrics(rb)
        return float(tv[-1])

    def _check_bounds(self, rb: pa.RecordBatch) -> None:
        present = rb.schema.names
        for name, (lo, hi) in BOUNDS.items():
            if name not in present:
                continue
            col = rb.column(name)
            if name in LIST_COLUMNS or name == METRICS_COLUMN:
                assert isinstance(col, pa.ListArray)  # the header check guaranteed the type
                col = _list_values(col)
                if col.null_count and name != METRICS_COLUMN:  # no value for some GPU
                    raise TraceError(f"{self.path}: null value inside a {name!r} list")
            values = _present(col)
            if not len(values):
                continue
            if values.dtype.kind == "f" and np.isnan(values).any():
                raise TraceError(f"{self.path}: NaN in column {name!r}")
            vmin, vmax = values.min().item(), values.max().item()
            if not (math.isfinite(vmin) and math.isfinite(vmax)):
                raise TraceError(f"{self.path}: infinite value in column {name!r}")
            if vmin < lo or vmax > hi:
                bad = vmin if vmin < lo else vmax
                raise TraceError(f"{self.path}: value {bad:g} in column {name!r} is out of range")

    def _check_vocabularies(self, rb: pa.RecordBatch) -> None:
        present = rb.schema.names
        for name, allowed in _VOCABULARY.items():
            if name not in present:
                continue
            col = rb.column(name)
            if col.null_count and name in ("kind", "phase"):
                raise TraceError(f"{self.path}: null in column {name!r}")
            assert isinstance(col, pa.DictionaryArray)  # the header check guaranteed the type
            used = np.unique(_present(col.indices))
            if not len(used):
                continue
            words = col.dictionary.to_pylist()  # indices in range: _validate checked them
            if any(words[i] not in allowed for i in used.tolist()):
                raise TraceError(f"{self.path}: unknown value in column {name!r}")

    def _check_strings(self, rb: pa.RecordBatch) -> None:
        present = rb.schema.names
        for name in ("text", "path", *sorted(DICT_COLUMNS - set(VOCABULARY))):
            if name not in present:
                continue
            strings = rb.column(name)
            if isinstance(strings, pa.DictionaryArray):  # origin
                strings = strings.dictionary
            assert isinstance(strings, pa.StringArray)
            if _has_overlong(strings):
                raise TraceError(
                    f"{self.path}: a string in column {name!r} is over {MAX_TEXT:,} characters"
                )

    def _check_gpu_lists(self, rb: pa.RecordBatch) -> None:
        present = rb.schema.names
        expected: npt.NDArray[Any] | None = None
        for name in sorted(LIST_COLUMNS & set(present)):
            col = rb.column(name)
            assert isinstance(col, pa.ListArray)  # the header check guaranteed the type
            if col.null_count < len(col):
                if expected is None:
                    expected = self._list_lengths(rb)
                lengths = np.diff(col.offsets.to_numpy())
                want = expected
                valid = _validity(col)
                if valid is not None:
                    lengths, want = lengths[valid], want[valid]
                if (lengths != want).any():
                    raise TraceError(f"{self.path}: {name!r} lists do not have one value per GPU")

    def _list_lengths(self, rb: pa.RecordBatch) -> npt.NDArray[Any]:
        """Values each row's per-GPU lists must hold: every GPU, or one node's GPUs on a
        `node_telemetry` row (2.4)."""
        kinds = rb.column("kind")
        assert isinstance(kinds, pa.DictionaryArray)  # the header check guaranteed the type
        out = np.full(len(rb), self.config.gpus, dtype=np.int64)
        words = kinds.dictionary.to_pylist()
        if "node_telemetry" in words:
            node = _present(kinds.indices) == words.index("node_telemetry")
            out[node] = self.config.gpus_per_node
        return out

    def _check_metrics(self, rb: pa.RecordBatch) -> None:
        """A row's metrics hold one value per key of the config's step or eval keys."""
        if METRICS_COLUMN not in rb.schema.names:
            return
        col = rb.column(METRICS_COLUMN)
        assert isinstance(col, pa.ListArray)  # the header check guaranteed the type
        if col.null_count == len(col):
            return
        lengths = np.diff(col.offsets.to_numpy())
        valid = _validity(col)
        if valid is not None:
            lengths = lengths[valid]
        allowed = [len(self.config.metric_keys), len(self.config.eval_metric_keys)]
        if not np.isin(lengths, allowed).all():
            raise TraceError(f"{self.path}: 'metrics' lists do not have one value per key")


def _type(name: str) -> Any:
    """The schema's type of column `name` (for pa.nulls, whose stubs want its exact class)."""
    return SCHEMA.field(name).type


# The row checks below read Arrow buffers with numpy instead of calling pyarrow.compute: importing
# pyarrow.compute costs ~27 ms, a tenth of `llmsim play`'s whole budget for its first byte.


def _validity(arr: pa.Array[Any]) -> npt.NDArray[np.bool_] | None:
    """Which entries of `arr` are not null, from its validity bitmap (None: no entry is null)."""
    if arr.null_count == 0:
        return None
    bitmap = arr.buffers()[0]
    if bitmap is None:  # every entry null
        return np.zeros(len(arr), dtype=bool)
    bits = np.unpackbits(_bytes(bitmap), bitorder="little")
    valid: npt.NDArray[np.bool_] = bits[arr.offset : arr.offset + len(arr)].astype(bool)
    return valid


def _bytes(buf: pa.Buffer | None) -> npt.NDArray[np.uint8]:
    """An Arrow buffer's bytes, without a copy."""
    if buf is None:
        return np.zeros(0, dtype=np.uint8)
    return np.frombuffer(memoryview(buf), dtype=np.uint8)


def _present(arr: pa.Array[Any]) -> npt.NDArray[Any]:
    """The non-null values of an integer or floating-point array, read from its buffers (no
    conversion, no copy unless some are null)."""
    if arr.null_count == len(arr):
        return np.zeros(0)
    dtype = np.dtype(arr.type.to_pandas_dtype())
    values: npt.NDArray[Any] = _bytes(arr.buffers()[1]).view(dtype)
    values = values[arr.offset : arr.offset + len(arr)]
    valid = _validity(arr)
    return values if valid is None else values[valid]


def _list_values(lists: pa.ListArray[Any]) -> pa.Array[Any]:
    """The values the (possibly sliced) lists hold, one after another."""
    offsets = lists.offsets
    first, last = offsets[0].as_py(), offsets[len(offsets) - 1].as_py()
    return lists.values.slice(first, last - first)


def _words(
    dictionary: pa.Array[Any], made: dict[int, tuple[pa.Array[Any], list[Any]]], column: int
) -> list[Any]:
    """The Python values of a column's dictionary, made once for all the batches of a row group
    that share it: a row group cut into many batches (wide telemetry) gets a copy of the same
    dictionary in each, and comparing it (a memcmp) is far cheaper than converting it again."""
    held = made.get(column)
    if held is None or len(held[0]) != len(dictionary) or not held[0].equals(dictionary):
        made[column] = held = (dictionary, dictionary.to_pylist())
    return held[1]


def _values(col: pa.Array[Any], words: list[Any] | None) -> list[Any]:
    """The column as Python values; a dictionary column's from `words`, its values made once
    (DictionaryArray.to_pylist makes a new string per row, and is slow)."""
    if words is None or not isinstance(col, pa.DictionaryArray):
        return col.to_pylist()
    indices = col.indices
    if indices.null_count:
        return [None if i is None else words[i] for i in indices.to_pylist()]
    return [words[i] for i in indices.to_numpy().tolist()]


def _has_overlong(strings: pa.StringArray) -> bool:
    """Whether a string has more than MAX_TEXT characters. Its UTF-8 bytes bound its characters
    from above, so only strings of more than MAX_TEXT bytes have their characters counted."""
    if len(strings) == strings.null_count:
        return False
    _, offsets_buf, data_buf = strings.buffers()
    start = strings.offset
    offsets = _bytes(offsets_buf).view(np.int32)[start : start + len(strings) + 1]
    sizes = np.diff(offsets)
    valid = _validity(strings)
    if valid is not None:
        sizes = np.where(valid, sizes, 0)
    data = _bytes(data_buf)
    for i in np.flatnonzero(sizes > MAX_TEXT).tolist():
        chunk = data[offsets[i] : offsets[i + 1]]
        if np.count_nonzero((chunk & 0xC0) != 0x80) > MAX_TEXT:  # bytes that start a character
            return True
    return False


def open_trace(path: Path | str) -> TraceFile:
    """Open and header-check a trace; raise TraceError (one line, naming the file) if it is bad."""
    return TraceFile(Path(path))


def _open_regular_file(path: Path) -> BinaryIO:
    """Open `path` for reading if it is a regular file; TraceError (one line) otherwise.

    Opening a FIFO would block forever and a device could stream without end, so stat() is
    asked first and anything else is refused unopened; the open itself does not block and the
    descriptor is checked again, so nothing swapped in between is ever waited on.
    """
    try:
        _refuse_unless_regular(path, path.stat().st_mode)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ENOENT and os.path.islink(path):
            raise TraceError(f"{path}: a symbolic link to nothing (no such file)") from None
        raise TraceError(f"{path}: {os_reason(exc)}") from None
    try:
        _refuse_unless_regular(path, os.fstat(fd).st_mode)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _refuse_unless_regular(path: Path, mode: int) -> None:
    """TraceError saying what `path` is, unless it is a regular file."""
    if stat.S_ISDIR(mode):
        if not os.access(path, os.R_OK | os.X_OK):
            raise TraceError(f"{path}: permission denied (a directory that cannot be listed)")
        if any(path.glob("*.parquet")):
            raise TraceError(f"{path}: is a directory, not a trace")
        raise TraceError(f"{path}: is a directory with no *.parquet traces in it")
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
        raise TraceError(f"{path}: is {kind}, not a trace file")


def _slices(rb: pa.RecordBatch, gpus: int) -> Iterator[pa.RecordBatch]:
    """`rb` cut into slices whose per-GPU lists hold at most MAX_SLICE_VALUES values in all.

    A row with lists holds `gpus` values in each list column (the reader checked it).
    """
    has_lists = any(rb.column(name).null_count < rb.num_rows for name in LIST_COLUMNS)
    rows = max(1, MAX_SLICE_VALUES // (gpus * len(LIST_COLUMNS))) if has_lists else rb.num_rows
    rows = min(rows, SLICE_ROWS)
    if rows >= rb.num_rows:
        yield rb
        return
    for start in range(0, rb.num_rows, rows):
        yield rb.slice(start, rows)
