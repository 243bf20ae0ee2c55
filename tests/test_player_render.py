"""Screen tests: Renderer + LiveRegion output fed to a pyte terminal at 80x24 and 160x48."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from playback import frames, plain, width_of
from synthetic import write_trace

from llmsim.player import LiveRegion, Renderer, RenderOptions
from llmsim.trace import Event, open_trace

SIZES = [(80, 24), (160, 48)]


def _summary(path: Path) -> Event:
    rows = [ev for ev in open_trace(path).events() if ev.kind == "summary"]
    assert rows, "a complete trace ends with a summary row"
    return rows[-1]


@pytest.mark.parametrize(("cols", "rows"), SIZES)
def test_every_phase_on_screen(any_trace: Path, cols: int, rows: int) -> None:
    seen_training_frame = seen_export_frame = False
    markers: list[str] = []
    final = None
    for beat, region, screen in frames([any_trace], cols, rows):
        if beat.marker:
            markers.append(beat.marker)
        if region is not None:
            # The live region always fits: narrower than the screen, leaves rows for logs.
            assert len(region) <= rows - 2
            for line in region:
                assert width_of(line) <= cols - 1, plain(line)
            # The region is what the bottom of the screen shows, line for line.
            if region:
                shown = screen.lines()[screen.screen.cursor.y - len(region) + 1 :][: len(region)]
                assert shown == [plain(line).rstrip() for line in region]
        renderer = beat.renderer
        text = screen.text()
        if renderer is not None and region and any(plain(x).startswith("Training") for x in region):
            # Training: run bar, epoch bar and the GPU grid are all on screen.
            assert re.search(r"Training +\d+%\|", text)
            assert re.search(r"Epoch \d+/\d+ +\d+%\|", text)
            assert "GPUs " in text
            seen_training_frame = True
        if region and any("Writing shards" in plain(x) or "Merging" in plain(x) for x in region):
            seen_export_frame = True
        final = screen
    assert seen_training_frame
    assert seen_export_frame
    assert {"Training", "Export", "Summary"} <= set(markers) or len(markers) >= 4
    assert final is not None
    end = final.text()
    assert "Training completed successfully!" in end
    assert final.screen.cursor.hidden is False  # close() showed the cursor again


def test_export_lines_and_summary_values(any_trace: Path) -> None:
    written = bytearray()
    for _, _, screen in frames([any_trace], 160, 48):
        written = screen.written
    out = written.decode("utf-8")
    shards = [ev for ev in open_trace(any_trace).events() if ev.kind == "shard"]
    assert shards
    for ev in shards:
        assert f"Saved: {ev.path} ({(ev.size_bytes or 0) / 1e9:.2f} GB)" in out
    # The summary box shows the summary row's values, formatted.
    s = _summary(any_trace)
    lines = [
        line for _, _, screen in [list(frames([any_trace], 160, 48))[-1]] for line in screen.lines()
    ]
    box = "\n".join(lines)
    assert f"{s.loss:.4f}" in box
    assert f"{s.step:,}" in box
    assert f"{s.avg_gpu_util:.1f}%" in box
    assert f"{(s.size_bytes or 0) / 1e9:.2f} GB" in box
    assert (s.path or "") in box
    assert f"{(s.peak_mem_mib or 0) / 1024:.1f} GiB" in box
    # Final PPL: the digits shown agree with the trace's ppl and with exp(shown loss).
    match = re.search(r"Final PPL\s*│\s*([\d,.]+)(k?)", box)
    assert match, box
    value = float(match.group(1).replace(",", "")) * (1000 if match.group(2) else 1)
    decimals = len(match.group(1).partition(".")[2])
    half_unit = 0.5 * 10 ** (-decimals) * (1000 if match.group(2) else 1)
    assert abs(value - (s.ppl or 0)) <= half_unit + 1e-9
    assert abs(value - math.exp(round(s.loss or 0, 4))) <= half_unit + 1e-9
    assert "Training completed successfully!" in box


def test_step_line_numbers_come_from_the_trace(synthetic_trace: Path) -> None:
    trace = open_trace(synthetic_trace)
    renderer = Renderer(trace.config, RenderOptions())
    steps = {}
    for ev in trace.events():
        for line in renderer.feed(ev):
            if "| step " in line:
                steps[ev.step] = (ev, line)
    assert sorted(steps) == [1, 10, 20, 30, 40, 50, 60]  # step 1, then every log_interval
    ev, line = steps[10]
    assert line.startswith("[2026-01-01 00:00:")
    assert f"step 10/{trace.config.total_steps:,}" in line
    assert f"loss {ev.loss:.4f}" in line
    assert f"lr {ev.lr:.2e}" in line
    assert f"grad {ev.grad_norm:.3f}" in line
    assert "mfu 45.1%" in line


def test_renderer_is_deterministic(synthetic_trace: Path) -> None:
    def run() -> list[str]:
        trace = open_trace(synthetic_trace)
        r = Renderer(trace.config, RenderOptions(color=True))
        out: list[str] = []
        for ev in trace.events():
            out += r.feed(ev)
            out += r.live(100, 30)
        return out

    assert run() == run()


@pytest.mark.parametrize(("cols", "rows"), [(40, 10), (30, 6), (20, 4), (12, 3), (200, 60)])
def test_region_fits_small_and_large_terminals(synthetic_trace: Path, cols: int, rows: int) -> None:
    trace = open_trace(synthetic_trace)
    r = Renderer(trace.config, RenderOptions(color=True))
    heights = set()
    for ev in trace.events():
        r.feed(ev)
        region = r.live(cols, rows)
        heights.add(len(region))
        assert len(region) <= max(0, rows - 2)
        for line in region:
            assert width_of(line) <= cols - 1, (cols, plain(line))
    assert max(heights) >= 1


def test_big_cluster_grid_is_condensed(tmp_path: Path) -> None:
    hosts = tuple(f"gpu-node-{i:03d}" for i in range(64))
    path = write_trace(
        tmp_path / "big.parquet", gpus=512, nodes=64, hostnames=hosts, tp=8, pp=4, dp=16
    )
    trace = open_trace(path)
    r = Renderer(trace.config, RenderOptions())
    for ev in trace.events():
        r.feed(ev)
        if ev.kind == "step" and ev.step == 20:
            break
    region = r.live(120, 40)
    grid = [x for x in region if x.startswith(("GPUs", "gpu-node", "…"))]
    assert grid[0].startswith("GPUs 512× H100 · 64 nodes")
    assert sum(x.startswith("gpu-node") for x in grid) == 8
    assert re.match(r"… 56 more nodes · util \d+–\d+% · ", grid[-1])
    short = r.live(120, 8)  # 6 rows: the grid shrinks before the bars go
    assert short[-2].startswith("Training") and short[-1].startswith("Epoch")
    assert len(short) == 6


def test_live_region_frames_redraw_in_place() -> None:
    region = LiveRegion(80)
    first = region.frame(["log one"], ["bar a", "bar b"])
    assert first == "\r\x1b[Jlog one\r\nbar a\r\nbar b"
    second = region.frame([], ["bar c", "bar d", "bar e"])
    assert second == "\r\x1b[1A\x1b[Jbar c\r\nbar d\r\nbar e"
    assert region.frame([], None) == ""  # nothing new: nothing written
    third = region.frame(["log two"], None)  # logs only: the same region is drawn again
    assert third == "\r\x1b[2A\x1b[Jlog two\r\nbar c\r\nbar d\r\nbar e"
    # Narrower terminal: the old 50-cell lines reflow onto 2 rows each at width 30.
    region.frame([], ["x" * 50, "y" * 50])
    region.resized(30, 24)
    assert region.frame([], ["z"]).startswith("\r\x1b[3A\x1b[J")
    assert region.close() == "\x1b[0m\r\n\x1b[?25h"


def test_ascii_glyphs_give_pure_ascii_output(synthetic_trace: Path) -> None:
    # The synthetic trace's own text is ASCII, so every byte on screen is too.
    screen = list(frames([synthetic_trace], 100, 30, color=True, ascii_only=True))[-1][2]
    assert all(b < 0x80 for b in screen.written)
    assert "+ Training completed successfully!" in screen.text()


@pytest.mark.parametrize(
    ("loss", "expected"),
    [(2.3456, "10.44"), (0.05, "1.051"), (10.5, "36.32k"), (11.7, "120.6k"), (5.0, "148.4")],
)
def test_perplexity_digits_agree_with_the_loss_shown(loss: float, expected: str) -> None:
    from llmsim.player import fmt

    assert fmt.ppl(loss, math.exp(loss)) == expected
