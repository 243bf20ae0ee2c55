"""`python -m llmsim.player [TRACE|DIR ...] [options]`: run the player without the CLI (tests)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from llmsim.player.options import PlayOptions
from llmsim.player.play import play


def main(argv: list[str] | None = None) -> int:
    """Parse a minimal command line and play; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m llmsim.player")
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--once", action="store_true")
    parser.add_argument("--shuffle", action="store_true")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--exit-after", type=float, default=None)
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    parser.add_argument("--timestamps", choices=("wall", "trace"), default="wall")
    parser.add_argument("--ascii", action="store_true", default=None)
    args = parser.parse_args(argv)
    try:
        options = PlayOptions(
            speed=args.speed,
            once=args.once,
            shuffle=args.shuffle,
            seed=args.seed,
            exit_after=args.exit_after,
            color=args.color,
            timestamps=args.timestamps,
            ascii=args.ascii,
        )
    except ValueError as exc:
        parser.error(str(exc))
    return play(args.paths, options)


if __name__ == "__main__":
    sys.exit(main())
