"""The real `llmsim play` in a real terminal (tmux): pinned region, resize, Ctrl-C restores."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from playback import LLMSIM, tmux_running

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def _bottom(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def _training(lines: list[str]) -> bool:
    b = _bottom(lines)
    return len(b) > 5 and b[-2].startswith("Training ") and b[-1].startswith("Epoch ")


def test_region_is_pinned_follows_a_resize_and_ctrl_c_restores(synthetic_trace: Path) -> None:
    argv = [*LLMSIM, "play", str(synthetic_trace), "--speed", "4", "--layout", "classic"]
    with tmux_running(argv, 120, 36) as tmux:
        b = _bottom(tmux.wait_for("the training bars", _training))
        # Logs scroll above; the region is pinned under them: grid, then the two bars.
        top = max(i for i, line in enumerate(b) if line.startswith("GPUs 16× H100 · 2 nodes"))
        assert b[top + 1].startswith("node-a01  ") and b[top + 2].startswith("node-a02  ")
        assert top + 3 == len(b) - 2
        assert any(re.match(r"I\d{4} \d\d:\d\d:\d\d\.\d{6} ", line) for line in b[:top])
        assert all(len(line) < 120 for line in tmux.lines())  # nothing reaches the last column
        tmux("resize-window", "-t", "play", "-x", "64", "-y", "24")

        def relaid(lines: list[str]) -> bool:
            return _training(lines) and all(len(x) < 64 for x in _bottom(lines)[-5:])

        b = _bottom(tmux.wait_for("the region laid out for 64 columns", relaid))
        # No stale copy of the old, wider region is left anywhere on screen.
        assert sum(line.startswith("Training ") for line in b) == 1
        assert sum(line.startswith("GPUs ") for line in b) == 1
        tmux("send-keys", "-t", "play", "C-c")
        lines = tmux.wait_for("the exit status", lambda ls: any("EXIT=" in x for x in ls))
        assert any(x.strip() == "EXIT=130" for x in lines), "\n".join(lines)
        assert tmux("display", "-p", "-t", "play", "#{cursor_flag}").strip() == "1"
        # The shell's output comes below the region (after the tty's "^C" echo, which may
        # wrap): nothing of the region was overwritten.
        exit_row = next(i for i, x in enumerate(lines) if "EXIT=" in x)
        assert any(x.startswith("Epoch 1/2 ") for x in lines[exit_row - 2 : exit_row])


def test_tmux_layout_inside_a_real_tmux_draws_no_second_status_line(
    synthetic_trace: Path,
) -> None:
    """The default layout on a terminal, in a real tmux ($TMUX set): panes and the monitor, but
    tmux's own status line is the only one; a resize lays it out again; Ctrl-C restores."""
    argv = [*LLMSIM, "play", str(synthetic_trace), "--speed", "4"]
    with tmux_running(argv, 120, 36) as tmux:

        def monitor(lines: list[str]) -> bool:
            return any(line.startswith("index, utilization.gpu [%]") for line in lines)

        lines = tmux.wait_for("the monitor's nvidia-smi", monitor)
        assert lines[0].startswith("root@node-a01:/workspace#")  # the job's pane, at the top
        assert any(line.startswith("─" * 40) for line in lines)  # the border under it
        assert not any(re.match(r"^\[0\] 0:\w+\*", line) for line in lines)  # no status line
        assert len(lines) == 36  # the whole pane is ours: tmux's status line is its own
        tmux("resize-window", "-t", "play", "-x", "80", "-y", "24")

        def relaid(lines: list[str]) -> bool:
            csv = [i for i, x in enumerate(lines) if x.startswith("index, utilization.gpu")]
            return (
                bool(csv) and all(len(x) <= 80 for x in lines) and lines[csv[0] - 1].strip() != ""
            )

        lines = tmux.wait_for("the screen laid out for 80x24", relaid)
        head = next(i for i, x in enumerate(lines) if x.startswith("index, utilization.gpu"))
        assert lines[head - 1].startswith("─" * 40)  # watch -t: no title on a short terminal
        tmux("send-keys", "-t", "play", "C-c")
        lines = tmux.wait_for("the exit status", lambda ls: any("EXIT=" in x for x in ls))
        assert any(x.strip() == "EXIT=130" for x in lines), "\n".join(lines)
        assert tmux("display", "-p", "-t", "play", "#{cursor_flag}").strip() == "1"
