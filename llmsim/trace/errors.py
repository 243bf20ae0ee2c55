"""The one error type of the trace contract: every problem with a trace file becomes a TraceError."""


class TraceError(Exception):
    """A trace file is missing, unreadable, of a foreign shape or holds invalid values.

    The message is one line, meant for the user as it is (the CLI prints it after the file name).
    """
