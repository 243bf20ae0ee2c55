"""`python -m llmsim` runs the command line."""

import sys

from llmsim.cli import main

if __name__ == "__main__":
    sys.exit(main())
