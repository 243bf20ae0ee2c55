"""NCCL's own lines with NCCL_DEBUG=INFO: communicator set-up only (NCCL prints no timings of
collectives; those would need NCCL_DEBUG_SUBSYS=COLL and still carry no times).

Source: NCCL v2.27.5-1 (init.cc, bootstrap.cc, plugin/net.cc, transport/*.cc, graph/*.cc) and
REFERENCE-LOGS.md section 5 for the order. The prefix is `{host}:{pid}:{tid} [{cudaDev}]`, the
init thread's tid differing from the pid. The pip wheels of torch 2.8/2.9 pin 2.27.3/2.27.5,
built with CUDA 12.9.
"""

from __future__ import annotations

from typing import Final

from llmsim.generator.rows import Logger
from llmsim.generator.stacks.context import Context

_IB_DEVS: Final = (0, 3, 4, 5, 6, 9, 10, 11)
MAX_RING_PRINT: Final = 16  # ring lines list every rank: only small worlds print them
DRIVER_VERSION: Final = 12080  # cudaDriverVersion of a CUDA 12.8 driver


def _prefix(ctx: Context, rank: int, thread: bool) -> str:
    dev = ctx.config.local_rank(rank)
    pid = ctx.worker_pid(rank)
    tid = pid + ctx.ids.tid_offset + 7 * dev if thread else pid
    return f"{ctx.host_of(rank)}:{pid}:{tid} [{dev}]"


def _bus(ctx: Context, rank: int) -> str:
    ids = ctx.plan.choice.gpu.bus_ids
    return ids[ctx.config.local_rank(rank) % len(ids)]


def _head(ctx: Context, comm: int, rank: int, nranks: int) -> str:
    dev = ctx.config.local_rank(rank)
    return (
        f"ncclCommInitRankConfig comm {ctx.ids.comm_hex[comm]} rank {rank} nranks {nranks} "
        f"cudaDev {dev} nvmlDev {dev} busId {_bus(ctx, rank)} commId {ctx.ids.comm_ids[comm]}"
    )


def init_lines(ctx: Context, log: Logger) -> None:
    """The world communicator as rank 0 sets it up, and Init COMPLETE of the ranks that print."""
    c = ctx.config
    if c.gpus == 1:
        return
    n, nodes = c.gpus, c.nodes
    nvls = c.gpu_short in ("H100", "H200")
    main, init = _prefix(ctx, 0, False), _prefix(ctx, 0, True)
    oob = f"bond0:{ctx.ip(0)}<0>"
    log.info(f"{main} NCCL INFO Bootstrap: Using {oob}", dt=0.05)
    log.info(f"{main} NCCL INFO cudaDriverVersion {DRIVER_VERSION}")
    log.info(f"{main} NCCL INFO NCCL version {c.nccl_version}+cuda12.9")
    log.info(f"{main} NCCL INFO Comm config Blocking set to 1")
    log.info(f"{init} NCCL INFO NET/Plugin: Could not find: libnccl-net.so.", dt=0.2)
    devs = " ".join(f"[{i}]mlx5_{d}:1/IB" for i, d in enumerate(_IB_DEVS))
    log.info(f"{init} NCCL INFO NET/IB : Using {devs} [RO]; OOB {oob}", dt=0.1)
    log.info(f"{init} NCCL INFO Initialized NET plugin IB")
    log.info(f"{init} NCCL INFO Assigned NET plugin IB to comm")
    log.info(f"{init} NCCL INFO Using network IB")
    log.info(f"{init} NCCL INFO DMA-BUF is available on GPU device 0")
    log.info(f"{init} NCCL INFO {_head(ctx, 0, 0, n)} - Init START", dt=0.02)
    log.info(f"{init} NCCL INFO Setting affinity for GPU 0 to ffffffff,00000000,ffffffff", dt=0.3)
    if nvls:
        log.info(
            f"{init} NCCL INFO NVLS multicast support is available on dev 0 (NVLS_NCHANNELS 16)"
        )
    log.info(
        f"{init} NCCL INFO comm {ctx.ids.comm_hex[0]} rank 0 nRanks {n} nNodes {nodes} "
        f"localRanks {c.gpus_per_node} localRank 0 MNNVL 0"
    )
    _topology(ctx, log, init, nvls)
    _complete(ctx, log, init)


def _topology(ctx: Context, log: Logger, init: str, nvls: bool) -> None:
    c = ctx.config
    n, nodes = c.gpus, c.nodes
    channels = 24 if nvls else 16
    if n <= MAX_RING_PRINT:
        ring = "".join(f" {i:3d}" for i in range(n))
        for ch in range(channels):
            log.info(f"{init} NCCL INFO Channel {ch:02d}/{channels} :{ring}")
    down = f"1/{c.gpus_per_node}/-1" if nodes > 1 else "1/-1/-1"
    trees = " ".join(f"[{ch}] {down}->0->-1" for ch in range(channels))
    log.info(f"{init} NCCL INFO Trees {trees}")
    log.info(f"{init} NCCL INFO P2P Chunksize set to 524288")
    if c.gpus_per_node > 1:
        for ch in range(channels):
            log.info(f"{init} NCCL INFO Channel {ch:02d}/0 : 0[0] -> 1[1] via P2P/CUMEM/read")
    if nodes > 1:
        last = n - 1
        log.info(
            f"{init} NCCL INFO Channel 00/0 : {last}[{c.local_rank(last)}] -> 0[0] "
            "[receive] via NET/IB/0/GDRDMA"
        )
        log.info(
            f"{init} NCCL INFO Channel 00/0 : 0[0] -> {c.gpus_per_node}[0] [send] via "
            "NET/IB/0/GDRDMA"
        )
    log.info(f"{init} NCCL INFO Connected all rings, use ring PXN 0 GDR 1", dt=0.4)
    log.info(f"{init} NCCL INFO Connected all trees")
    if nvls:
        log.info(f"{init} NCCL INFO Connected NVLS tree")
    log.info(f"{init} NCCL INFO threadThresholds 8/8/64 | {8 * n}/8/64 | 512 | 512")
    nv = 16 if nvls else 0
    log.info(
        f"{init} NCCL INFO {channels} coll channels, {channels} collnet channels, {nv} nvls "
        "channels, 32 p2p channels, 32 p2p channels per peer"
    )
    log.info(f"{init} NCCL INFO CC Off, workFifoBytes 1048576")
    log.info(
        f"{init} NCCL INFO TUNER/Plugin: Could not find: libnccl-tuner.so. Using internal "
        "tuner plugin."
    )


def _timings(ctx: Context, total: float, rank: int, nranks: int) -> str:
    r = ctx.rng
    parts = [float(x) for x in r.dirichlet((1.0, 4.0, 1.0, 0.2, 0.5, 0.2, 2.0, 0.2))]
    names = ("kernels", "alloc", "bootstrap", "allgathers", "topo", "graphs", "connections", "rest")
    body = ", ".join(f"{k} {total * p:.2f}" for k, p in zip(names, parts, strict=True))
    return (
        f"Init timings - ncclCommInitRankConfig: rank {rank} nranks {nranks} total {total:.2f} "
        f"({body})"
    )


def _complete(ctx: Context, log: Logger, init: str) -> None:
    c = ctx.config
    total = float(ctx.rng.uniform(1.5, 4.5)) + 0.002 * c.gpus
    log.info(f"{init} NCCL INFO {_head(ctx, 0, 0, c.gpus)} - Init COMPLETE", dt=0.2)
    log.info(f"{init} NCCL INFO {_timings(ctx, total, 0, c.gpus)}")
    for rank in printing_ranks(ctx)[1:]:
        log.info(
            f"{_prefix(ctx, rank, True)} NCCL INFO {_head(ctx, 0, rank, c.gpus)} - Init COMPLETE",
            dt=float(ctx.rng.uniform(0.0, 0.02)),
        )


def printing_ranks(ctx: Context) -> list[int]:
    """Ranks whose lines reach the console shown: node 0's (and, merged by srun, a few more)."""
    c = ctx.config
    if ctx.profile.rank0_only:  # e.g. run_train.sh's --local-ranks-filter 0
        return [0]
    ranks = list(range(c.gpus_per_node))
    if c.launcher in ("srun", "deepspeed") and c.nodes > 1:  # the deepspeed runner uses srun too
        ranks += [c.gpus_per_node, c.gpus - 1]
    return ranks


def group_lines(ctx: Context, log: Logger, sizes: tuple[tuple[int, int], ...]) -> None:
    """Further communicators (Megatron's tensor, pipeline, data groups): START and COMPLETE."""
    init = _prefix(ctx, 0, True)
    for slot, size in sizes:
        if size <= 1 or size == ctx.config.gpus:
            continue
        log.info(f"{init} NCCL INFO {_head(ctx, slot, 0, size)} - Init START", dt=0.05)
        log.info(
            f"{init} NCCL INFO {_head(ctx, slot, 0, size)} - Init COMPLETE",
            dt=float(ctx.rng.uniform(0.2, 0.8)),
        )
        log.info(f"{init} NCCL INFO {_timings(ctx, float(ctx.rng.uniform(0.3, 1.2)), 0, size)}")
