"""Streaming, atomic trace writer: row groups go to a temp file that is renamed into place at the end."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from llmsim.trace.config import RunConfig
from llmsim.trace.errors import TraceError
from llmsim.trace.schema import (
    DICT_COLUMNS,
    LIST_COLUMNS,
    META_CONFIG,
    META_VERSION,
    SCHEMA,
    SCHEMA_VERSION,
)

# Row groups of this many rows keep the reader's memory flat and `play` starting at once.
ROW_GROUP_ROWS = 16_384


def make_table(n: int, columns: Mapping[str, Any]) -> pa.Table:
    """Build an n-row table in the trace schema; absent columns are all-null.

    Values may be numpy arrays, Python lists or scalars (broadcast to n rows). A 2-D numpy
    array for a list column becomes one list per row (the per-GPU telemetry).
    """
    unknown = set(columns) - set(SCHEMA.names)
    if unknown:
        raise ValueError(f"not trace columns: {sorted(unknown)}")
    arrays: list[pa.Array[Any]] = []
    for f in SCHEMA:
        value = columns.get(f.name)
        if value is None:
            arrays.append(pa.nulls(n, f.type))
            continue
        if f.name in LIST_COLUMNS and isinstance(value, np.ndarray) and value.ndim == 2:
            rows, width = value.shape
            offsets = pa.array(np.arange(0, (rows + 1) * width, width, dtype=np.int32), pa.int32())
            values = pa.array(value.ravel(), f.type.value_type, from_pandas=True)
            arrays.append(pa.ListArray.from_arrays(offsets, values))
            continue
        if np.isscalar(value) or isinstance(value, str):
            value = [value] * n
        if f.name in DICT_COLUMNS:
            arrays.append(pa.array(value, pa.string()).dictionary_encode())
        else:
            arrays.append(pa.array(value, f.type, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def publish(tmp: Path, target: Path, *, overwrite: bool) -> None:
    """Give a finished temp file its final name in one step; never replace a file unless asked.

    Without `overwrite` the file is hard-linked to the final name, which fails if that name
    exists (even if it appeared after the caller's check), then the temp name is dropped. File
    systems without hard links fall back to a checked rename. OSError on a failed rename.
    """
    if overwrite:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise TraceError(f"{target} exists (use --force to overwrite)") from None
    except OSError:  # no hard links here (FAT, some network file systems)
        if os.path.lexists(target):
            raise TraceError(f"{target} exists (use --force to overwrite)") from None
        os.replace(tmp, target)
        return
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class TraceWriter:
    """Context manager writing one trace atomically.

    Everything goes to a hidden temp file beside the target; only a clean exit renames it to
    the final name, so an interrupted or failed run never leaves a half-written trace there.
    """

    def __init__(self, path: Path, config: RunConfig, *, overwrite: bool = False) -> None:
        self.path = Path(path)
        self.config = config
        self.overwrite = overwrite
        self.rows = 0
        self._tmp: Path | None = None
        self._writer: pq.ParquetWriter | None = None

    def __enter__(self) -> TraceWriter:
        if self.path.exists() and not self.overwrite:
            raise TraceError(f"{self.path} exists (use --force to overwrite)")
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
            os.close(fd)
        except OSError as exc:
            raise TraceError(f"cannot write to {directory}: {exc.strerror or exc}") from None
        self._tmp = Path(tmp)
        schema = SCHEMA.with_metadata(
            {META_VERSION: SCHEMA_VERSION.encode(), META_CONFIG: self.config.to_json().encode()}
        )
        try:
            # mkstemp makes the file 0600; a trace is a shareable data file: honour the umask.
            os.chmod(tmp, 0o666 & ~_umask())
            self._writer = pq.ParquetWriter(
                str(self._tmp), schema, compression="zstd", write_statistics=["t"]
            )
        except (OSError, pa.ArrowException) as exc:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None
            raise TraceError(f"cannot write {self.path}: {_reason(exc)}") from None
        return self

    def write(self, table: pa.Table) -> None:
        """Append rows (already sorted by t and after every earlier row)."""
        assert self._writer is not None, "TraceWriter used outside its with-block"
        if table.num_rows == 0:
            return
        try:
            self._writer.write_table(table.unify_dictionaries(), row_group_size=ROW_GROUP_ROWS)
        except (OSError, pa.ArrowException) as exc:
            raise TraceError(f"cannot write {self.path}: {_reason(exc)}") from None
        self.rows += table.num_rows

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tmp, writer = self._tmp, self._writer
        self._tmp = self._writer = None
        try:
            if writer is not None:
                writer.close()
            if exc_type is None and tmp is not None:
                publish(tmp, self.path, overwrite=self.overwrite)
                tmp = None
        except (OSError, pa.ArrowException) as err:
            raise TraceError(f"cannot write {self.path}: {_reason(err)}") from None
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)


def _reason(exc: BaseException) -> str:
    """The OS's words for a failed write ("No space left on device"), on one short line."""
    text = " ".join(str(exc.strerror if isinstance(exc, OSError) and exc.strerror else exc).split())
    errno = re.search(r"\[errno (\d+)\]", text)  # pyarrow: "Error writing bytes ... [errno 28] ..."
    if errno:
        return os.strerror(int(errno.group(1)))
    return text[:160] or type(exc).__name__
