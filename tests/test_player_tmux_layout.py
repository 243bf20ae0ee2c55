"""The tmux layout through pyte: tmux's chrome, the job's bytes in a pane, nvidia-smi, the cluster.

Every screen here is what the real scheduler and cast sink write (the bytes a terminal gets,
test_cast.py proves it), fed to pyte. The formats are pinned to their sources: tmux 3.4's
options-table.c (status line, borders), tqdm 4.67.1 (the real `tqdm.format_meter` is the
oracle), procps-ng 4.0.4's watch.c (the title row), nvidia-smi's table (REFERENCE-LOGS.md §7).
"""

from __future__ import annotations

import re
from pathlib import Path

import pyte
import pytest
import tqdm  # type: ignore[import-untyped]  # the oracle of tqdm's meter (no stubs)
from playback import Recording, record
from synthetic import (
    LAUNCH,
    MONITOR_INTERVAL,
    NCCL_LONG,
    PIDS,
    PROMPT,
    build_rows,
    cluster,
    write_trace,
)

from llmsim.player.sinks import Frame
from llmsim.player.views.renderer import RenderOptions
from llmsim.player.views.tmux import chrome, nvsmi, sweep
from llmsim.player.views.tmux.cells import wrap
from llmsim.player.views.tmux.feed import TmuxRenderer
from llmsim.player.views.tmux.screen import TmuxOptions, TmuxScreen
from llmsim.player.views.tmux.tqdm import Meter, format_interval, format_sizeof, meter
from llmsim.trace import TraceWriter, make_table, open_trace
from llmsim.trace.schema import COLUMNS

STATUS = re.compile(r'^\[0\] 0:\w+\*( 1:watch-)? +"[^"]{1,21}" \d\d:\d\d \d\d-[A-Z][a-z]{2}-\d\d$')


def _tmux(path: Path, cols: int, rows: int, **options: object) -> Recording:
    return record([path], cols, rows, layout="tmux", **options)  # type: ignore[arg-type]


def _last_screen(path: Path, cols: int, rows: int, **options: object) -> Recording:
    """The recording as its last frame left the screen (before close() scrolls a row away
    for the shell)."""
    last: list[list[str]] = []

    def keep(rec: Recording, frame: Frame) -> None:
        last[:] = [rec.lines()]

    rec = _tmux(path, cols, rows, on_frame=keep, **options)
    rec.final = last[0]  # type: ignore[attr-defined]
    return rec


def _job_rows(rec: Recording) -> list[str]:
    """The job pane's rows (above the border), for the stacked layout."""
    lines = rec.lines()
    border = next(i for i, line in enumerate(lines) if line.startswith("─" * 20))
    return lines[:border]


# --- tmux's chrome ------------------------------------------------------------------------


@pytest.mark.parametrize(("cols", "rows"), [(80, 24), (120, 36), (200, 60)])
def test_status_line_and_borders_are_tmux_defaults(
    synthetic_trace: Path, cols: int, rows: int
) -> None:
    rec = _tmux(synthetic_trace, cols, rows, color=True)
    status = rec.lines()[-2]  # close() left a new row under the screen for the shell
    assert STATUS.match(status), status
    assert status.startswith("[0] 0:bash*") and '"node-a01" ' in status  # the prompt is back
    y = rows - 2
    cells = rec.screen.buffer[y]
    assert {cells[x].bg for x in range(cols)} == {"green"}  # status-style bg=green,fg=black
    assert {cells[x].fg for x in range(cols)} == {"black"}
    if cols >= chrome.JOB_MIN_COLS + 1 + chrome.MONITOR_COLS:
        x = cols - 1 - chrome.MONITOR_COLS  # the border column, monitor beside the job
        border = [rec.screen.buffer[r][x] for r in range(rows - 2)]
        assert {c.data for c in border} == {"│"}
        half = (rows - 2) // 2  # the job pane's half of the border is green (it is active)
        assert all(c.fg == "green" for c in border[:half]) and border[-1].fg == "default"
    else:
        border_row = next(r for r, line in enumerate(rec.lines()) if line.startswith("─" * 20))
        line = rec.screen.buffer[border_row]
        assert line[0].fg == "green" and line[cols - 1].fg == "default"


def test_inside_tmux_there_is_no_second_status_line(synthetic_trace: Path) -> None:
    screen = TmuxScreen(TmuxOptions(status=False))
    config = open_trace(synthetic_trace).config
    run = TmuxRenderer(config, RenderOptions(verbatim=True), screen)
    for ev in open_trace(synthetic_trace).events():
        run.feed(ev)
    texts = ["".join(t for t, _ in row) for row in run.region(120, 36)]
    assert len(texts) == 36 and all(len(t) == 120 for t in texts)
    assert not any(STATUS.match(t.rstrip()) for t in texts)
    with_status = TmuxScreen(TmuxOptions(status=True))
    run = TmuxRenderer(config, RenderOptions(verbatim=True), with_status)
    run.feed(next(iter(open_trace(synthetic_trace).events())))
    assert STATUS.match("".join(t for t, _ in run.region(120, 36)[-1]).rstrip())


# --- the job's pane: its bytes, as a terminal lays them out ---------------------------------


def test_long_lines_wrap_at_the_last_column_mid_word_and_nothing_is_cut(tmp_path: Path) -> None:
    long = "OptimizerConfig(" + ", ".join(f"field_{i}=value_{i}" for i in range(160)) + ")"
    assert len(long) > 3000
    rows = build_rows()
    at = next(i for i, r in enumerate(rows) if r.get("text") == "NCCL version 2.21.5+cuda12.4")
    rows.insert(at + 1, {**rows[at], "text": "a\tb\tc  d\te"})
    rows.insert(at + 2, {**rows[at], "text": long})
    path = _write(tmp_path / "long.parquet", rows)
    seen: list[list[str]] = []

    def check(rec: Recording, frame: Frame) -> None:
        job = _job_rows(rec)
        shown = any(r.startswith("OptimizerConfig(") for r in job)
        if shown and any(r.startswith("node-a01:1796") for r in job) and not seen:
            seen.append(job)

    _tmux(path, 100, 60, on_frame=check)
    job = seen[0]
    start = job.index(next(r for r in job if r.startswith("OptimizerConfig(")))
    wrapped = [r.ljust(100) for r in job[start:]]
    joined = "".join(wrapped)[: len(long)]
    assert joined == long  # hard-wrapped at column 100: continuation at column 0, no '…'
    assert all(len(r) == 100 for r in wrapped[: len(long) // 100])  # every row full, mid-word
    tabs = job[start - 1]
    assert tabs == "a       b       c  d    e"  # tab stops every 8 columns
    nccl = next(r for r in job if r.startswith("node-a01:1796"))
    following = job[job.index(nccl) + 1]
    assert nccl + following == NCCL_LONG[:200]  # the NCCL line, wrapped, not re-indented


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    from synthetic import config

    columns = {name: [row.get(name) for row in rows] for name in COLUMNS}
    columns = {k: v for k, v in columns.items() if any(x is not None for x in v)}
    with TraceWriter(path, config()) as writer:
        writer.write(make_table(len(rows), columns))
    return path


def test_the_job_pane_has_colour_only_where_the_stack_colours(tmp_path: Path) -> None:
    hf = _tmux(write_trace(tmp_path / "hf.parquet"), 120, 36, color=True)
    job = range(len(_job_rows(hf)))
    assert {c.fg for y in job for c in hf.screen.buffer[y].values()} == {"default"}
    titan = write_trace(tmp_path / "titan.parquet", stack="torchtitan")
    colours: dict[str, str] = {}

    def check(rec: Recording, frame: Frame) -> None:
        for y, line in enumerate(_job_rows(rec)):
            for word in ("step:", "loss:"):
                x = line.find(word)
                if x >= 0:
                    colours[word] = rec.screen.buffer[y][x].fg
            if "[titan]" in line:
                colours["prefix"] = rec.screen.buffer[y][line.index("[titan]")].fg

    _tmux(titan, 160, 40, color=True, on_frame=check)
    # torchtitan's metrics line: red step, green loss (tools/utils.py Color); its prefix plain.
    assert colours == {"step:": "red", "loss:": "green", "prefix": "default"}


def test_nothing_of_llmsims_own_is_drawn(synthetic_trace: Path) -> None:
    rec = _tmux(synthetic_trace, 120, 36)
    out = "".join(rec.output)
    for own in ("Training summary", "completed successfully", " monitor ", " export ", "Saved:"):
        assert own not in out, own
    assert "Merging weights" not in out and "Starting new training run" not in out
    # The real lines are all there, whole, in the order the trace has them.
    assert any(line.startswith("{'loss': ") for line in rec.lines()) or "{'loss':" in out


def test_hf_training_bar_is_tqdms_and_agrees_with_itself(synthetic_trace: Path) -> None:
    bars: list[str] = []

    def check(rec: Recording, frame: Frame) -> None:
        job = [r for r in _job_rows(rec) if re.match(r"^ *\d+%\|", r)]
        if job:
            bars.append(job[-1])

    _tmux(synthetic_trace, 120, 36, on_frame=check)
    assert bars and len(bars[-1]) == 120  # dynamic_ncols: the whole width of the pane
    for bar in bars:
        m = re.match(
            r"^ *(\d+)%\|.*\| (\d+)/(\d+) \[([\d:]+)<([\d:?]+), +([\d.?]+)(s/it|it/s)\]$", bar
        )
        assert m, bar
        if m.group(6) == "?":
            assert m.group(2) == "0" and m.group(5) == "?"  # tqdm before its first update
            continue
        n, total = int(m.group(2)), int(m.group(3))
        assert m.group(1) == f"{n / total * 100:3.0f}".strip()  # tqdm rounds, as format does
        if m.group(5) != "?" and n < total:
            per = float(m.group(6)) if m.group(7) == "s/it" else 1 / float(m.group(6))
            left = sum(int(x) * 60**i for i, x in enumerate(reversed(m.group(5).split(":"))))
            assert abs(left - per * (total - n)) <= per + 1  # the ETA is the rate beside it


@pytest.mark.parametrize(
    ("n", "total", "elapsed", "unit", "scale", "desc"),
    [
        (0, 153, 0.0, "it", False, ""),
        (34, 153, 185.3, "it", False, ""),
        (153, 153, 996.0, "it", False, ""),
        (3, 4, 10.76, "it", False, "Loading checkpoint shards"),
        (4_976_698_672, 4_976_698_672, 41.2, "B", True, "model-00001-of-00004.safetensors"),
        (1_000_000, 4_976_698_672, 0.4, "B", True, "model-00002-of-00004.safetensors"),
    ],
)
def test_meter_is_tqdms_format_meter(
    n: int, total: int, elapsed: float, unit: str, scale: bool, desc: str
) -> None:
    for ncols in (40, 80, 120, 200):
        expected = tqdm.tqdm.format_meter(
            n, total, elapsed, ncols=ncols, prefix=desc, unit=unit, unit_scale=scale
        )
        assert meter(Meter(n, total, elapsed, desc, unit, scale), ncols) == expected
    assert format_sizeof(4.976e9) == tqdm.tqdm.format_sizeof(4.976e9) == "4.98G"
    assert format_interval(3725) == tqdm.tqdm.format_interval(3725) == "1:02:05"


# --- the monitor: nvidia-smi on rank 0's node ---------------------------------------------


def test_monitor_is_the_csv_query_below_the_job_on_small_terminals(synthetic_trace: Path) -> None:
    rec = _last_screen(synthetic_trace, 80, 24)
    lines = rec.final  # type: ignore[attr-defined]
    head = lines.index(nvsmi.CSV_HEADER)
    rows = lines[head + 1 : head + 9]
    assert [r.split(",")[0] for r in rows] == [str(i) for i in range(8)]
    # The last sample of the run (export: idle) for node-a01's GPUs 0-7, as nvidia-smi rounds.
    last = [e for e in open_trace(synthetic_trace).events() if e.kind == "telemetry"][-1]
    util, mem = last.gpu_util or [], last.gpu_mem or []
    temp, power = last.gpu_temp or [], last.gpu_power or []
    assert (
        rows[0] == f"0, {round(util[0])} %, {round(mem[0])} MiB, {round(temp[0])}, {power[0]:.2f} W"
    )
    border = next(i for i, line in enumerate(lines) if line.startswith("─" * 20))
    assert border >= 13  # at 80x24 the job keeps more than half the rows (watch -t below)


def test_monitor_is_nvidia_smis_table_beside_the_job_on_big_terminals(tmp_path: Path) -> None:
    path = write_trace(tmp_path / "run.parquet", terminal=True)
    rec = _last_screen(path, 200, 60)
    right = [line[200 - 91 :] for line in rec.final[:59]]  # type: ignore[attr-defined]
    assert right[0].startswith("Every 1.0s: nvidia-smi") and "node-a01: " in right[0]
    assert right[3] == "+" + "-" * 89 + "+"
    assert right[4].startswith("| NVIDIA-SMI 570.133.20") and "CUDA Version: 12.8" in right[4]
    gpu0 = right[10]
    assert gpu0.startswith("|   0  NVIDIA H100 80GB HBM3") and "00000000:18:00.0" in gpu0
    assert all(len(line.rstrip()) <= 91 for line in right)


def test_a_lost_gpu_and_a_hot_one_show_as_nvidia_smi_shows_them() -> None:
    device = nvsmi.Device("NVIDIA H100 80GB HBM3", 81559, 700, "570.133.20", "12.8")
    hot = nvsmi.GpuSample([100.0] * 2, [74000.0] * 2, [47.0, 91.0], [600.0, 640.0], [0, 2])
    table = nvsmi.table(hot, device, "Thu Jan  1 00:00:00 2026", [])
    assert " 91C " in table[13] and all(len(line) == 91 for line in table[1:])
    lost = nvsmi.GpuSample([100.0] * 8, [74000.0] * 8, [47.0] * 8, [600.0] * 8, [0] * 7 + [3])
    assert nvsmi.table(lost, device, "x", []) == [
        "Unable to determine the device handle for GPU00000000:DB:00.0: Unknown Error"
    ]
    assert nvsmi.csv(lost) == nvsmi.table(lost, device, "x", [])


def test_watch_title_follows_procps_rules() -> None:
    stamp = "Thu Jan  1 00:00:00 2026"
    # The host and ctime() end in the last column (ctime's newline counts in watch's sums).
    assert nvsmi.watch("nvidia-smi", 2, "gpu-01", stamp, [], 80, 3)[0] == (
        "Every 2.0s: nvidia-smi" + " " * 26 + "gpu-01: Thu Jan  1 00:00:00 2026"
    )
    long = nvsmi.watch("x" * 100, 2, "gpu-01", stamp, [], 80, 3)[0]
    assert long.startswith("Every 2.0s: xxx") and long.endswith(f"...  gpu-01: {stamp}")
    assert len(long) == 80


def test_process_rows_and_node_telemetry_drive_the_monitor(tmp_path: Path) -> None:
    path = write_trace(tmp_path / "run.parquet", terminal=True)
    frames: list[tuple[float, str]] = []

    def check(rec: Recording, frame: Frame) -> None:
        right = [line[200 - 91 :] for line in rec.lines()]
        frames.append((frame.at, "\n".join(right)))

    _tmux(path, 200, 60, on_frame=check)
    training = [text for _, text in frames if "|    0   N/A  N/A" in text]
    assert training, "the workers never showed in nvidia-smi's process list"
    assert any(f"{PIDS[7]}      C   /usr/bin/python" in text for text in training)
    assert "No running processes found" in frames[-1][1]  # they exited with the job
    # The monitor refreshes at its own interval: titles a second apart while the log is quiet.
    stamps = {re.search(r"\d\d:\d\d:\d\d", t.splitlines()[0]).group(0) for _, t in frames}  # type: ignore[union-attr]
    assert len(stamps) > 60 * MONITOR_INTERVAL


def test_the_whole_cluster_is_window_1_for_64_gpus_and_more(tmp_path: Path) -> None:
    straggler = 19 * 8 + 3  # GPU 3 of node-a20
    path = write_trace(tmp_path / "big.parquet", straggler=straggler, **cluster(24))
    seen: list[list[str]] = []

    def check(rec: Recording, frame: Frame) -> None:
        lines = rec.lines()
        if lines and "1:watch*" in lines[-1] and not seen:
            seen.append(lines)

    _tmux(path, 120, 36, on_frame=check)
    assert seen, "the cluster window was never shown"
    lines = seen[0]
    assert lines[0].startswith("Every 5.0s: pdsh -w node-a[01-24] nvidia-smi")
    # Sorted by utilisation: the straggler (61 %) first, then the busy GPUs.
    assert lines[2] == "node-a20: 3, 61 %, 66, 654.00 W, 71110 MiB"
    assert lines[-1].startswith("[0] 0:python- 1:watch*")


def test_hostlists_are_compressed_as_pdsh_does() -> None:
    assert sweep.hostlist(["dgx-h100-107", "dgx-h100-108", "dgx-h100-110"]) == (
        "dgx-h100-[107-108,110]"
    )
    assert sweep.hostlist(["a01", "b", "a02"]) == "a[01-02],b"


# --- the shell (2.4): prompt, typing, the window's name -----------------------------------


def test_the_launch_is_typed_at_the_prompt_and_tmux_names_the_window(tmp_path: Path) -> None:
    path = write_trace(tmp_path / "run.parquet", terminal=True)
    seen: list[tuple[float, str, str]] = []

    def check(rec: Recording, frame: Frame) -> None:
        lines = rec.lines()
        seen.append((frame.at, lines[0], lines[-1]))

    _tmux(path, 120, 36, on_frame=check)
    first_at, first, status = seen[0]
    assert first_at == 0.0 and first == PROMPT.rstrip() and status.startswith("[train] 0:bash*")
    typing = [line for _, line, _ in seen if line.startswith(PROMPT) and line != PROMPT.rstrip()]
    assert typing[0] != PROMPT + LAUNCH and typing[-1] == PROMPT + LAUNCH  # key by key
    assert any("0:python*" in status for _, _, status in seen)  # while the job runs
    assert '"login-01" ' in seen[-1][2]


def test_a_resize_reflows_the_pane(synthetic_trace: Path) -> None:
    screen = TmuxScreen(TmuxOptions())
    config = open_trace(synthetic_trace).config
    run = TmuxRenderer(config, RenderOptions(verbatim=True), screen)
    for ev in open_trace(synthetic_trace).events():
        run.feed(ev)
        if ev.kind == "step" and ev.step == 10:
            break
    for cols, rows in ((200, 60), (80, 24), (20, 5), (1, 1)):
        texts = ["".join(t for t, _ in row) for row in run.region(cols, rows)]
        assert len(texts) == rows and all(len(t) == cols for t in texts), (cols, rows)
        cursor = run.cursor(cols, rows)
        assert cursor is not None and 0 <= cursor[0] < rows and 0 <= cursor[1] < cols
    nccl = wrap(((NCCL_LONG, None),), 80)
    assert "".join(t for row in nccl for t, _ in row) == NCCL_LONG


def test_pyte_sees_the_same_screen_as_the_view(synthetic_trace: Path) -> None:
    """The composer's diff (only changed rows rewritten) leaves exactly the view's screen."""
    screen = pyte.Screen(100, 30)
    stream = pyte.Stream(screen)
    views: list[list[str]] = []

    def check(rec: Recording, frame: Frame) -> None:
        if frame.view is not None:
            rows = frame.view.region(100, 30)
            views.append(["".join(t for t, _ in row).rstrip() for row in rows])
            assert rec.lines() == views[-1]

    _tmux(synthetic_trace, 100, 30, on_frame=check)
    assert len(views) > 50
    del screen, stream
