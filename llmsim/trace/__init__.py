"""The trace contract: vocabularies, schema and version, run config, typed events, writer, reader.

The names below are loaded on first use (PEP 562), so importing `llmsim.trace.errors` (as the
CLI does for every command, `--help` included) does not pull in pyarrow and numpy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from llmsim.trace.errors import TraceError

if TYPE_CHECKING:
    from llmsim.trace.cadence import prints_step
    from llmsim.trace.config import RunConfig
    from llmsim.trace.events import Event
    from llmsim.trace.reader import TraceFile, open_trace
    from llmsim.trace.schema import SCHEMA, SCHEMA_VERSION
    from llmsim.trace.writer import TraceWriter, make_table

_WHERE = {
    "RunConfig": "llmsim.trace.config",
    "Event": "llmsim.trace.events",
    "TraceFile": "llmsim.trace.reader",
    "open_trace": "llmsim.trace.reader",
    "SCHEMA": "llmsim.trace.schema",
    "SCHEMA_VERSION": "llmsim.trace.schema",
    "TraceWriter": "llmsim.trace.writer",
    "make_table": "llmsim.trace.writer",
    "prints_step": "llmsim.trace.cadence",
}

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "Event",
    "RunConfig",
    "TraceError",
    "TraceFile",
    "TraceWriter",
    "make_table",
    "open_trace",
    "prints_step",
]


def __getattr__(name: str) -> Any:
    """Import the module that defines `name` on first access, then keep the name here."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
