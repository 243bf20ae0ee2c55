"""The live region layer: styled rows become terminal text, frames redraw a pinned region.

Cursor moves are data (`control`), styles become SGR codes in one place (`ansi`), and
`region.LiveRegion` composes each frame as one string for a sink to write.
"""
