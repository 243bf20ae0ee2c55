"""NCCL-shaped log lines: communicator set-up, and the per-bucket gradient collectives.

Real stacks never reduce the whole gradient in one collective: they bucket it. Megatron's
DDP (distributed optimizer) reduce-scatters buckets of max(40M, 1M x dp) parameters and
all-gathers the updated parameters per bucket; DeepSpeed ZeRO-3 reduce-scatters buckets of
`reduce_bucket_size` (5e8) elements and all-gathers parameters in `stage3_prefetch_bucket_size`
(5e7) buckets; FSDP reduce-scatters and all-gathers one wrapped unit (a decoder layer, or the
root with the embeddings) at a time; plain DDP all-reduces 25 MB buckets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from llmsim.generator.architecture import layer_tensors, spec_of
from llmsim.generator.rows import Rows
from llmsim.generator.shim import extra_of
from llmsim.trace.config import RunConfig

_BUS_IDS = {
    "H100": ("18000", "2a000", "3a000", "5d000", "9a000", "ab000", "ba000", "db000"),
    "H200": ("18000", "2a000", "3a000", "5d000", "9a000", "ab000", "ba000", "db000"),
    "A100": ("7000", "f000", "47000", "4e000", "87000", "90000", "b7000", "bd000"),
}
_IB_DEVS = (0, 3, 4, 5, 6, 9, 10, 11)
MAX_RING_PRINT = 16  # ring channel lines list every rank: print them only for small worlds
NCCL_BF16 = 9  # ncclBfloat16: NCCL's COLL lines print the datatype as its enum value
MEGATRON_BUCKET = 40_000_000  # Megatron DDP bucket_size: max(40M, 1M x dp) parameters
ZERO_REDUCE_BUCKET = 500_000_000  # DeepSpeed reduce_bucket_size (elements)
ZERO_PREFETCH_BUCKET = 50_000_000  # DeepSpeed stage3_prefetch_bucket_size (elements)
DDP_BUCKET_ELEMS = 25 * 2**20 // 2  # torch DDP bucket_cap_mb=25, bf16
BUS_JITTER = (0.95, 1.0)  # per-collective share of the run's nominal bus bandwidth


@dataclass(frozen=True)
class Bucket:
    """`count` collectives per optimizer step, each moving one message of `elems` bf16 values."""

    op: str  # AllReduce, ReduceScatter or AllGather
    elems: int  # elements of the whole message (padded to a multiple of nranks for RS/AG)
    count: int


@dataclass(frozen=True)
class CommPlan:
    """How one data-parallel rank's gradients (and parameters) travel over the dp group."""

    stack: str  # megatron, zero3, fsdp or ddp
    nranks: int
    rank_elems: int  # gradient elements each data-parallel rank reduces per step
    grads: tuple[Bucket, ...]  # full buckets first, then the remainder
    gathers: tuple[Bucket, ...]  # parameter all-gathers (none for plain DDP)
    per_micro_batch: bool  # the collectives repeat for every micro-batch (ZeRO-3, FSDP)

    @property
    def grad_buckets(self) -> int:
        """Gradient collectives per (micro-)batch."""
        return sum(b.count for b in self.grads)

    @property
    def gather_buckets(self) -> int:
        """Parameter all-gathers per (micro-)batch pass."""
        return sum(b.count for b in self.gathers)

    def ops_per_step(self, grad_accum: int) -> int:
        """Collectives on the dp communicator per optimizer step (for opCount)."""
        if not self.per_micro_batch:
            return self.grad_buckets + self.gather_buckets
        return grad_accum * (self.grad_buckets + 2 * self.gather_buckets)  # fwd + bwd gathers

    def seconds(self, busbw_gbs: float) -> float:
        """Time of one step's gradient and parameter collectives at this bus bandwidth."""
        return sum(
            b.count * ring_seconds(b.op, 2 * b.elems, self.nranks, busbw_gbs)
            for b in (*self.grads, *self.gathers)
        )


def ring_factor(op: str, nranks: int) -> float:
    """busbw / algbw of a ring collective: 2(n-1)/n for AllReduce, (n-1)/n for RS/AG."""
    return (2.0 if op == "AllReduce" else 1.0) * (nranks - 1) / nranks


def ring_seconds(op: str, nbytes: int, nranks: int, busbw_gbs: float) -> float:
    """Ring time of one collective over `nbytes` (the whole message)."""
    return ring_factor(op, nranks) * nbytes / (busbw_gbs * 1e9)


def _buckets(op: str, total: int, size: int, pad: int) -> tuple[Bucket, ...]:
    full, rest = divmod(total, size)
    out = [Bucket(op, _ceil_to(size, pad), full)] if full else []
    if rest:
        out.append(Bucket(op, _ceil_to(rest, pad), 1))
    return tuple(out)


def _ceil_to(x: int, m: int) -> int:
    return -(-x // m) * m


def comm_plan(config: RunConfig) -> CommPlan | None:
    """The bucket plan of the run's data-parallel collectives (None without data parallelism)."""
    c = config
    n = c.dp
    if n <= 1:
        return None
    rank = c.params // (c.tp * c.pp)
    if "Megatron" in c.strategy:
        size, pad = max(MEGATRON_BUCKET, 1_000_000 * n), math.lcm(n, 128)
        g = _buckets("ReduceScatter", rank, size, pad)
        return CommPlan("megatron", n, rank, g, _buckets("AllGather", rank, size, pad), False)
    if "ZeRO-3" in c.strategy:
        g = _buckets("ReduceScatter", rank, ZERO_REDUCE_BUCKET, n)
        a = _buckets("AllGather", rank, ZERO_PREFETCH_BUCKET, n)
        return CommPlan("zero3", n, rank, g, a, True)
    if "FSDP" in c.strategy:
        layer = sum(k for _, k in layer_tensors(spec_of(c), 0))
        root = rank - c.layers * layer
        units: tuple[Bucket, ...] = ()
        for op in ("ReduceScatter", "AllGather"):
            units += (Bucket(op, _ceil_to(layer, n), c.layers), Bucket(op, _ceil_to(root, n), 1))
        return CommPlan("fsdp", n, rank, units[:2], units[2:], True)
    return CommPlan("ddp", n, rank, _buckets("AllReduce", rank, DDP_BUCKET_ELEMS, 1), (), False)


@dataclass(frozen=True)
class NcclNames:
    """Process ids, addresses and communicator ids of the run (drawn once)."""

    config: RunConfig
    pid_base: tuple[int, ...]  # per node
    tid_off: int
    subnet: int
    comm_id: str
    comm_ptr: str
    groups: tuple[tuple[str, str], ...]  # (comm pointer, commId) of the tp, pp and dp groups

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
            tuple(
                (
                    "0x55" + "".join(f"{int(b):02x}" for b in rng.integers(0, 256, 5)),
                    "0x" + "".join(f"{int(b):02x}" for b in rng.integers(0, 256, 8)),
                )
                for _ in range(3)
            ),
        )

    def dp_comm(self) -> str:
        """Pointer of the communicator the gradient collectives run on."""
        c = self.config
        return self.comm_ptr if c.dp == c.gpus else self.groups[2][0]

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
        # every further process group (Megatron: tensor, pipeline, data) gets its communicator
        groups = (("tp", c.tp), ("pp", c.pp), ("dp", c.dp))
        for (_, size), (ptr, cid) in zip(groups, self.groups, strict=True):
            if size <= 1 or size == n:
                continue
            head = f"comm {ptr} rank 0 nranks {size} cudaDev 0 nvmlDev 0 busId {self.bus_id(0)}"
            log(f"{p0} NCCL INFO ncclCommInitRank {head} commId {cid} - Init START", 0.05)
            log(
                f"{p0} NCCL INFO ncclCommInitRank {head} commId {cid} - Init COMPLETE",
                float(rng.uniform(0.2, 0.8)),
            )
        return t

    def collective(self, op: str, elems: int, op_count: int, busbw_gbs: float) -> tuple[str, float]:
        """One bucket's collective on the dp communicator as rank 0 logs it: (text, seconds).

        `count` is what NCCL prints: all elements for AllReduce, one rank's share for
        ReduceScatter (recvcount) and AllGather (sendcount). size/time/algbw/busbw follow the
        ring model: time = factor x bytes / busbw, algbw = bytes / time, busbw = algbw x factor.
        """
        n = self.config.dp
        nbytes = 2 * elems
        seconds = ring_seconds(op, nbytes, n, busbw_gbs)
        count = elems if op == "AllReduce" else elems // n
        text = (
            f"{self.prefix(0, thread=False)} NCCL INFO {op}: opCount {op_count:x} count {count} "
            f"datatype {NCCL_BF16} op 0 root 0 comm {self.dp_comm()} [nranks={n}] "
            f"size {nbytes / 2**20:.2f} MiB time {seconds * 1e3:.3f} ms "
            f"algbw {nbytes / seconds / 1e9:.2f} GB/s busbw {busbw_gbs:.2f} GB/s"
        )
        return text, seconds

    def step_lines(
        self, plan: CommPlan, step: int, rng: np.random.Generator
    ) -> list[tuple[float, str]]:
        """Collectives logged for one step: (fraction of the step, text), in step order.

        One parameter all-gather early in the forward pass (a full bucket) and one gradient
        bucket late in the backward pass.
        """
        c = self.config
        nominal = float(extra_of(c).get("nccl_bus_gbs", 40.0))
        ops = plan.ops_per_step(c.grad_accum)
        base = (step - 1) * ops
        out: list[tuple[float, str]] = []
        if plan.gathers:
            bus = nominal * float(rng.uniform(*BUS_JITTER))
            text, _ = self.collective("AllGather", plan.gathers[0].elems, base, bus)
            out.append((float(rng.uniform(0.02, 0.1)), text))
        bus = nominal * float(rng.uniform(*BUS_JITTER))
        text, _ = self.collective(plan.grads[0].op, plan.grads[0].elems, base + ops - 1, bus)
        out.append((float(rng.uniform(0.8, 0.95)), text))
        return out


def grad_op_type(config: RunConfig) -> str:
    """PyTorch's OpType name of the gradient collective (what watchdog messages print)."""
    plan = comm_plan(config)
    return "ALLREDUCE" if plan is None or plan.stack == "ddp" else "_REDUCE_SCATTER_BASE"
