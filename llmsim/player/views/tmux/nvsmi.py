"""nvidia-smi's output for one node's GPUs (driver 570 layout), and `watch`'s screen around it.

Table rows follow REFERENCE-LOGS.md section 7 (91 columns, three columns of 41, 24 and 22
cells; values as 550-570 drivers print them: `47C`, `612W /  700W`, `74213MiB /  81559MiB`,
`100%`). A GPU that fell off the bus makes nvidia-smi print only
`Unable to determine the device handle for GPU0000:DB:00.0: Unknown Error` (public reports,
e.g. NVIDIA/open-gpu-kernel-modules#387). The CSV form is `--query-gpu=... --format=csv`:
units in the header's brackets, `100 %`, `74213 MiB`, power with two decimals.

`watch` is procps-ng 4.0.4's (src/watch.c, output_header): `Every 2.0s: <command>` on the
left, `<host>: <ctime>` ending in the last column, the command cut with `... ` when the row is
short, a blank row, then the output, long lines wrapped and the rest cut at the bottom.
Every number is the trace's sample, rounded as the tool prints it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from llmsim.trace.vocab import Health

# PCI bus of GPUs 0-7 on an HGX/DGX H100 board (nvidia-smi shows 00000000:18:00.0 ...; NCCL's
# busId 18000 ... in the same runs' init lines).
BUS_IDS: Final = ("18", "2A", "3A", "5D", "9A", "AB", "BA", "DB", "1B", "2B", "3B", "5E")
RULE: Final = "+" + "-" * 89 + "+"
COLUMNS_RULE: Final = "|" + "-" * 41 + "+" + "-" * 24 + "+" + "-" * 22 + "|"
GPU_RULE: Final = "+" + "-" * 41 + "+" + "-" * 24 + "+" + "-" * 22 + "+"
HEADER: Final = (
    "| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |",
    "| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |",
    "|                                         |                        |               MIG M. |",
    "|" + "=" * 41 + "+" + "=" * 24 + "+" + "=" * 22 + "|",
)
PROCESSES: Final = (
    RULE,
    "| Processes:" + " " * 78 + "|",
    "|  GPU   GI   CI        PID   Type   Process name                              GPU Memory |",
    "|        ID   ID                                                               Usage      |",
    "|" + "=" * 89 + "|",
)
NO_PROCESSES: Final = "|  No running processes found" + " " * 61 + "|"
CSV_FIELDS: Final = "index,utilization.gpu,memory.used,temperature.gpu,power.draw"
CSV_HEADER: Final = "index, utilization.gpu [%], memory.used [MiB], temperature.gpu, power.draw [W]"
SWEEP_FIELDS: Final = "index,utilization.gpu,temperature.gpu,power.draw,memory.used"


@dataclass(frozen=True, slots=True)
class GpuSample:
    """One node's GPUs at one time: the trace's per-GPU values for them."""

    util: Sequence[float]
    mem: Sequence[float]
    temp: Sequence[float]
    power: Sequence[float]
    health: Sequence[int]


@dataclass(frozen=True, slots=True)
class Process:
    """A compute process on one of the node's GPUs (a `process` row of the trace)."""

    gpu: int
    pid: str
    name: str


@dataclass(frozen=True, slots=True)
class Device:
    """What nvidia-smi says of the card and its driver (the run config's figures)."""

    name: str
    memory_mib: int
    tdp_w: int
    driver: str
    cuda: str


def bus_id(index: int) -> str:
    """`00000000:18:00.0` for GPU `index` of the node."""
    return f"00000000:{BUS_IDS[index % len(BUS_IDS)]}:00.0"


def lost_line(index: int) -> str:
    """What nvidia-smi prints when GPU `index` fell off the bus."""
    return f"Unable to determine the device handle for GPU{bus_id(index)}: Unknown Error"


def _lost(sample: GpuSample) -> int | None:
    for i, h in enumerate(sample.health):
        if h == Health.LOST:
            return i
    return None


def ctime(when: float, utc: bool) -> str:
    """C's ctime() without its newline: `Sat Dec  7 05:56:45 2026` (day padded with a space)."""
    tm = time.gmtime(int(when)) if utc else time.localtime(int(when))
    return time.strftime("%a %b ", tm) + f"{tm.tm_mday:2d}" + time.strftime(" %H:%M:%S %Y", tm)


def table(sample: GpuSample, device: Device, stamp: str, procs: Sequence[Process]) -> list[str]:
    """`nvidia-smi`: the date, the driver header, three rows per GPU, the process table."""
    lost = _lost(sample)
    if lost is not None:
        return [lost_line(lost)]
    head = f"| NVIDIA-SMI {device.driver:<23}Driver Version: {device.driver:<15}"
    lines = [stamp + " " * 7, RULE, f"{head}CUDA Version: {device.cuda:<9}|", COLUMNS_RULE]
    lines += HEADER
    for i in range(len(sample.util)):
        lines += [
            f"|{i:>4}  {device.name[:29]:<29}{'On':>4}  |   {bus_id(i)} Off |{'0':>21} |",
            f"| N/A{round(sample.temp[i]):>5}C    P0{round(sample.power[i]):>15}W / "
            f"{device.tdp_w:>4}W |{round(sample.mem[i]):>8}MiB / {device.memory_mib:>6}MiB |"
            f"{str(round(sample.util[i])) + '%':>8}      Default |",
            "|" + " " * 41 + "|" + " " * 24 + "|" + f"{'Disabled':>21} |",
            GPU_RULE,
        ]
    lines.append(" " * 91)
    lines += PROCESSES
    if not procs:
        lines.append(NO_PROCESSES)
    for p in procs:
        used = round(sample.mem[p.gpu]) if p.gpu < len(sample.mem) else 0
        lines.append(
            f"|{p.gpu:>5}   N/A  N/A {p.pid[:9]:>9}      C   {p.name[:41]:<41}{used:>8}MiB |"
        )
    lines.append(RULE)
    return lines


def csv(sample: GpuSample) -> list[str]:
    """`nvidia-smi --query-gpu=index,utilization.gpu,memory.used,temperature.gpu,power.draw
    --format=csv`."""
    lost = _lost(sample)
    if lost is not None:
        return [lost_line(lost)]
    rows = [CSV_HEADER]
    for i in range(len(sample.util)):
        rows.append(
            f"{i}, {round(sample.util[i])} %, {round(sample.mem[i])} MiB, "
            f"{round(sample.temp[i])}, {sample.power[i]:.2f} W"
        )
    return rows


def csv_command() -> str:
    """The command line of the CSV form."""
    return f"nvidia-smi --query-gpu={CSV_FIELDS} --format=csv"


def watch(
    command: str,
    interval: float,
    host: str,
    stamp: str,
    output: Sequence[str],
    width: int,
    height: int,
) -> list[str]:
    """`watch -n interval command`'s screen, `width` × `height` (rows may be shorter)."""
    if width <= 0 or height <= 0:
        return []
    rows = [_header(command, interval, host, stamp, width)]
    if height > 1:
        rows.append("")
    for line in output:
        line = line.rstrip("\n")
        if not line:
            rows.append("")
        while line and len(rows) < height:
            rows.append(line[:width])
            line = line[width:]
        if len(rows) >= height:
            break
    return rows[:height]


def _header(command: str, interval: float, host: str, stamp: str, width: int) -> str:
    left = f"Every {interval:.1f}s: "
    right = f"{host}: {stamp}"
    rhlen = len(right) + 1  # ctime()'s newline counts in watch's arithmetic
    hlen = len(left)
    if width < rhlen:
        return ""
    row = [" "] * width

    def put(x: int, text: str) -> None:
        for k, ch in enumerate(text):
            if 0 <= x + k < width:
                row[x + k] = ch

    if rhlen + hlen + 1 <= width:
        put(0, left)
        if rhlen + hlen + 2 <= width:
            if width < rhlen + hlen + 4:
                put(width - rhlen - 4, "... ")
            elif width < rhlen + hlen + len(command):
                put(hlen, command[: width - rhlen - hlen - 4])
                put(width - rhlen - 4, "... ")
            else:
                put(hlen, command[: width - rhlen - hlen])
    put(width - rhlen + 1, right)
    return "".join(row).rstrip()
