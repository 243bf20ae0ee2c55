"""Does the terminal named by TERM understand the cursor moves of the live region?

The live region moves the cursor up (CSI n A) and erases (CSI J, CSI K). A terminal that
cannot (TERM=dumb, a teletype, an Emacs shell buffer, a VT52) would print those bytes as
garbage, so it gets line mode. The answer comes from the terminfo entry when the system has
one (compiled format, term(5): the entry must define cursor-up with a parameter and both
erases as CSI sequences). A name the database does not know is trusted only if it belongs
to a family of ANSI terminals (a kitty or alacritty user over ssh often has no entry for
their terminal on the remote side); anything else is line mode. No TERM at all is trusted
(Windows terminals set none and understand ANSI).
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

NO_CURSOR: Final = frozenset({"dumb", "unknown"})  # and dumb-*: what systems set for no terminal
# Families of terminals that speak ANSI, trusted when the database has no entry for them.
ANSI_FAMILIES: Final = (
    "xterm", "screen", "tmux", "rxvt", "vt1", "vt2", "vt3", "vt4", "vt5", "linux", "ansi",
    "kitty", "alacritty", "wezterm", "foot", "st-", "konsole", "gnome", "putty", "cygwin",
    "eterm", "iterm", "contour", "ghostty", "ms-terminal", "mintty", "rio",
)  # fmt: skip
_SYSTEM_DIRS: Final = ("/etc/terminfo", "/lib/terminfo", "/usr/share/terminfo")
_MAGIC_16: Final = 0o432  # legacy format: 16-bit numbers
_MAGIC_32: Final = 0o1036  # extended format: 32-bit numbers
# Indexes of the string capabilities we need, in term.h's order.
_CLR_EOL: Final = 6  # el
_CLR_EOS: Final = 7  # ed
_PARM_UP_CURSOR: Final = 114  # cuu
_CSI: Final = b"\x1b["
_MAX_ENTRY: Final = 1 << 16  # bytes: a compiled entry is a few kB


def cursor_addressing(environ: Mapping[str, str]) -> bool:
    """True if the terminal named by `environ["TERM"]` takes the live region's cursor moves."""
    term = environ.get("TERM", "").strip()
    if not term:
        return True
    if term.lower() in NO_CURSOR or term.lower().startswith("dumb"):
        return False
    dirs = list(_search_path(environ))
    entry = _find(term, dirs)
    if entry is None:
        return term.lower().startswith(ANSI_FAMILIES)
    return _ansi_moves(entry)


def _search_path(environ: Mapping[str, str]) -> Iterator[Path]:
    """Where ncurses looks for entries, in its order: TERMINFO, ~/.terminfo, TERMINFO_DIRS,
    then the system folders."""
    if environ.get("TERMINFO"):
        yield Path(environ["TERMINFO"])
    if environ.get("HOME"):
        yield Path(environ["HOME"]) / ".terminfo"
    for part in environ.get("TERMINFO_DIRS", "").split(os.pathsep):
        yield Path(part) if part else Path("/usr/share/terminfo")
    yield from map(Path, _SYSTEM_DIRS)


def _find(term: str, dirs: list[Path]) -> bytes | None:
    """The compiled entry of `term` (Linux names folders by first letter, macOS by its hex)."""
    if "/" in term or term.startswith("."):
        return None
    for folder in dirs:
        for sub in (term[0], f"{ord(term[0]):02x}"):
            entry = _read_entry(folder / sub / term)
            if entry is not None:
                return entry
    return None


def _read_entry(path: Path) -> bytes | None:
    """The bytes of a compiled entry, if `path` is a regular file. Anything else (a FIFO, a
    device, a socket) is passed over without waiting: it is opened non-blocking and looked
    at before anything is read, as the trace reader does (a FIFO would block the player
    before its first frame; a terminal device would hand over what the user types)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except (OSError, ValueError):  # ValueError: a NUL in TERM
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read(_MAX_ENTRY)
    except OSError:
        return None
    finally:
        os.close(fd)


def _ansi_moves(entry: bytes) -> bool:
    """True if the entry's cursor-up and erases are CSI sequences (what the region sends)."""
    strings = _strings(entry)
    return all(strings.get(i, b"").startswith(_CSI) for i in (_CLR_EOL, _CLR_EOS, _PARM_UP_CURSOR))


def _strings(entry: bytes) -> dict[int, bytes]:
    """The string capabilities of a compiled entry by index (an unreadable entry: none)."""
    try:
        magic, names, bools, numbers, count, size = struct.unpack_from("<6h", entry)
        if magic not in (_MAGIC_16, _MAGIC_32) or min(names, bools, numbers, count, size) < 0:
            return {}
        at = 12 + names + bools
        at += (at % 2) + numbers * (4 if magic == _MAGIC_32 else 2)
        offsets = struct.unpack_from(f"<{count}h", entry, at)
        table = entry[at + 2 * count : at + 2 * count + size]
    except struct.error:
        return {}
    out: dict[int, bytes] = {}
    for index, offset in enumerate(offsets):
        if 0 <= offset < len(table):
            end = table.find(b"\0", offset)
            out[index] = table[offset : end if end >= 0 else len(table)]
    return out
