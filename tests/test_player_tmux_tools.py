"""The tools at the engineer's shell as the tmux layout draws them (trace 2.5): hf-xet's bars
(huggingface_hub 0.36.0's XetProgressReporter, checked against the real tqdm.format_meter),
stamp marks with an offset (`ls -l`'s dates, W&B's run folders), the bars left on screen when
the shell prints again, and the classic and plain layouts ending a run at its summary.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tqdm  # type: ignore[import-untyped]  # the oracle of tqdm's meter (no stubs)
from playback import Recording, record, tmux_running

from llmsim.cli import main
from llmsim.generator import GenerateOptions, plan_run, write_trace
from llmsim.player import StartAt
from llmsim.player.dialects.base import Stamps
from llmsim.player.dialects.logformats import log_line
from llmsim.player.sinks import Frame
from llmsim.player.views.tmux.tqdm import Meter, meter
from llmsim.trace import Event, open_trace

XET_FORMAT = "{l_bar}{bar}| {n_fmt:>5}B / {total_fmt:>5}B{postfix:>12}"


def _oracle(n: float, total: float, elapsed: float, desc: str, cols: int, speed: bool) -> str:
    postfix = f"{tqdm.tqdm.format_sizeof(n / elapsed)}B/s  ".rjust(10) if speed else None
    text: str = tqdm.tqdm.format_meter(
        n,
        total,
        elapsed,
        ncols=cols,
        prefix=desc,
        unit="B",
        unit_scale=True,
        unit_divisor=1000,
        bar_format=XET_FORMAT,
        postfix=postfix,
    )
    return text


@pytest.mark.parametrize("cols", [80, 120, 200])
@pytest.mark.parametrize(
    ("n", "total", "desc", "speed"),
    [
        (16.1e9, 16.1e9, "Processing Files (4 / 4)      ", True),
        (2.1e9, 5.0e9, "New Data Upload               ", True),
        (2.1e9, 5.0e9, "  ...0002-of-00004.safetensors", False),
        (615.0, 615.0, "  ...classes/label_encoder.pkl", False),
    ],
)
def test_xet_bars_are_the_reporters(
    n: float, total: float, desc: str, speed: bool, cols: int
) -> None:
    got = meter(Meter(n, total, 37.0, desc, "B", True, xet=True, speed=speed), cols)
    assert got == _oracle(n, total, 37.0, desc, cols, speed)


def test_the_research_capture_at_80_columns() -> None:
    """issue21-tools.md §5.2: the final screen of an upload, each line 80 cells."""
    line = meter(
        Meter(
            16.1e9,
            16.1e9,
            16.1e9 / 226e6,
            "Processing Files (4 / 4)      ",
            "B",
            True,
            xet=True,
            speed=True,
        ),
        80,
    )
    assert line == (
        "Processing Files (4 / 4)      : 100%|██████████████| 16.1GB / 16.1GB,  226MB/s  "
    )


def _event(**fields: object) -> Event:
    base = dict.fromkeys(Event._fields)
    base.update(t=0.0, kind="log", phase="summary")
    base.update(fields)
    return Event(**base)  # type: ignore[arg-type]


def test_stamp_marks_take_the_playback_clock_at_an_offset() -> None:
    stamps = Stamps(utc=True)
    when = 1_771_000_000.0  # 2026-02-13 16:26:40 UTC
    ev = _event(
        source="inline-stamp",
        origin="%b %e %H:%M",
        text="-rw-r--r-- 1 a a 4.7G {stamp-600.000000} x {stamp:%H:%M:%S}",
    )
    assert log_line(ev, when, stamps).text == "-rw-r--r-- 1 a a 4.7G Feb 13 16:16 x 16:26:40"
    ev = _event(source="wandb", text="Find logs at: ./wandb/run-{stamp-60.5:%Y%m%d_%H%M%S}-ab/logs")
    assert (
        log_line(ev, when, stamps).text
        == "wandb: Find logs at: ./wandb/run-20260213_162539-ab/logs"
    )
    ev = _event(source="inline-stamp", origin="%H:%M", text="no mark {here}")  # left as it is
    assert log_line(ev, when, stamps).text == "no mark {here}"


@pytest.fixture(scope="module")
def upload_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-node torchtitan run whose converted checkpoint is uploaded (in about 100 s)."""
    path = tmp_path_factory.mktemp("tools") / "sft.parquet"
    options = GenerateOptions(seed=17, stack="torchtitan", model="Llama-3-8B", gpus=8, duration=900)
    write_trace(plan_run(options), path)
    return path


def test_the_upload_leaves_every_bar_then_the_url_and_the_prompt(upload_trace: Path) -> None:
    rec = record([upload_trace], 120, 36, layout="tmux")
    lines = rec.lines()
    url = next(i for i, line in enumerate(lines) if line.startswith("https://huggingface.co/"))
    bars = lines[url - 6 : url]
    assert bars[0].startswith("Processing Files (4 / 4)      : 100%|")
    assert bars[1].startswith("New Data Upload               : 100%|")
    assert all(line.startswith("  ...") and " 100%|" in line for line in bars[2:])
    assert lines[url + 1].startswith("[") and lines[url + 1].endswith("]$")


def test_classic_and_plain_end_a_run_at_its_summary(upload_trace: Path, tmp_path: Path) -> None:
    rows = open_trace(upload_trace).read_table().to_pylist()
    summary = next(r["t"] for r in rows if r["kind"] == "summary")
    assert rows[-1]["t"] > summary + 20  # the shell's part is long
    ends = {}
    for layout in ("tmux", "classic", "plain"):
        out = tmp_path / f"{layout}.cast"
        assert main(["cast", str(upload_trace), "-o", str(out), "--layout", layout]) == 0
        events = [json.loads(x) for x in out.read_text().splitlines()[1:]]
        ends[layout] = events[-1][0]
    assert ends["classic"] < summary + 1 and ends["plain"] < summary + 1
    assert ends["tmux"] > summary + 20


def test_a_real_tmux_draws_wandbs_star_and_what_follows() -> None:
    """U+2B50 U+FE0F then text (W&B's `⭐️ View project at:`): tmux draws all of it (pyte does
    not: tests/playback.py leaves the selector out)."""
    argv = ["printf", "\u2b50\ufe0f View project at: x\nnext line\n"]
    with tmux_running(argv, 60, 6) as tmux:
        lines = tmux.wait_for("the lines", lambda ls: any("EXIT=" in x for x in ls))
    assert lines[0] == "⭐️ View project at: x" and lines[1] == "next line"


def test_a_start_past_the_launch_still_names_the_window_after_the_job() -> None:
    """tmux names the window after the foreground command (`enter`'s origin): with the launch
    skipped by `--start-at train`, the status line still says python3, not bash."""
    trace = Path(__file__).parent.parent / "llmsim" / "traces" / "llama-3-8b-sft.parquet"
    names: set[str] = set()

    def check(rec: Recording, frame: Frame) -> None:
        if frame.at < 5.0:
            names.add(rec.lines()[-1].split()[1])

    record([trace], 120, 36, layout="tmux", start_at=StartAt(point="train"), on_frame=check)
    assert names == {"0:python3*"}
