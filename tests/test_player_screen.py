"""The screen, through pyte: every bundled trace at four sizes, the grid, the colours.

Each trace is recorded once per size through the real scheduler and cast sink, as a terminal
that takes FRAME_COST seconds per frame gets it (the scheduler coalesces what falls due
meanwhile; every log line still comes out), and the screen is checked as it goes: the region fits and leaves the logs their rows, no row reaches the last
column (so the terminal never wraps one), no row splits a word or number, the chart is there
exactly when the terminal is big enough, and the chapters are the trace's own.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playback import Recording, record
from rich.cells import cell_len
from synthetic import IDLE_UTIL, STRAGGLER_STEPS, cluster, write_trace

from llmsim.player.sinks import Frame
from llmsim.trace import open_trace

SIZES = [(80, 24), (100, 30), (120, 36), (200, 60)]
DEEP_CHECK_EVERY = 40  # frames between full-screen checks (pyte's display is slow)
FRAME_COST = 8.0  # a slow terminal: beats due while a frame is written are coalesced
LONG_TOKEN = 24  # a token at least this long may be cut where it does not fit a row


class ScreenChecks:
    """What every frame of a recording must satisfy."""

    def __init__(self, cols: int, rows: int) -> None:
        self.cols, self.rows = cols, rows
        self.max_region = 12 if (cols, rows) == (80, 24) else rows // 3
        self.frames = 0
        self.tokens: set[str] = set()
        self.long: list[str] = []
        self.seen: set[str] = set()

    def __call__(self, rec: Recording, frame: Frame) -> None:
        self.frames += 1
        region = rec.region
        assert len(region) <= self.max_region, region
        assert all(cell_len(row) < self.cols for row in region), region
        text = "\n".join(region)
        for label in (
            "log scale",
            "GPUs ",
            "Training ",
            "Window ",
            "Merging weights",
            "Writing shards",
            "Serializing to SafeTensors",
        ):
            if label in text:
                self.seen.add(label)
        if frame.markers or self.frames % DEEP_CHECK_EVERY == 0:
            self.deep(rec)

    def deep(self, rec: Recording) -> None:
        for line in rec.printed:
            if line.startswith(("Merging weights", "Writing shards", "Serializing to SafeTensors")):
                self.seen.add(line.split(": 100%")[0])  # the finished export bars stay as lines
            # The screen is pyte's, fed without U+FE0F (playback.py: pyte stops at it), so the
            # words are compared without it too (W&B's `⭐️`).
            for token in line.replace("\ufe0f", "").split():
                self.tokens.add(token)
                if len(token) >= LONG_TOKEN:
                    self.long.append(token)
        rec.printed.clear()
        display = rec.screen.display
        for row in display:
            assert row[-1] == " ", f"a row reached the last column: {row!r}"
        for row in rec.log_rows():
            for token in row.split():
                whole = token in self.tokens or any(token in long for long in self.long)
                assert whole, f"{token!r} is not a whole word of any line printed: {row!r}"
        if rec.screen.cursor.y == self.rows - 1 and self.rows == 24:
            assert len(rec.log_rows()) >= 12


def _chapters(path: Path) -> list[str]:
    trace = open_trace(path)
    return [
        f"{trace.config.model} · {ev.text or ev.phase}"
        for ev in trace.events()
        if ev.kind in ("phase", "incident")
    ]


@pytest.mark.parametrize(("cols", "rows"), SIZES, ids=[f"{c}x{r}" for c, r in SIZES])
def test_every_trace_at_every_size(any_trace: Path, cols: int, rows: int) -> None:
    checks = ScreenChecks(cols, rows)
    rec = record([any_trace], cols, rows, frame_cost=FRAME_COST, on_frame=checks)
    checks.deep(rec)
    assert [label for _, label in rec.markers] == _chapters(any_trace)
    # The run bar: a fine-tune's training, a pretraining window's own steps.
    config = open_trace(any_trace).config
    window = config.resume_step > 0
    assert {"GPUs ", "Window " if window else "Training "} <= checks.seen
    if config.adapter == "none":
        assert "Merging weights" in checks.seen or "Writing shards" in checks.seen
    else:  # PEFT saves the adapters alone: one SafeTensors file, nothing to merge or shard
        assert "Serializing to SafeTensors" in checks.seen
    # The loss chart comes exactly when the terminal is big enough for it.
    assert ("log scale" in checks.seen) == (cols >= 100 and rows >= 40)
    assert "Training completed successfully!" in rec.text()
    assert "Final loss" in rec.text()
    assert not rec.screen.cursor.hidden


def _region(rec: Recording) -> str:
    y = rec.screen.cursor.y
    return "\n".join(rec.screen.display[y - rec.region_rows + 1 : y + 1])


def _step(rec: Recording) -> int | None:
    """The step the run bar shows, if it is on screen."""
    match = re.search(r"Training +\d+%\|.*\| ([\d,]+)/", _region(rec))
    return int(match.group(1).replace(",", "")) if match else None


def _cell_colour(rec: Recording, host: str, gpu: int) -> str:
    """The foreground colour of a GPU's cell in its node's row of the grid."""
    for y, line in enumerate(rec.lines()):
        if line.startswith(host + " "):
            x = line.index("■", len(host)) + gpu
            return str(rec.screen.buffer[y][x].fg)
    raise AssertionError(f"{host} is not on screen:\n{rec.text()}")


def test_a_straggler_on_the_20th_node_is_shown_while_it_lasts(tmp_path: Path) -> None:
    straggler = 19 * 8 + 3  # GPU 3 of node-a20
    path = write_trace(tmp_path / "straggler.parquet", straggler=straggler, **cluster(24))
    shown: dict[str, bool] = {}

    def check(rec: Recording, frame: Frame) -> None:
        step = _step(rec)
        if step is None or "GPUs" not in _region(rec):
            return
        during = step in range(STRAGGLER_STEPS.start + 1, STRAGGLER_STEPS.stop - 1)
        on_screen = any(line.startswith("node-a20 ") for line in rec.lines())
        if during:
            assert on_screen, rec.text()
            assert _cell_colour(rec, "node-a20", 3) == "red"  # critical overrides the heat
            assert "1 critical" in rec.text() or "2 critical" in rec.text()
        shown["during" if during else "after"] = shown.get("during", False) or during

    record([path], 80, 24, color=True, on_frame=check)
    assert shown.get("during")


def test_idle_and_busy_gpus_differ_in_colour(tmp_path: Path) -> None:
    path = write_trace(tmp_path / "run.parquet")
    colours: dict[str, str] = {}

    def check(rec: Recording, frame: Frame) -> None:
        region = _region(rec)
        if "node-a01 " in region:
            if "Training " in region:
                colours["busy"] = _cell_colour(rec, "node-a01", 0)
            elif "Merging weights" in region:
                colours["idle"] = _cell_colour(rec, "node-a01", 0)

    record([path], 100, 30, color=True, on_frame=check)
    assert IDLE_UTIL < 20
    assert colours["busy"] == "brightgreen" and colours["idle"] == "brightblack", colours


def test_big_cluster_is_a_heat_map_with_the_nodes_worth_seeing(tmp_path: Path) -> None:
    path = write_trace(tmp_path / "big.parquet", **cluster(64, "gpu-node-"))
    seen: list[str] = []

    def check(rec: Recording, frame: Frame) -> None:
        if _step(rec) == 25 and not seen:  # telemetry sample 5: GPU 5 warm, GPU 12 critical
            seen.extend(_region(rec).splitlines())

    record([path], 120, 36, color=True, on_frame=check)
    grid = [line.rstrip() for line in seen if line.startswith(("GPUs", "gpu-node-"))]
    assert grid[0].startswith("GPUs 512× H100 · 64 nodes · 1 warning, 1 critical")
    # Every GPU is a cell: 64 nodes of 8, 11 nodes to a row of the heat map.
    heat = [line for line in grid if line.count("■") + line.count("▲") + line.count("✖") > 8]
    assert sum(len(line.split()) - 1 for line in heat) == 64
    assert all(cell_len(line) < 120 for line in grid)
    # Below it, the nodes worth seeing: node 1 holds the critical GPU 12's neighbour, 2 holds it.
    detail = [line for line in grid if " util " in line]
    assert any(line.startswith("gpu-node-02 ") and "✖" in line for line in detail)
