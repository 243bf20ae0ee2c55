"""Neutralise control and escape characters in trace text before it reaches a terminal or cast.

Text in a trace is data written by someone else. A log message holding ESC, a C1 CSI (U+009B),
an OSC title or clipboard sequence, a bidi override or a NUL must never act on the viewer's
terminal, so every string from a trace (log text, labels, paths, names, hostnames) goes through
`clean` on its way to the screen. Each offending character becomes a visible, inert glyph so a
hostile trace shows what it tried, and over-long text is cut so one row cannot flood the screen.
For a terminal without UTF-8, `ascii_fold` then turns what is left outside ASCII into '?'.
"""

from __future__ import annotations

from typing import Final

from rich.cells import get_character_cell_size

# Characters of a log message kept: longer than any real line (verl prints a ~6,000-character
# metrics line every step, vLLM its engine config in ~2,500), short enough to bound a frame.
MAX_TEXT: Final = 16_384
MAX_MESSAGE: Final = 1_000  # characters of one of llmsim's own messages (an error, a notice)
MAX_NAME: Final = 200  # characters of a label, path, run or host name kept
ELLIPSIS: Final = "…"
REPLACEMENT: Final = "\ufffd"  # '�': shown in place of any invisible or format character


def _caret(code: int) -> str:
    # Caret notation, as `cat -v` prints it: ESC -> ^[, NUL -> ^@, DEL -> ^?. ASCII and inert.
    return "^" + chr(code ^ 0x40)


def _build_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0x20):
        table[code] = _caret(code)
    # Whitespace controls read as word breaks in a message; a space keeps the words apart
    # without moving the cursor (a LF or CR would break the live region's line accounting).
    for code in (0x09, 0x0A, 0x0B, 0x0C, 0x0D):
        table[code] = " "
    table[0x7F] = _caret(0x7F)
    for code in range(0x80, 0xA0):  # C1 controls: U+009B is a one-byte CSI on some terminals
        table[code] = REPLACEMENT
    return table


_TABLE: Final = _build_table()
# The same, with tabs kept as tabs: a job's bytes laid out by a terminal's tab stops.
_TABS_TABLE: Final = {**_TABLE, 0x09: "\t"}
# A job's line kept whole: the trace reader's limit for a string (llmsim.trace.reader.MAX_TEXT;
# a test keeps them equal). Real lines reach thousands (Megatron's argument dump, config reprs).
MAX_JOB_TEXT: Final = 65_536


def _slow(text: str, table: dict[int, str] = _TABLE) -> str:
    out: list[str] = []
    append = out.append
    for ch in text:
        code = ord(ch)
        mapped = table.get(code)
        if mapped is not None:
            append(mapped)
        elif ch.isprintable():
            append(ch)
        elif ch.isspace():
            # No-break and other Unicode spaces (category Zs) are harmless but not "printable";
            # U+2028/U+2029 (line/paragraph separators) are spaces too and become one.
            append(" ")
        else:
            # Everything else str.isprintable() rejects: format characters (bidi embeddings,
            # overrides and isolates U+202A-E, U+2066-9, marks U+200E/F, zero-width joiners,
            # BOM, tag characters), surrogates, private use and unassigned code points.
            append(REPLACEMENT)
    return "".join(out)


def clean(text: str, limit: int = MAX_TEXT) -> str:
    """Return `text` with every control/format character replaced by a visible inert glyph.

    The result holds no character that a terminal interprets (no C0, DEL, C1, bidi or other
    format character) and is at most `limit` characters plus an ellipsis.
    """
    if len(text) > limit:
        text = text[:limit] + ELLIPSIS
    # Fast paths: nearly every real log line is printable ASCII, which needs no work at all;
    # the rest mostly holds only C0/C1 controls (a tab in Megatron's parameter lists), which
    # one str.translate replaces. Only what is still not printable is looked at character by
    # character (the table's glyphs are printable, so the result is the same as _slow's).
    if text.isprintable() and text.isascii():
        return text
    text = text.translate(_TABLE)
    return text if text.isprintable() else _slow(text)


def clean_job(text: str) -> str:
    """`clean` for a line of a job's output shown as the job printed it: tabs stay tabs (the
    screen puts them at 8-column stops), nothing is cut up to MAX_JOB_TEXT characters (the
    trace reader refuses longer strings)."""
    if len(text) > MAX_JOB_TEXT:
        text = text[:MAX_JOB_TEXT] + ELLIPSIS
    if text.isascii() and text.isprintable():
        return text
    return _slow(text, _TABS_TABLE)


def clean_name(text: str) -> str:
    """`clean` for short strings: labels, file names, paths, model, run and host names."""
    return clean(text, MAX_NAME)


def ascii_fold(line: str) -> str:
    """`line` with every non-ASCII character as '?' (zero-width ones dropped): pure ASCII.

    For terminals whose locale is not UTF-8. A '?' never takes more cells than the character
    it stands for, so a line laid out to fit the terminal still fits. SGR codes are ASCII and
    pass through untouched.
    """
    if line.isascii():
        return line
    return "".join(
        ch if ch.isascii() else ("?" if get_character_cell_size(ch) else "") for ch in line
    )
