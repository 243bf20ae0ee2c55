"""What a GIF file says about itself, read block by block (GIF89a, https://www.w3.org/Graphics/GIF/spec-gif89a.txt):
its size, how often it loops and how long each frame shows. A test oracle, independent of agg."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field


@dataclass
class GifInfo:
    """The facts of one GIF file that the tests check."""

    width: int
    height: int
    loops: int | None = None  # NETSCAPE2.0 repeat count: 0 means forever; None: plays once
    delays: list[int] = field(default_factory=list)  # per frame, in 1/100 s

    @property
    def seconds(self) -> float:
        """How long one pass of the animation lasts."""
        return sum(self.delays) / 100


def _sub_blocks(data: bytes, pos: int) -> tuple[bytes, int]:
    """The concatenated data sub-blocks from `pos`, and the position after the terminator."""
    out = bytearray()
    while True:
        size = data[pos]
        pos += 1
        if size == 0:
            return bytes(out), pos
        out += data[pos : pos + size]
        pos += size


def read_gif(data: bytes) -> GifInfo:
    """Walk the blocks of a GIF (header, screen, extensions, images) up to its trailer."""
    assert data[:6] in (b"GIF87a", b"GIF89a"), data[:6]
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    info = GifInfo(width, height)
    pos = 13
    if flags & 0x80:  # a global colour table follows
        pos += 3 * (2 << (flags & 7))
    delay = 0
    while data[pos] != 0x3B:  # trailer
        kind = data[pos]
        if kind == 0x21:  # extension: label, then sub-blocks
            label = data[pos + 1]
            body, pos = _sub_blocks(data, pos + 2)
            if label == 0xF9:  # graphic control: the next image's delay
                delay = struct.unpack_from("<H", body, 1)[0]
            elif label == 0xFF and body.startswith(b"NETSCAPE2.0"):
                info.loops = struct.unpack_from("<H", body, 12)[0]
        elif kind == 0x2C:  # image descriptor, optional local table, LZW data
            local = data[pos + 9]
            pos += 10
            if local & 0x80:
                pos += 3 * (2 << (local & 7))
            _, pos = _sub_blocks(data, pos + 1)  # skip the LZW minimum code size byte
            info.delays.append(delay)
            delay = 0
        else:
            raise AssertionError(f"unexpected block 0x{kind:02x} at {pos}")
    return info
