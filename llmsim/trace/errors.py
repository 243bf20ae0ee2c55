"""The one error type of the trace contract: every problem with a trace file becomes a TraceError."""

from llmsim.errors import InputError


class TraceError(InputError):
    """A trace file is missing, unreadable, of a foreign shape or holds invalid values.

    The message is one line naming the file, meant for the user as it is (exit status 1).
    """
