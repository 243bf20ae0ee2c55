"""The player: renders traces to a terminal (and, through the same beats, to casts).

Public API: `play`, `PlayOptions`, `bundled_traces`, `iter_show`/`Beat`, `Renderer`/
`RenderOptions` and `LiveRegion`. Imports llmsim.trace and rich only, never the generator.
"""

from llmsim.player.live import LiveRegion
from llmsim.player.options import PlayOptions
from llmsim.player.play import bundled_traces, play
from llmsim.player.renderer import Renderer, RenderOptions
from llmsim.player.show import Beat, ShowError, iter_show

__all__ = [
    "Beat",
    "LiveRegion",
    "PlayOptions",
    "RenderOptions",
    "Renderer",
    "ShowError",
    "bundled_traces",
    "iter_show",
    "play",
]
