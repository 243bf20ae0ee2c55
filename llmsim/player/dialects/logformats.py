"""The prefix of a `log` row, drawn from its LogFormat (the `source` column).

Templates: docs/trace-format.md, "Log formats". The stamp is the playback clock's.
"""

from __future__ import annotations

import re
from typing import Final

from llmsim.player.dialects.base import Line, Segment, Stamps
from llmsim.trace import Event

STAMP_MARK = "{stamp}"  # where an `inline-stamp` line's text takes the playback stamp
# The general mark (2.5): `{stamp}`, `{stamp-S}` (the stamp S seconds before the line's: a file's
# mtime in `ls -l`, the start of a W&B run in its footer), either with `:pattern` (a strftime
# pattern of its own, else the `origin`'s); in `inline-stamp` and `wandb` lines.
MARK: Final = re.compile(
    r"\{stamp(?P<back>-\d{1,9}(?:\.\d{1,6})?)?(?::(?P<pattern>[^{}]{1,64}))?\}"
)


def stamped(text: str, pattern: str, when: float, stamps: Stamps) -> tuple[Segment, ...]:
    """`text` with each stamp mark drawn at its time (the line's, or S seconds before)."""
    out: list[Segment] = []
    pos = 0
    for m in MARK.finditer(text):
        out.append((text[pos : m.start()], None))
        at = when + float(m.group("back") or 0.0)
        out.append((stamps.pattern(m.group("pattern") or pattern, at), "time"))
        pos = m.end()
    out.append((text[pos:], None))
    return tuple(out)


def log_line(ev: Event, when: float, stamps: Stamps) -> Line:
    """The line a `log` row prints: its format's prefix and its text."""
    level = ev.level or "INFO"
    origin = ev.origin or ""
    text = ev.text or ""
    fmt = ev.source or "plain"
    prefix: list[Segment] = []
    if ev.rank is not None:
        prefix.append((f"[rank{ev.rank}]:", None))
    if fmt == "hf":
        prefix += [("[", None), (level, level), (f"|{origin}] ", "origin")]
        prefix += [(stamps.millis(when), "time"), (" >> ", None)]
    elif fmt == "hf-script":
        prefix += [(stamps.us_date(when), "time"), (" - ", None), (level, level)]
        prefix += [(f" - {origin} - ", "origin")]
    elif fmt == "torchrun":
        prefix += [(stamps.glog(when, level), level), (f" {origin}] ", "origin")]
    elif fmt == "c10":
        prefix += [("[", None), (stamps.glog(when, level, 9), level), (f" {origin}] ", "origin")]
    elif fmt == "deepspeed":
        prefix += [(f"[{stamps.millis(when)}]", "time"), (" [", None), (level, level)]
        prefix += [("] ", None), (f"[{origin}] ", "origin")]
    elif fmt == "megatron-ts":
        indent = text[: len(text) - len(text.lstrip(" "))]
        prefix += [(indent, None), (f"[{stamps.micros(when)}] ", "time")]
        text = text[len(indent) :]
    elif fmt == "megatron-dated":
        return Line(tuple(prefix), ((text, None), (stamps.seconds(when) + " ", "time")))
    elif fmt == "titan":
        prefix += [("[titan] ", None), (stamps.millis(when), "time"), (f" - {origin} - ", "origin")]
        prefix += [(level, level), (" - ", None)]
    elif fmt == "pylog":
        prefix += [(level, level), (f":{origin}:", "origin")]
    elif fmt == "pylog-stamped":
        prefix += [
            (level, level),
            (f":{origin}:", "origin"),
            (f"[{stamps.seconds(when)}] ", "time"),
        ]
    elif fmt == "inline-stamp":
        if MARK.search(text):
            body = stamped(text, origin or "%Y-%m-%d %H:%M:%S", when, stamps)
            return Line(tuple(prefix), body)
    elif fmt == "tool":
        prefix += tool_prefix(stamps, when, level, origin)
    elif fmt == "wandb":
        prefix += [("wandb", "wandb"), (": ", None)]  # wandb's termlog: the name blue, bold
        if MARK.search(text):
            return Line(tuple(prefix), stamped(text, origin or "%Y%m%d_%H%M%S", when, stamps))
    elif fmt == "vllm":
        prefix += [(level, level), (f" {stamps.pattern('%m-%d %H:%M:%S', when)} ", "time")]
        prefix += [(f"[{origin}] ", "origin")]
    elif fmt == "ray":
        prefix.append((f"({origin}) ", "origin"))
    elif fmt == "ray-pylog":
        prefix += [(f"({origin}) ", "origin"), (level, level), (f":{stamps.millis(when)}:", "time")]
    elif fmt == "ray-driver":
        # the tab after the 23-character stamp reaches the next 8-column stop: one space
        prefix += [(stamps.millis(when), "time"), (" ", None), (level, level)]
        prefix += [(f" {origin} -- ", "origin")]
    body_style = level if level in ("ERROR", "CRITICAL") else None
    if "\t" in text:  # a terminal moves a tab to the next 8-column stop from the line's start
        lead = "".join(t for t, _ in prefix)
        text = (lead + text).expandtabs(8)[len(lead) :]
    return Line(tuple(prefix), ((text, body_style),))


def tool_prefix(stamps: Stamps, when: float, level: str, origin: str) -> list[Segment]:
    """`[2026-11-30 12:06:22] INFO    monitor    | `: llmsim's own tools (monitor, export)."""
    return [
        (f"[{stamps.seconds(when)}] ", "time"),
        (level.ljust(7), level),
        (f" {origin:<10} ", "origin"),
        ("| ", "sep"),
    ]
