"""llmsim: make a terminal look like a large language model is being trained on a GPU cluster."""

from importlib import metadata


def _version() -> str:
    # One source: the version in pyproject.toml, as installed (wheel, pipx, editable). A bare
    # source tree that was never installed has no metadata; say so rather than guess.
    try:
        return metadata.version("llmsim")
    except metadata.PackageNotFoundError:
        return "0+unknown"


__version__ = _version()
