"""Views, the player's bottom layer: pure functions of a run's state and a terminal size.

They return rows of (text, style name) segments and never write, read a clock or compute a
figure that is shown: every number comes from the trace. `renderer.Renderer` keeps one run's
state and decides which view draws what; the other modules are the views themselves.
"""
