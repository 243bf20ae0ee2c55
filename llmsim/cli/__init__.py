"""The `llmsim` command line (`llmsim.cli:main` is the console script).

One module per command (generate, play, cast, info, listing); `app` wires them with typer and
`entry.main` is the one exit path, where errors become a line on stderr and an exit status
(`report`). Nothing here imports typer: `llmsim play` can start without it (`quickplay`).
"""

from llmsim.cli.entry import main

__all__ = ["main"]
