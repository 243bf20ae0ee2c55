"""The real player in a real pty (tmux): pinned live region, resize re-layout, Ctrl-C cleanup."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def _player_command() -> list[str]:
    # The CLI (`python -m llmsim play`) once it exists; until then the player's own entry point.
    if (REPO / "llmsim" / "__main__.py").exists() and (REPO / "llmsim" / "cli.py").exists():
        return [sys.executable, "-m", "llmsim", "play"]
    return [sys.executable, "-m", "llmsim.player"]


class Tmux:
    def __init__(self) -> None:
        self.socket = f"llmsim-test-{uuid.uuid4().hex[:8]}"

    def __call__(self, *args: str) -> str:
        proc = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return proc.stdout

    def lines(self) -> list[str]:
        return self("capture-pane", "-p", "-t", "play").splitlines()

    def wait_for(
        self, what: str, check: Callable[[list[str]], bool], timeout: float = 60
    ) -> list[str]:
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        while time.monotonic() < deadline:
            lines = self.lines()
            if check(lines):
                return lines
            time.sleep(0.2)
        pytest.fail(f"timed out waiting for {what}; pane:\n" + "\n".join(lines))


@pytest.fixture
def tmux(synthetic_trace: Path) -> Iterator[Tmux]:
    t = Tmux()
    player = shlex.join([*_player_command(), str(synthetic_trace), "--speed", "4"])
    script = f"{player}; echo EXIT=$?; sleep 600"
    env = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TERM": "screen-256color"}
    t(
        "new-session",
        "-d",
        "-s",
        "play",
        "-x",
        "120",
        "-y",
        "40",
        "-c",
        str(REPO),
        *(x for k, v in env.items() for x in ("-e", f"{k}={v}")),
        "bash",
        "-c",
        script,
    )
    try:
        yield t
    finally:
        subprocess.run(["tmux", "-L", t.socket, "kill-server"], capture_output=True, check=False)


def _bottom(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def _training_on_screen(lines: list[str]) -> bool:
    b = _bottom(lines)
    return len(b) > 5 and b[-2].startswith("Training ") and b[-1].startswith("Epoch ")


def test_live_region_resize_and_ctrl_c(tmux: Tmux) -> None:
    lines = tmux.wait_for("the training bars", _training_on_screen)
    b = _bottom(lines)
    # Logs scroll above; the region is pinned under them: grid, then the two bars.
    grid_top = max(i for i, line in enumerate(b) if line.startswith("GPUs "))
    assert b[grid_top + 1].startswith("node-a01") and b[grid_top + 2].startswith("node-a02")
    assert grid_top + 3 == len(b) - 2
    assert any(re.match(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] INFO ", line) for line in b[:grid_top])
    assert "\ufffd" not in "".join(b)
    assert all(len(line) <= 119 for line in b[grid_top:])

    tmux("resize-window", "-t", "play", "-x", "64", "-y", "24")

    def relaid(lines: list[str]) -> bool:
        b = _bottom(lines)
        return _training_on_screen(lines) and all(len(x) <= 63 for x in b[-5:])

    lines = tmux.wait_for("the region laid out for 64 columns", relaid)
    b = _bottom(lines)
    # No stale copy of the old, wider region is left anywhere on screen.
    assert sum(line.startswith("Training ") for line in b) == 1
    assert sum(line.startswith("GPUs ") for line in b) == 1

    tmux("send-keys", "-t", "play", "C-c")
    lines = tmux.wait_for("the exit status", lambda ls: any("EXIT=" in x for x in ls))
    assert any(x.strip().endswith("EXIT=130") for x in lines), "\n".join(lines)
    assert tmux("display", "-p", "-t", "play", "#{cursor_flag}").strip() == "1"
    # The cursor sits below the region (nothing was overwritten by the shell's output).
    exit_row = next(i for i, x in enumerate(lines) if "EXIT=" in x)
    assert any(x.startswith("Epoch ") for x in lines[:exit_row])


def test_plays_to_the_end_and_loops(tmux: Tmux) -> None:
    def looped(lines: list[str]) -> bool:
        return any("Starting new training run..." in x for x in lines)

    lines = tmux.wait_for("the next run", looped, timeout=120)
    text = "\n".join(lines)
    assert "Training completed successfully!" in text
    assert text.index("Training completed successfully!") < text.index("Starting new training run")
