"""The GPU catalogue: real figures of each GPU type and its node (data sheets, nvidia-smi, torch)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class GpuSpec:
    """One GPU type with what its data sheet, nvidia-smi and torch report, and its node's links."""

    short: str  # accepted by --gpu-type
    name: str  # as nvidia-smi and torch.cuda.get_device_name() print it
    memory_mib: int  # nvidia-smi's memory total
    torch_gib: float  # torch.cuda.get_device_properties().total_memory in GiB (what OOMs print)
    tdp_w: int
    idle_w: int
    peak_tflops: float  # dense bf16
    max_clock_mhz: int
    idle_clock_mhz: int
    nvlink_gbs: float  # NVLink bus bandwidth per GPU and direction, GB/s
    ib_gbs: float  # InfiniBand per GPU (one NIC per GPU), GB/s
    interconnect: str
    bus_ids: tuple[str, ...]  # PCI bus of GPUs 0-7 as NCCL prints them (busId)
    host_prefixes: tuple[str, ...]
    hbm_tbs: float = 0.0  # memory bandwidth, TB/s (data sheet; 0: unknown, costed as an H100)
    # nvidia-smi -q's thermal thresholds: `GPU Slowdown Temp` (the clocks drop to hold it) and
    # `GPU Max Operating Temp`; H100 drivers print margins (T.Limit) from which they follow.
    slowdown_c: float = 89.0
    max_operating_c: float = 85.0
    # Ampere and Hopper parts remap rows of their HBM (nvidia-smi -q: `Remapped Rows`, and
    # `Retired Pages` all N/A); older ones retire pages
    remaps_rows: bool = True


GPUS: Final[tuple[GpuSpec, ...]] = (
    GpuSpec(
        short="H100",
        name="NVIDIA H100 80GB HBM3",
        memory_mib=81559,
        torch_gib=79.18,
        tdp_w=700,
        idle_w=72,
        peak_tflops=989.0,
        max_clock_mhz=1980,
        idle_clock_mhz=345,
        nvlink_gbs=450.0,
        ib_gbs=50.0,
        interconnect="NVLink 4 (900 GB/s) + 8x InfiniBand NDR 400 Gb/s",
        bus_ids=("18000", "2a000", "3a000", "5d000", "9a000", "ab000", "ba000", "db000"),
        host_prefixes=("dgx-h100", "gpu-h100", "hgx-h100", "node-h100"),
        hbm_tbs=3.35,
        slowdown_c=89.0,  # T.Limit: max operating 87 C, slowdown -2 C past it
        max_operating_c=87.0,
    ),
    GpuSpec(
        short="H200",
        name="NVIDIA H200",
        memory_mib=143771,
        torch_gib=139.81,
        tdp_w=700,
        idle_w=78,
        peak_tflops=989.0,
        max_clock_mhz=1980,
        idle_clock_mhz=345,
        nvlink_gbs=450.0,
        ib_gbs=50.0,
        interconnect="NVLink 4 (900 GB/s) + 8x InfiniBand NDR 400 Gb/s",
        bus_ids=("18000", "2a000", "3a000", "5d000", "9a000", "ab000", "ba000", "db000"),
        host_prefixes=("hgx-h200", "gpu-h200", "node-h200"),
        hbm_tbs=4.8,
        slowdown_c=89.0,  # the H100's SXM5 board and limits
        max_operating_c=87.0,
    ),
    GpuSpec(
        short="A100",
        name="NVIDIA A100-SXM4-80GB",
        memory_mib=81920,
        torch_gib=79.15,
        tdp_w=400,
        idle_w=62,
        peak_tflops=312.0,
        max_clock_mhz=1410,
        idle_clock_mhz=210,
        nvlink_gbs=300.0,
        ib_gbs=25.0,
        interconnect="NVLink 3 (600 GB/s) + 8x InfiniBand HDR 200 Gb/s",
        bus_ids=("7000", "f000", "47000", "4e000", "87000", "90000", "b7000", "bd000"),
        host_prefixes=("dgx-a100", "gpu-a100", "node-a100"),
        hbm_tbs=2.039,
        slowdown_c=89.0,  # nvidia-smi -q on A100 SXM4: Slowdown 89 C, Max Operating 85 C
        max_operating_c=85.0,
    ),
    GpuSpec(
        short="A100-40GB",
        name="NVIDIA A100-SXM4-40GB",
        memory_mib=40960,
        torch_gib=39.39,
        tdp_w=400,
        idle_w=55,
        peak_tflops=312.0,
        max_clock_mhz=1410,
        idle_clock_mhz=210,
        nvlink_gbs=300.0,
        ib_gbs=25.0,
        interconnect="NVLink 3 (600 GB/s) + 8x InfiniBand HDR 200 Gb/s",
        bus_ids=("7000", "f000", "47000", "4e000", "87000", "90000", "b7000", "bd000"),
        host_prefixes=("dgx-a100", "gpu-a100", "node-a100"),
        hbm_tbs=1.555,
        slowdown_c=89.0,
        max_operating_c=85.0,
    ),
)

GPU_TYPES: Final[tuple[str, ...]] = tuple(g.short for g in GPUS)
# Aliases accepted by --gpu-type besides the short names (all case-insensitive).
_ALIASES: Final[dict[str, str]] = {"a100-80gb": "A100", "h100-80gb": "H100", "h100-sxm": "H100"}
# How often a drawn run lands on each type (clusters in the wild).
PICK_WEIGHTS: Final[dict[str, float]] = {
    "H100": 0.55,
    "A100": 0.25,
    "H200": 0.12,
    "A100-40GB": 0.08,
}


def find_gpu(name: str) -> GpuSpec | None:
    """The GPU type called `name` (short name or alias, case-insensitive), or None."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key).lower()
    return next((g for g in GPUS if g.short.lower() == key), None)
