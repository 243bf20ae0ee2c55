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
    # nvidia-smi -q's thermal thresholds: `GPU Slowdown Temp` (the clocks drop to hold it) and
    # `GPU Max Operating Temp`; H100 drivers print margins (T.Limit) from which they follow.
    slowdown_c: float = 89.0
    max_operating_c: float = 85.0
    # Memory bandwidth, GB/s (data sheet): what bounds a decoding engine, and the FLOPs per byte
    # that set the cost of memory-bound kernels (0: unknown, costed as an H100).
    mem_bw_gbs: float = 0.0
    # Sold in multi-node training clusters (HGX/DGX nodes); False: a workstation or cloud card
    # that runs jobs of one machine (at most 8 GPUs, PCIe, no NVLink): post-training's cards.
    cluster: bool = True
    # ECC on, as shipped (nvidia-smi's `Volatile Uncorr. ECC` a count): GeForce cards have none,
    # the RTX 6000 Ada ships with it off (issue 22's notes, section 10: their tables read `Off`)
    ecc: bool = True


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
        mem_bw_gbs=3350.0,
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
        mem_bw_gbs=4800.0,
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
        mem_bw_gbs=2039.0,
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
        mem_bw_gbs=1555.0,
        slowdown_c=89.0,
        max_operating_c=85.0,
    ),
    # Workstation and cloud cards of one-machine fine-tunes (PCIe 4.0, no NVLink). Names and
    # memory totals as nvidia-smi prints them (real tables: issue 22's notes, section 10); the
    # capacity torch reports as OOM messages print it; dense bf16 peaks with FP32 accumulate
    # from the Ada Lovelace whitepaper and the L40S data sheet; the A10G's tensor peak is AWS's
    # variant of the A10 (Baseten, "NVIDIA A10 vs A10G for ML model inference").
    GpuSpec(
        short="RTX4090",
        name="NVIDIA GeForce RTX 4090",
        memory_mib=24564,
        torch_gib=23.64,
        tdp_w=450,
        idle_w=18,
        peak_tflops=165.2,
        max_clock_mhz=2520,
        idle_clock_mhz=210,
        nvlink_gbs=22.0,
        ib_gbs=12.5,
        interconnect="PCIe 4.0 x16",
        bus_ids=("1000", "2000", "41000", "42000", "81000", "82000", "c1000", "c2000"),
        host_prefixes=("ws-4090", "rig-4090", "gpu-box"),
        mem_bw_gbs=1008.0,
        # A GeForce board's (nvidia-smi -q of an RTX 40 card with target 83 C, driver 545:
        # Slowdown 97 C, Max Operating 88 C; ollama/ollama#6163)
        slowdown_c=97.0,
        max_operating_c=88.0,
        cluster=False,
        ecc=False,
    ),
    GpuSpec(
        short="RTX6000Ada",
        name="NVIDIA RTX 6000 Ada Generation",
        memory_mib=49140,
        torch_gib=47.50,
        tdp_w=300,
        idle_w=22,
        peak_tflops=364.2,
        max_clock_mhz=2505,
        idle_clock_mhz=210,
        nvlink_gbs=22.0,
        ib_gbs=12.5,
        interconnect="PCIe 4.0 x16",
        bus_ids=("1000", "2000", "41000", "42000", "81000", "82000", "c1000", "c2000"),
        host_prefixes=("ws-rtx6000", "lambda-ws", "gpu-ws"),
        mem_bw_gbs=960.0,
        slowdown_c=97.0,  # taken as the GeForce board's (not read from a capture)
        max_operating_c=88.0,
        cluster=False,
        ecc=False,
    ),
    GpuSpec(
        short="L40S",
        name="NVIDIA L40S",
        memory_mib=46068,
        torch_gib=44.39,
        tdp_w=350,
        idle_w=34,
        peak_tflops=362.05,
        max_clock_mhz=2520,
        idle_clock_mhz=210,
        nvlink_gbs=22.0,
        ib_gbs=12.5,
        interconnect="PCIe 4.0 x16",
        bus_ids=("1b000", "1c000", "3d000", "3e000", "9d000", "9e000", "bd000", "be000"),
        host_prefixes=("l40s-node", "gpu-l40s", "ovx-l40s"),
        mem_bw_gbs=864.0,
        slowdown_c=89.0,  # passive data-centre boards: taken as the A100's (not read from a capture)
        max_operating_c=85.0,
        cluster=False,
    ),
    GpuSpec(
        short="A10G",
        name="NVIDIA A10G",
        memory_mib=23028,
        torch_gib=21.99,
        tdp_w=300,
        idle_w=16,
        peak_tflops=70.0,
        max_clock_mhz=1710,
        idle_clock_mhz=210,
        nvlink_gbs=22.0,
        ib_gbs=12.5,
        interconnect="PCIe 4.0 x16",
        bus_ids=("16000", "17000", "18000", "19000", "1a000", "1b000", "1c000", "1e000"),
        host_prefixes=("g5-node", "ec2-g5", "gpu-g5"),
        mem_bw_gbs=600.0,
        slowdown_c=89.0,  # passive data-centre boards: taken as the A100's (not read from a capture)
        max_operating_c=85.0,
        cluster=False,
    ),
)

GPU_TYPES: Final[tuple[str, ...]] = tuple(g.short for g in GPUS)
# Aliases accepted by --gpu-type besides the short names (all case-insensitive).
_ALIASES: Final[dict[str, str]] = {
    "a100-80gb": "A100",
    "h100-80gb": "H100",
    "h100-sxm": "H100",
    "4090": "RTX4090",
    "rtx-4090": "RTX4090",
    "rtx-6000-ada": "RTX6000Ada",
    "l40": "L40S",
}
# How often a drawn run lands on each type (clusters in the wild).
PICK_WEIGHTS: Final[dict[str, float]] = {
    "H100": 0.55,
    "A100": 0.25,
    "H200": 0.12,
    "A100-40GB": 0.08,
}
# ... and a post-training run of one machine (1-8 GPUs), where workstation and cloud cards are
# what most people have (the others 0).
POST_PICK_WEIGHTS: Final[dict[str, float]] = {
    "RTX4090": 0.28,
    "H100": 0.22,
    "L40S": 0.14,
    "A10G": 0.12,
    "A100": 0.12,
    "RTX6000Ada": 0.08,
    "A100-40GB": 0.04,
}


def find_gpu(name: str) -> GpuSpec | None:
    """The GPU type called `name` (short name or alias, case-insensitive), or None."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key).lower()
    return next((g for g in GPUS if g.short.lower() == key), None)
