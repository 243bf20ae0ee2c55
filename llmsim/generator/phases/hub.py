"""`hf upload` of huggingface_hub 0.36.0 with hf-xet (a default dependency on x86_64): its two
INFO lines and the Xet reporter's bars, as `progress` rows with op `upload`.

Sources (huggingface_hub 0.36.0 wheel): `cli/upload.py:208` (INFO verbosity: `Start hashing N
files.` and `Finished hashing N files.`, hf_api.py:9619/9627), `utils/_xet_progress_reporting.py`
(XetProgressReporter: `Processing Files (k / n)` at position 0 and `New Data Upload` at 1,
their descriptions ljust(30), each with its speed as postfix; a bar per file from position 2 in
the order files start, described as `"  " + name.ljust(28)` or `"  ..." + name[-25:]`, tqdm with
unit B, unit_scale, divisor 1000, leave=True, bar_format
`{l_bar}{bar}| {n_fmt:>5}B / {total_fmt:>5}B{postfix:>12}`; ten file bars at most, the last
then counting `[+ N files]`). Only files Xet takes (the weights: LFS-eligible) get a bar; the
small JSON files go in the commit itself. Each row's `rank` is its bar's position and `text` its
description as the reporter formats it; the player draws the rest (views/tmux/tqdm.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from llmsim.generator.rows import Rows
from llmsim.generator.stacks.common.shell import Shell

REFRESH: Final = 0.5  # seconds between the reporter's updates (the rows)
DESC: Final = 30  # description_width
LINES: Final = 10  # n_lines: file bars at most
LFS_BYTES: Final = 10 * 10**6  # bigger files are LFS-eligible (the Hub's threshold)
HASH_GBS: Final = (1.0, 2.5)  # sha256 of the files before the upload, GB/s
IMPORTS_S: Final = (0.8, 1.8)  # the CLI's start-up before its first line


def desc(name: str, indent: bool) -> str:
    """XetProgressReporter.format_desc."""
    padding = "  " if indent else ""
    width = DESC - len(padding)
    if len(name) > width:
        name = f"...{name[-(width - 3) :]}"
    return f"{padding}{name.ljust(width)}"


def upload(
    shell: Shell,
    rows: Rows,
    folder: str,
    files: Sequence[tuple[str, int]],
    mbs: float,
    rng: np.random.Generator,
) -> None:
    """The upload's lines and bars, from the shell's clock on; the clock ends after them."""
    clock = shell.clock
    total = sum(size for _, size in files)
    shell.output(f"Start hashing {len(files)} files.", float(rng.uniform(*IMPORTS_S)))
    shell.output(
        f"Finished hashing {len(files)} files.", total / (float(rng.uniform(*HASH_GBS)) * 1e9)
    )
    xet = [(f"{folder}/{name}", size) for name, size in files if size > LFS_BYTES]
    if not xet:
        return
    t0 = clock.t + float(rng.uniform(0.3, 1.0))
    rate = mbs * 1e6
    starts = t0 + np.cumsum([0.0] + [float(rng.uniform(0.1, 0.6)) for _ in xet[1:]])
    share = np.array([size for _, size in xet], dtype=np.float64) / sum(s for _, s in xet)
    ends = starts + np.array([size for _, size in xet]) / (rate * share)
    end = float(ends.max())
    ticks = np.append(np.arange(t0, end, REFRESH), end)
    every = sum(s for _, s in xet)
    for k, t in enumerate(ticks):
        last = k == len(ticks) - 1  # every file is through (no float shortfall of a byte)
        done = [
            size if last else int(min(size, max(0.0, (t - s) * rate * sh)))
            for (_, size), s, sh in zip(xet, starts, share, strict=True)
        ]
        finished = sum(1 for d, (_, size) in zip(done, xet, strict=True) if d >= size)
        elapsed = float(t - t0)
        moved = sum(done)
        _row(
            rows,
            t,
            0,
            desc(f"Processing Files ({finished} / {len(xet)})", False),
            moved,
            every,
            elapsed,
        )
        _row(rows, t, 1, desc("New Data Upload", False), moved, every, elapsed)
        for i, ((name, size), d) in enumerate(zip(xet, done, strict=True)):
            if d == 0:
                continue
            position = 2 + min(i, LINES - 1)
            label = desc(name, True)
            if i >= LINES - 1 and len(xet) > LINES:
                extra = len(xet) - LINES + 1
                label = desc(f"[+ {extra} files]", True)
                d, size = sum(done[LINES - 1 :]), sum(s for _, s in xet[LINES - 1 :])
                if i > LINES - 1:
                    continue
            _row(rows, t, position, label, d, size, elapsed)
    clock.t = end


def _row(
    rows: Rows, t: float, position: int, label: str, done: int, total: int, elapsed: float
) -> None:
    rows.add(
        float(t),
        "progress",
        "summary",
        op="upload",
        rank=position,
        text=label,
        done=done,
        total=total,
        unit="B",
        elapsed=elapsed,
    )
