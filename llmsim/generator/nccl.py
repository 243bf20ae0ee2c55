"""NCCL-shaped log lines: communicator set-up for a few ranks, and all-reduce timings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from llmsim.generator.rows import Rows
from llmsim.trace.config import RunConfig

_BUS_IDS = {
    "H100": ("18000", "2a000", "3a000", "5d000", "9a000", "ab000", "ba000", "db000"),
    "H200": ("18000", "2a000", "3a000", "5d000", "9a000", "ab000", "ba000", "db000"),
    "A100": ("7000", "f000", "47000", "4e000", "87000", "90000", "b7000", "bd000"),
}
_IB_DEVS = (0, 3, 4, 5, 6, 9, 10, 11)
MAX_RING_PRINT = 16  # ring channel lines list every rank: print them only for small worlds


@dataclass(frozen=True)
class NcclNames:
    """Process ids, addresses and communicator ids of the run (drawn once)."""

    config: RunConfig
    pid_base: tuple[int, ...]  # per node
    tid_off: int
    subnet: int
    comm_id: str
    comm_ptr: str

    @classmethod
    def draw(cls, config: RunConfig, rng: np.random.Generator) -> NcclNames:
        """Draw the names for a run."""
        pids = tuple(int(p) for p in rng.integers(1_000_000, 3_900_000, config.nodes))
        return cls(
            config,
            pids,
            int(rng.integers(300, 900)),
            int(rng.integers(1, 250)),
            "0x" + "".join(f"{int(b):02x}" for b in rng.integers(0, 256, 8)),
            "0x55" + "".join(f"{int(b):02x}" for b in rng.integers(0, 256, 5)),
        )

    def prefix(self, rank: int, thread: bool = True) -> str:
        """`host:pid:tid [dev]` of a global rank."""
        c = self.config
        node, dev = divmod(rank, c.gpus_per_node)
        pid = self.pid_base[node] + dev + 1
        tid = pid + self.tid_off + 7 * dev if thread else pid
        return f"{c.hostnames[node]}:{pid}:{tid} [{dev}]"

    def ip(self, node: int) -> str:
        """Management address of a node."""
        return f"10.{self.subnet}.{node // 250}.{node % 250 + 4}"

    def bus_id(self, rank: int) -> str:
        """PCI bus id as NCCL prints it."""
        ids = _BUS_IDS.get(self.config.gpu_short, _BUS_IDS["A100"])
        return ids[rank % self.config.gpus_per_node % len(ids)]

    def init_lines(self, r: Rows, t: float, rng: np.random.Generator) -> float:
        """Communicator init as rank 0 prints it, plus Init COMPLETE of a few ranks."""
        c = self.config
        n, nodes = c.gpus, c.nodes
        nvls = c.gpu_short in ("H100", "H200")
        p0, p0m = self.prefix(0), self.prefix(0, thread=False)
        ip0 = self.ip(0)

        def log(text: str, dt: float = 0.0) -> None:
            nonlocal t
            t += dt
            r.log(t, "init", "INFO", "nccl", text)

        log(f"{p0m} NCCL INFO Bootstrap : Using bond0:{ip0}<0>")
        log(f"{p0m} NCCL INFO NET/Plugin: No plugin found (libnccl-net.so)")
        log(
            f"{p0m} NCCL INFO NET/Plugin: Plugin load returned 2 : libnccl-net.so: cannot open "
            "shared object file: No such file or directory : when loading libnccl-net.so"
        )
        log(f"{p0m} NCCL INFO NET/Plugin: Using internal network plugin.")
        cuda = c.cuda_version.split(".")
        log(f"{p0m} NCCL INFO cudaDriverVersion {int(cuda[0])}{int(cuda[1]):02d}0")
        log(f"NCCL version {c.nccl_version}+cuda{c.cuda_version}", float(rng.uniform(0.01, 0.05)))
        devs = " ".join(f"[{i}]mlx5_{d}:1/IB" for i, d in enumerate(_IB_DEVS))
        log(f"{p0} NCCL INFO NET/IB : Using {devs} [RO]; OOB bond0:{ip0}<0>", 0.3)
        log(f"{p0} NCCL INFO Using non-device net plugin version 0")
        log(f"{p0} NCCL INFO Using network IB")
        head = f"ncclCommInitRank comm {self.comm_ptr} rank 0 nranks {n} cudaDev 0 nvmlDev 0 busId"
        log(f"{p0} NCCL INFO {head} {self.bus_id(0)} commId {self.comm_id} - Init START", 0.05)
        log(f"{p0} NCCL INFO Setting affinity for GPU 0 to ffffffff,00000000,ffffffff", 0.2)
        if nvls:
            log(f"{p0} NCCL INFO NVLS multicast support is available on dev 0")
        log(
            f"{p0} NCCL INFO comm {self.comm_ptr} rank 0 nRanks {n} nNodes {nodes} localRanks "
            f"{c.gpus_per_node} localRank 0 MNNVL 0"
        )
        channels = 24 if nvls else 16
        if n <= MAX_RING_PRINT:
            ring = "".join(f" {i:3d}" for i in range(n))
            for ch in range(channels):
                log(f"{p0} NCCL INFO Channel {ch:02d}/{channels} :{ring}")
        down = f"1/{c.gpus_per_node}/-1" if nodes > 1 else "1/-1/-1"
        trees = " ".join(f"[{ch}] {down}->0->-1" for ch in range(min(channels, 8)))
        log(f"{p0} NCCL INFO Trees {trees}")
        log(f"{p0} NCCL INFO P2P Chunksize set to 524288")
        for ch in range(min(channels, 4)):
            if n > 1:
                log(f"{p0} NCCL INFO Channel {ch:02d}/0 : 0[0] -> 1[1] via P2P/CUMEM/read")
        if nodes > 1:
            last = n - 1
            log(
                f"{p0} NCCL INFO Channel 00/0 : {last}[{last % c.gpus_per_node}] -> 0[0] "
                "[receive] via NET/IB/0/GDRDMA"
            )
            log(
                f"{p0} NCCL INFO Channel 00/0 : 0[0] -> {c.gpus_per_node}[0] [send] via "
                "NET/IB/0/GDRDMA"
            )
        log(f"{p0} NCCL INFO Connected all rings", float(rng.uniform(0.3, 1.5)))
        log(f"{p0} NCCL INFO Connected all trees")
        if nvls:
            log(f"{p0} NCCL INFO Connected NVLS tree")
        log(f"{p0} NCCL INFO threadThresholds 8/8/64 | {8 * n}/8/64 | 512 | 512")
        nv = "16 nvls channels, " if nvls else "0 nvls channels, "
        log(
            f"{p0} NCCL INFO {channels} coll channels, {channels} collnet channels, {nv}"
            "32 p2p channels, 32 p2p channels per peer"
        )
        log(
            f"{p0} NCCL INFO TUNER/Plugin: Plugin load returned 11 : libnccl-tuner.so: cannot open "
            "shared object file: No such file or directory : when loading libnccl-tuner.so"
        )
        log(f"{p0} NCCL INFO TUNER/Plugin: Using internal tuner plugin.")
        others = sorted({0, *range(1, min(n, 4)), *([c.gpus_per_node] if nodes > 1 else []), n - 1})
        for rank in others:
            head = (
                f"ncclCommInitRank comm {self.comm_ptr} rank {rank} nranks {n} cudaDev "
                f"{rank % c.gpus_per_node} nvmlDev {rank % c.gpus_per_node} busId"
            )
            log(
                f"{self.prefix(rank)} NCCL INFO {head} {self.bus_id(rank)} commId "
                f"{self.comm_id} - Init COMPLETE",
                float(rng.uniform(0.0, 0.02)),
            )
        return t

    def allreduce(self, bytes_: int, op: int) -> tuple[str, float]:
        """One gradient all-reduce over the data-parallel group: (log text, seconds)."""
        c = self.config
        n = c.dp
        bus = float(c.extra.get("nccl_bus_gbs", 40.0))
        seconds = 2.0 * (n - 1) / n * bytes_ / (bus * 1e9)
        alg = bytes_ / seconds / 1e9
        text = (
            f"{self.prefix(0)} NCCL INFO AllReduce: opCount {op:x} count {bytes_ // 2:,} "
            f"datatype bf16 nranks {n} size {bytes_ / 2**20:,.1f} MiB time {seconds * 1e3:.2f} ms "
            f"algbw {alg:.2f} GB/s busbw {bus:.2f} GB/s"
        )
        return text, seconds


def grad_bytes(config: RunConfig) -> int:
    """Bytes of bf16 gradients one data-parallel rank reduces per step."""
    return 2 * (config.params // (config.tp * config.pp))
