"""How llmsim was installed, so that a hint to add a package names a command that works.

A package added with `pip install` into a pipx or uv tool environment is lost at the next
upgrade, and `pip install 'llmsim[gif]'` fetches llmsim from the package index, which may not be
where this copy came from. So the command follows the installer: pipx marks its environments
with `pipx_metadata.json` and uv its tools with `uv-receipt.toml` (both in `sys.prefix`); a
plain environment's installer is named in llmsim's dist-info (`INSTALLER`, PEP 376), and where
llmsim came from in `direct_url.json` (PEP 610: a clone, a wheel file, a git URL).
"""

from __future__ import annotations

import json
import shlex
import sys
from importlib import metadata
from pathlib import Path
from typing import Final, Literal
from urllib.parse import unquote, urlparse

from llmsim.errors import PROG

Installer = Literal["pipx", "uv-tool", "uv", "pip"]
PIPX_MARKER: Final = "pipx_metadata.json"
UV_TOOL_MARKER: Final = "uv-receipt.toml"


def installer(prefix: Path | None = None) -> Installer:
    """Which tool installed the running llmsim (pip when nothing says otherwise)."""
    root = Path(sys.prefix) if prefix is None else prefix
    if (root / PIPX_MARKER).is_file():
        return "pipx"
    if (root / UV_TOOL_MARKER).is_file():
        return "uv-tool"
    try:
        named = (metadata.distribution(PROG).read_text("INSTALLER") or "").strip()
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        named = ""
    return "uv" if named == "uv" else "pip"


def source() -> tuple[str, bool]:
    """What to give an installer to get this llmsim again (a folder, a file, a git URL, or the
    name, from the package index, when nothing else is recorded) and whether it was editable."""
    try:
        text = metadata.distribution(PROG).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        text = None
    try:
        record = json.loads(text) if text else None
    except ValueError:
        record = None
    if not isinstance(record, dict) or not isinstance(record.get("url"), str):
        return PROG, False
    url: str = record["url"]
    if "vcs_info" in record:
        return f"git+{url}", False
    dir_info = record.get("dir_info")
    editable = isinstance(dir_info, dict) and dir_info.get("editable") is True
    parsed = urlparse(url)
    return (unquote(parsed.path) if parsed.scheme == "file" else url), editable


def add_command(package: str, prefix: Path | None = None) -> str:
    """The shell command that adds `package` to the environment llmsim runs in."""
    kind = installer(prefix)
    if kind == "pipx":
        return f"pipx inject {PROG} {package}"
    if kind == "uv-tool":  # installing again with --with replaces the tool's environment
        spec, editable = source()
        return f"uv tool install --with {package} {'--editable ' if editable else ''}{shlex.quote(spec)}"
    if kind == "uv":
        return f"uv pip install {package}"
    return f"pip install {package}"
