"""The scheduler, the player's top layer below its API: what happens when.

`playlist` turns traces into beats in playlist time (loops, fresh runs, start points, stamps
that never go backwards); `runner` plays beats on a sink against a `clock` (speed, limits,
coalescing when behind); `signals` turns stop signals and resizes into flags.
"""
