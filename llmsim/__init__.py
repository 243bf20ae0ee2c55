"""llmsim: make a terminal look like a large language model is being trained on a GPU cluster."""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def _version() -> str:
    # One source: the version in pyproject.toml, as installed (wheel, pipx, editable). A bare
    # source tree that was never installed has no metadata; say so rather than guess.
    from importlib import metadata  # ~20 ms: only when asked, not on every start

    try:
        return metadata.version("llmsim")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def __getattr__(name: str) -> Any:
    """`llmsim.__version__`, read from the package metadata on first use."""
    if name == "__version__":
        return _version()
    raise AttributeError(f"module 'llmsim' has no attribute {name!r}")
