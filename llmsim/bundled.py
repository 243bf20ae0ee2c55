"""Where the bundled sample runs live, and how a run's name resolves to its trace.

The runs ship as package data in `llmsim/traces/` (the repository's top-level `traces/` is a
link to that folder, so examples that name `traces/...` work from a clone too).
"""

from __future__ import annotations

from pathlib import Path

BUNDLED_DIR = Path(__file__).resolve().parent / "traces"
SUFFIX = ".parquet"


def bundled_traces() -> list[Path]:
    """The bundled sample traces, sorted by name (empty if the package data is missing)."""
    return sorted(BUNDLED_DIR.glob(f"*{SUFFIX}")) if BUNDLED_DIR.is_dir() else []


def bundled_names() -> list[str]:
    """The names users give bundled runs: file names without `.parquet`."""
    return [p.name[: -len(SUFFIX)] for p in bundled_traces()]


def find_bundled(name: str) -> Path | None:
    """The bundled trace called `name` (with or without `.parquet`), or None."""
    stem = name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name
    if not stem or "/" in stem or stem.startswith("."):
        return None
    path = BUNDLED_DIR / f"{stem}{SUFFIX}"
    return path if path.is_file() else None
