"""Cursor control as data: a frame is a list of text pieces and Moves, encoded in one place."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Final, NamedTuple


class Op(Enum):
    """The terminal operations the player uses (nothing else ever goes out)."""

    CR = "cr"  # to column 0
    NEWLINE = "newline"  # CR LF: explicit CR, right in raw mode and casts, not only with ONLCR
    UP = "up"  # n rows up (the terminal stops at the top)
    DOWN = "down"  # n rows down (no scrolling)
    RIGHT = "right"  # n columns right
    ERASE_DOWN = "erase_down"  # from the cursor to the end of the screen
    ERASE_LINE = "erase_line"  # from the cursor to the end of the row
    HIDE_CURSOR = "hide_cursor"
    SHOW_CURSOR = "show_cursor"
    RESET = "reset"  # colours and attributes back to the defaults
    GOTO = "goto"  # to row n, column col (0-based): a full-screen layout's cursor address
    ERASE_SCREEN = "erase_screen"  # the whole screen blank


class Move(NamedTuple):
    """One control operation, repeated `n` times where that means something (UP, DOWN, RIGHT);
    for GOTO, `n` is the row and `col` the column."""

    op: Op
    n: int = 1
    col: int = 0


CODES: Final[dict[Op, str]] = {
    Op.CR: "\r",
    Op.NEWLINE: "\r\n",
    Op.UP: "\x1b[{n}A",
    Op.DOWN: "\x1b[{n}B",
    Op.RIGHT: "\x1b[{n}C",
    Op.ERASE_DOWN: "\x1b[J",
    Op.ERASE_LINE: "\x1b[K",
    Op.HIDE_CURSOR: "\x1b[?25l",
    Op.SHOW_CURSOR: "\x1b[?25h",
    Op.RESET: "\x1b[0m",
    Op.GOTO: "\x1b[{row};{col}H",
    Op.ERASE_SCREEN: "\x1b[2J",
}

Piece = str | Move


def encode(pieces: Iterable[Piece]) -> str:
    """The bytes (as text) of a frame: text as it is, moves through CODES."""
    out: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece)
        elif piece.op in (Op.UP, Op.DOWN, Op.RIGHT):
            if piece.n > 0:
                out.append(CODES[piece.op].format(n=piece.n))
        elif piece.op is Op.GOTO:
            out.append(CODES[Op.GOTO].format(row=piece.n + 1, col=piece.col + 1))
        else:
            out.append(CODES[piece.op])
    return "".join(out)
