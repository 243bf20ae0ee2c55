"""The trace contract: schema and version, run config, typed events, streaming writer and reader."""

from llmsim.trace.config import RunConfig
from llmsim.trace.errors import TraceError
from llmsim.trace.events import Event
from llmsim.trace.reader import TraceFile, open_trace
from llmsim.trace.schema import SCHEMA, SCHEMA_VERSION
from llmsim.trace.writer import TraceWriter, make_table

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
]
