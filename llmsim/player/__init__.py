"""The player: turns traces into a terminal show (`play`) or a recording (`export_cast`).

Four layers, each importing only the ones below it (an import-linter contract checks it):
`views` (pure: state + size -> rows of styled segments), `live` (the live region: frames with
cursor moves as data), `sinks` (the terminal and the cast: the only writers of bytes) and
`scheduler` (when: clock, speed, limits, coalescing, start points); `play` and `cast` wire a
sink to the scheduler. The player imports llmsim.trace and rich, never the generator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmsim.player.options import CastOptions, PlayOptions, StartAt

# Imported here, not on first use: the function must be the package's `play` attribute before
# anything imports the module of the same name (the import system would bind the module).
# It is cheap: the trace reader (pyarrow) is loaded when the first trace is opened.
from llmsim.player.play import play

if TYPE_CHECKING:
    from llmsim.player.cast import export_cast

__all__ = ["CastOptions", "PlayOptions", "StartAt", "export_cast", "play"]


def __getattr__(name: str) -> Any:
    if name == "export_cast":
        from llmsim.player.cast import export_cast

        return export_cast
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
