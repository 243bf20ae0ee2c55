"""The `llmsim` command line (`llmsim.cli:main` is the console script).

One module per command (generate, play, cast, info, listing); `app` wires them and `main` is
the one place errors become a line on stderr and an exit status (`report`).
"""

from llmsim.cli.app import app, main

__all__ = ["app", "main"]
