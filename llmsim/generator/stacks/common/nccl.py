"""NCCL's own lines: communicator set-up only (NCCL prints no timings of collectives; those
would need NCCL_DEBUG_SUBSYS=COLL and still carry no times).

Source: NCCL v2.27.3-1 (src/debug.cc, init.cc, bootstrap.cc, misc/cudawrap.cc, plugin/net.cc,
transport/net_ib.cc, p2p.cc, net.cc, nvls.cc, generic.cc, graph/rings.cc, graph/tuning.cc).
What the launch's NCCL_DEBUG lets through (debug.cc `ncclDebugInit`, init.cc `showVersion`):
- unset or WARN: rank 0 alone prints its version, bare (`VERSION` level: no host prefix);
- INFO (default sub-systems INIT, BOOTSTRAP, ENV): every process prints its own set-up, each
  line `{host}:{pid}:{tid} [{cudaDev}] NCCL INFO ...`, the process's main thread (tid = pid) for
  bootstrap, driver, version and config, the init thread for the rest; only rank 0 prints the
  rings (`Channel 00/24 :` with every rank: graph/rings.cc `if (rank == 0)`), each rank its own
  trees and the connections it makes. The processes run at once: their lines interleave.
The pip wheels of torch 2.8/2.9 pin NCCL 2.27.3/2.27.5, built with CUDA 12.9.
"""

from __future__ import annotations

from typing import Final

from llmsim.generator.rows import Logger
from llmsim.generator.stacks.context import Context

_IB_DEVS: Final = (0, 3, 4, 5, 6, 9, 10, 11)
DRIVER_VERSION: Final = 12080  # cudaDriverVersion of a CUDA 12.8 driver
MERGED_MAX: Final = 64  # ranks of a merged (srun) console shown; more is sampled


def _prefix(ctx: Context, rank: int, thread: bool) -> str:
    dev = ctx.config.local_rank(rank)
    pid = ctx.worker_pid(rank)
    tid = pid + ctx.ids.tid_offset + 7 * dev if thread else pid
    return f"{ctx.host_of(rank)}:{pid}:{tid} [{dev}]"


def _bus(ctx: Context, rank: int) -> str:
    ids = ctx.plan.choice.gpu.bus_ids
    return ids[ctx.config.local_rank(rank) % len(ids)]


def _comm(ctx: Context, comm: int, rank: int) -> str:
    """The communicator's address in this rank's process (each process has its own heap)."""
    base = int(ctx.ids.comm_hex[comm], 16)
    return f"{base + ((rank * 0x9E3779B1) % 0x7FFFF) * 0x100:#x}"


def _head(ctx: Context, comm: int, rank: int, nranks: int, group_rank: int | None = None) -> str:
    dev = ctx.config.local_rank(rank)
    r = rank if group_rank is None else group_rank
    return (
        f"ncclCommInitRankConfig comm {_comm(ctx, comm, rank)} rank {r} nranks {nranks} "
        f"cudaDev {dev} nvmlDev {dev} busId {_bus(ctx, rank)} commId {ctx.ids.comm_ids[comm]}"
    )


def info(ctx: Context) -> bool:
    """Whether this launch runs with NCCL_DEBUG=INFO."""
    return ctx.plan.flags.nccl_debug == "INFO" and ctx.config.gpus > 1


def init_lines(ctx: Context, log: Logger) -> None:
    """The world communicator's set-up as the launch's NCCL_DEBUG shows it: every printing
    rank's block, interleaved (INFO), or rank 0's bare version line (WARN)."""
    c = ctx.config
    if c.gpus == 1:
        return
    if not info(ctx):
        if 0 in printing_ranks(ctx):
            log.info(f"NCCL version {c.nccl_version}+cuda12.9", dt=0.05)
        return
    start = ctx.clock.t
    end = start
    for rank in printing_ranks(ctx):
        ctx.clock.t = start + float(ctx.rng.uniform(0.0, 0.08))
        _rank_block(ctx, log, rank)
        end = max(end, ctx.clock.t)
    ctx.clock.t = end


def _rank_block(ctx: Context, log: Logger, rank: int) -> None:
    """One process's lines for the world communicator, from bootstrap to Init COMPLETE."""
    c = ctx.config
    n, nodes, dev = c.gpus, c.nodes, c.local_rank(rank)
    nvls = c.gpu_short in ("H100", "H200")
    main, init = _prefix(ctx, rank, False), _prefix(ctx, rank, True)
    oob = f"bond0:{ctx.ip(c.node_of(rank))}<0>"
    log.info(f"{main} NCCL INFO Bootstrap: Using {oob}")
    log.info(f"{main} NCCL INFO cudaDriverVersion {DRIVER_VERSION}", dt=0.002)
    log.info(f"{main} NCCL INFO NCCL version {c.nccl_version}+cuda12.9")
    log.info(f"{main} NCCL INFO Comm config Blocking set to 1")
    log.info(f"{init} NCCL INFO NET/Plugin: Could not find: libnccl-net.so.", dt=0.2)
    devs = " ".join(f"[{i}]mlx5_{d}:1/IB" for i, d in enumerate(_IB_DEVS))
    log.info(f"{init} NCCL INFO NET/IB : Using {devs} [RO]; OOB {oob}", dt=0.1)
    log.info(f"{init} NCCL INFO Initialized NET plugin IB")
    log.info(f"{init} NCCL INFO Assigned NET plugin IB to comm")
    log.info(f"{init} NCCL INFO Using network IB")
    log.info(f"{init} NCCL INFO DMA-BUF is available on GPU device {dev}")
    log.info(f"{init} NCCL INFO {_head(ctx, 0, rank, n)} - Init START", dt=0.02)
    started = ctx.clock.t
    total = float(ctx.rng.uniform(1.5, 4.5)) + 0.002 * n  # what its Init timings line says
    mask = "ffffffff,00000000,ffffffff" if dev < 4 else "00000000,ffffffff,00000000,ffffffff"
    log.info(f"{init} NCCL INFO Setting affinity for GPU {dev} to {mask}", dt=0.3)
    if nvls:
        log.info(
            f"{init} NCCL INFO NVLS multicast support is available on dev {dev} (NVLS_NCHANNELS 16)"
        )
    log.info(
        f"{init} NCCL INFO comm {_comm(ctx, 0, rank)} rank {rank} nRanks {n} nNodes {nodes} "
        f"localRanks {c.gpus_per_node} localRank {dev} MNNVL 0"
    )
    channels = 24 if nvls else 16
    if rank == 0:
        ring = "".join(f" {i:3d}" for i in range(n))
        for ch in range(channels):
            log.info(f"{init} NCCL INFO Channel {ch:02d}/{channels} :{ring}")
    trees = " ".join(f"[{ch}] {_tree(ctx, rank, ch >= channels // 2)}" for ch in range(channels))
    log.info(f"{init} NCCL INFO Trees {trees}")
    log.info(f"{init} NCCL INFO P2P Chunksize set to 524288")
    _connections(ctx, log, init, rank, channels)
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
    done = max(0.01, started + total - ctx.clock.t)
    log.info(f"{init} NCCL INFO {_head(ctx, 0, rank, n)} - Init COMPLETE", dt=done)
    log.info(f"{init} NCCL INFO {_timings(ctx, total, rank, n)}")


def _tree(ctx: Context, rank: int, mirrored: bool) -> str:
    """`down0/down1/down2->rank->up`: a chain inside each node; across nodes the nodes' first
    ranks form a binary tree (the second half of the channels uses the mirrored tree)."""
    c = ctx.config
    g, node, local = c.gpus_per_node, c.node_of(rank), c.local_rank(rank)
    down = [rank + 1 if local + 1 < g else -1, -1, -1]
    up = rank - 1 if local > 0 else -1
    if local == 0 and c.nodes > 1:
        pos = c.nodes - 1 - node if mirrored else node

        def first(p: int) -> int:
            return (c.nodes - 1 - p if mirrored else p) * g

        kids = [first(k) for k in (2 * pos + 1, 2 * pos + 2) if k < c.nodes]
        down[1 : 1 + len(kids)] = kids
        up = first((pos - 1) // 2) if pos > 0 else -1
    return f"{down[0]}/{down[1]}/{down[2]}->{rank}->{up}"


def _connections(ctx: Context, log: Logger, init: str, rank: int, channels: int) -> None:
    """The ring connections this rank makes: to the next GPU over NVLink, or from the previous
    node and to the next one over the network."""
    c = ctx.config
    g, n, local = c.gpus_per_node, c.gpus, c.local_rank(rank)
    nxt = (rank + 1) % n
    prev = (rank - 1) % n
    for ch in range(channels):
        if c.nodes > 1 and local == 0:
            log.info(
                f"{init} NCCL INFO Channel {ch:02d}/0 : {prev}[{c.local_rank(prev)}] -> "
                f"{rank}[{local}] [receive] via NET/IB/{local}/GDRDMA"
            )
        if c.nodes > 1 and local == g - 1:
            log.info(
                f"{init} NCCL INFO Channel {ch:02d}/0 : {rank}[{local}] -> "
                f"{nxt}[{c.local_rank(nxt)}] [send] via NET/IB/{local}/GDRDMA"
            )
        else:
            log.info(
                f"{init} NCCL INFO Channel {ch:02d}/0 : {rank}[{local}] -> "
                f"{nxt}[{c.local_rank(nxt)}] via P2P/CUMEM/read"
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


def printing_ranks(ctx: Context) -> list[int]:
    """Ranks whose lines reach the console shown: node 0's workers under torchrun or launch.py;
    every rank where srun merges their output (up to MERGED_MAX; a bigger job shows node 0's,
    the next node's first and the last rank)."""
    c = ctx.config
    if ctx.profile.rank0_only:  # e.g. run_train.sh's --local-ranks-filter 0
        return [0]
    if ctx.merged:
        if c.gpus <= MERGED_MAX:
            return list(range(c.gpus))
        return [*range(c.gpus_per_node), c.gpus_per_node, c.gpus - 1]
    return list(range(c.gpus_per_node))


def group_lines(ctx: Context, log: Logger, sizes: tuple[tuple[int, int], ...]) -> None:
    """Further communicators (Megatron's tensor, pipeline, data groups): each printing rank's
    START, COMPLETE and timings of every group it joins (INFO only)."""
    c = ctx.config
    if not info(ctx):
        return
    for slot, size in sizes:
        if size <= 1 or size == c.gpus:
            continue
        start = ctx.clock.t + 0.05
        end = start
        for rank in printing_ranks(ctx):
            ctx.clock.t = start + float(ctx.rng.uniform(0.0, 0.05))
            init = _prefix(ctx, rank, True)
            member = _group_rank(ctx, slot, rank)
            head = _head(ctx, slot, rank, size, member)
            log.info(f"{init} NCCL INFO {head} - Init START")
            log.info(
                f"{init} NCCL INFO {head} - Init COMPLETE", dt=float(ctx.rng.uniform(0.2, 0.8))
            )
            total = float(ctx.rng.uniform(0.3, 1.2))
            log.info(f"{init} NCCL INFO {_timings(ctx, total, member, size)}")
            end = max(end, ctx.clock.t)
        ctx.clock.t = end


def _group_rank(ctx: Context, slot: int, rank: int) -> int:
    """A rank's place in Megatron's tensor (1), pipeline (2) or data (3) group."""
    c = ctx.config
    if slot == 1:
        return rank % c.tp
    if slot == 2:
        return rank // (c.tp * c.dp)
    return (rank // c.tp) % c.dp
