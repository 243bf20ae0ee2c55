"""Streaming, atomic trace writer: row groups go to a temp file that is renamed into place at the end."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from llmsim.errors import InputError
from llmsim.fileio import atomic_path, reason
from llmsim.trace.config import RunConfig
from llmsim.trace.errors import TraceError
from llmsim.trace.schema import (
    DICT_COLUMNS,
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
        if pa.types.is_list(f.type) and isinstance(value, np.ndarray) and value.ndim == 2:
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


class TraceWriter:
    """Context manager writing one trace atomically (llmsim.fileio.atomic_path).

    Everything goes to a hidden temp file beside the target; only a clean exit renames it to
    the final name, so an interrupted or failed run never leaves a half-written trace there.
    """

    def __init__(self, path: Path, config: RunConfig, *, overwrite: bool = False) -> None:
        self.path = Path(path)
        self.config = config
        self.overwrite = overwrite
        self.rows = 0
        self._stack: contextlib.ExitStack | None = None
        self._writer: pq.ParquetWriter | None = None

    def __enter__(self) -> TraceWriter:
        stack = contextlib.ExitStack()
        try:
            tmp = stack.enter_context(atomic_path(self.path, overwrite=self.overwrite, mkdir=True))
            schema = SCHEMA.with_metadata(
                {META_VERSION: SCHEMA_VERSION.encode(), META_CONFIG: self.config.to_json().encode()}
            )
            # Opened by Python, not by pyarrow from a name: a name that is not UTF-8 (Python
            # keeps its bytes as lone surrogates, which pyarrow cannot encode) is written too.
            sink = stack.enter_context(tmp.open("wb"))
            self._writer = pq.ParquetWriter(
                sink, schema, compression="zstd", write_statistics=["t"]
            )
        except (OSError, pa.ArrowException) as exc:
            # Unwind with the error: a plain close() would tell atomic_path all went well and
            # publish the empty temp file under the target's name.
            self._abort(stack, exc)
        except BaseException as exc:
            stack.__exit__(type(exc), exc, exc.__traceback__)  # removes the temp file
            raise
        self._stack = stack
        return self

    def _abort(self, stack: contextlib.ExitStack, exc: BaseException) -> NoReturn:
        """Unwind the atomic file with `exc` (its temp file removed) and say it as ours."""
        with contextlib.suppress(InputError):  # atomic_path's wording of the same error
            stack.__exit__(type(exc), exc, exc.__traceback__)
        raise TraceError(f"cannot write {self.path}: {reason(exc)}") from None

    def write(self, table: pa.Table) -> None:
        """Append rows (already sorted by t and after every earlier row)."""
        assert self._writer is not None, "TraceWriter used outside its with-block"
        if table.num_rows == 0:
            return
        try:
            self._writer.write_table(table.unify_dictionaries(), row_group_size=ROW_GROUP_ROWS)
        except (OSError, pa.ArrowException) as exc:
            raise TraceError(f"cannot write {self.path}: {reason(exc)}") from None
        self.rows += table.num_rows

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        writer, stack = self._writer, self._stack
        self._writer = self._stack = None
        if stack is None:
            return
        try:
            if writer is not None:
                writer.close()
        except (OSError, pa.ArrowException) as err:
            self._abort(stack, err)
        except BaseException as err:
            stack.__exit__(type(err), err, err.__traceback__)
            raise
        try:
            stack.__exit__(exc_type, exc, tb)  # publishes only when exc_type is None
        except InputError as err:
            if exc_type is None:
                raise TraceError(str(err)) from None
            raise
