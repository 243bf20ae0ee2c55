"""`python -m llmsim` runs the command line."""

import sys

from llmsim.cli import main

sys.exit(main())
