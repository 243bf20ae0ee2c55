"""Installed like a tool: the built wheel, installed by pipx into a temporary home, runs.

The wheel is built from the sdist (`python -m build`), as a release would be, so nothing
but the sdist's files can reach it; pipx uses uv when uv is there (the test extra brings it),
which reuses uv's download cache: no network beyond the package registry, and only when the
cache is cold.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).resolve().parent.parent
BIN: Final = Path(sys.executable).parent


def _run(args: list[str], env: dict[str, str] | None = None, timeout: float = 300) -> str:
    proc = subprocess.run(
        args, capture_output=True, text=True, env=env, timeout=timeout, check=False, cwd=ROOT
    )
    assert proc.returncode == 0, f"{args}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    installer = ["--installer", "uv"] if shutil.which("uv", path=str(BIN)) else []
    _run([sys.executable, "-m", "build", *installer, "--outdir", str(out), str(ROOT)])
    (whl,) = out.glob("llmsim-*.whl")
    return whl


def test_the_wheel_carries_the_bundled_runs_and_the_player_assets(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    bundled = {f"llmsim/traces/{p.name}" for p in (ROOT / "llmsim" / "traces").glob("*.parquet")}
    assert bundled and bundled <= names
    assets = {f"llmsim/player/assets/{p.name}" for p in (ROOT / "llmsim/player/assets").iterdir()}
    assert assets <= names
    assert "llmsim/py.typed" in names
    assert not any(n.startswith(("tests/", "scripts/")) for n in names)


def test_pipx_installs_a_tool_that_plays(wheel: Path, tmp_path: Path) -> None:
    env = dict(os.environ)
    env.update(
        PIPX_HOME=str(tmp_path / "pipx"),
        PIPX_BIN_DIR=str(tmp_path / "bin"),
        PIPX_MAN_DIR=str(tmp_path / "man"),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",  # pipx finds uv beside it
    )
    _run([str(BIN / "pipx"), "install", str(wheel)], env=env)
    llmsim = str(tmp_path / "bin" / "llmsim")
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert _run([llmsim, "--version"]) == f"llmsim {version}\n"
    out = _run([llmsim, "play", "--once", "--speed", "1000", "llama-3-8b-sft"])
    assert out.count("Training completed successfully!") == 1  # the bundled run was found
