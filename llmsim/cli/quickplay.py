"""`llmsim play …` read without typer, so that the first frame does not wait for typer.

typer (>= 0.29 with pydantic) takes about 0.1 s to import and to coerce play's options, which
is most of what lies between the start and the first frame beside the trace reader's pyarrow.
`parse` reads play's options from a mirror of its declaration (OPTIONS; tests/test_quickplay.py
pins it to the typer command, spelling for spelling) and gives `llmsim.cli.playing.run` the
same arguments typer would. Whatever it is not sure of (help, completion, an unknown option,
a value typer might read otherwise, `--`) it leaves to typer, which says what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

Kind = Literal["flag", "str", "int", "float"]
COMMAND: Final = "play"
COMPLETE_VAR: Final = "_LLMSIM_COMPLETE"  # set when a shell asks for completions
# Every option string of `llmsim play` -> (the parameter it sets, what its value is).
OPTIONS: Final[dict[str, tuple[str, Kind]]] = {
    "-s": ("speed", "float"),
    "--speed": ("speed", "float"),
    "--speed-factor": ("speed", "float"),
    "--once": ("once", "flag"),
    "--shuffle": ("shuffle", "flag"),
    "--exit-after": ("exit_after", "str"),
    "--exit-after-time": ("exit_after", "str"),
    "--exit-after-runs": ("exit_after_runs", "int"),
    "--exit-after-modules": ("exit_after_runs", "int"),
    "--start-at": ("start_at", "str"),
    "--layout": ("layout", "str"),
    "-i": ("idle_time_limit", "str"),
    "--idle-time-limit": ("idle_time_limit", "str"),
    "--seed": ("seed", "int"),
    "--models": ("models", "str"),
    "--color": ("color", "str"),
    "--timestamps": ("timestamps", "str"),
}
# Numbers every typer release reads the same way as Python does (no sign, no underscores).
INT: Final = re.compile(r"[0-9]+")
FLOAT: Final = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def parse(argv: Sequence[str], environ: Mapping[str, str]) -> dict[str, Any] | None:
    """The keyword arguments of `playing.run` for `argv`, or None to leave it to typer."""
    if not argv or argv[0] != COMMAND or environ.get(COMPLETE_VAR):
        return None
    values: dict[str, Any] = {}
    traces: list[str] = []
    rest = list(argv[1:])
    while rest:
        arg = rest.pop(0)
        if not arg.startswith("-") or arg == "-":
            if arg == "-":
                return None
            traces.append(arg)
            continue
        name, equals, text = arg.partition("=")
        known = OPTIONS.get(name)
        if known is None:  # --help, --, a typo: typer's to answer
            return None
        dest, kind = known
        if kind == "flag":
            if equals:
                return None
            values[dest] = True
            continue
        if not equals:
            if not rest or rest[0].startswith("-"):
                return None
            text = rest.pop(0)
        value = _value(text, kind)
        if value is None:
            return None
        values[dest] = value
    return {"traces": traces or None, **values}


def _value(text: str, kind: Kind) -> str | int | float | None:
    if kind == "int":
        return int(text) if INT.fullmatch(text) else None
    if kind == "float":
        return float(text) if FLOAT.fullmatch(text) else None
    return text
