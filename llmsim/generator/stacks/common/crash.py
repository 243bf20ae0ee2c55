"""What a job prints when one rank is lost: the NCCL watchdog of every other rank, each
process's abort, and the launcher's report (the GPU monitor shows the lost or hung GPU: the
node's samples, phases/node_telemetry.py).

Sources:
- PyTorch ProcessGroupNCCL (WorkNCCL::checkTimeout, Watchdog::runLoop's status line, the failed
  collective's stack or why there is none, the dump signal, handleException, Watchdog::run's
  LOG and rethrow, std::terminate on the `c10::DistBackendError`): texts and `.cpp` lines of
  torch 2.8.0 and 2.9.0 read from their libtorch_cuda.so (stacks/common/torchlines.py).
- torch 2.8/2.9 elastic agent (wheels): multiprocessing/api.py `_poll` (`failed (exitcode: ...)`
  after `close()` has sent `closing signal`), `_close` (SIGKILL after a 30 s grace, the signals
  printed as numbers by Python 3.11+), agent/server/api.py `_invoke_run` (restart lines),
  errors/__init__.py (`ChildFailedError`'s table, 60 columns at most), run.py's traceback.
- Slurm srun/slurmstepd (`srun: error: host: task N: Aborted (core dumped)`, `Job step
  aborted`, `*** STEP j.0 ON host CANCELLED AT ... ***`); DeepSpeed launch.py
  `sigkill_handler` (`Killing subprocess`, `... exits with return code = -6`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from llmsim.generator.plan.incidents import KILL_GRACE_S, Failure
from llmsim.generator.rows import Logger
from llmsim.generator.stacks.common import launch, nccl
from llmsim.generator.stacks.common.torchlines import (
    PGNCCL_SRC,
    SITE,
    TORCH_LIB,
    TorchLines,
    torch_lines,
)
from llmsim.generator.stacks.context import Context

SIGABRT: Final = -6
SIGTERM: Final = 15
SIGKILL: Final = 9
TABLE_MAX: Final = 60  # ChildFailedError.format_msg caps its rules at 60 columns
ABORT_AFTER_S: Final = (0.2, 1.0)  # from a rank's watchdog message to its process aborting


@dataclass(frozen=True)
class Collective:
    """The collective every healthy rank waits in when the culprit stops."""

    op: str  # OpType as WorkNCCL prints it
    numel_in: int
    numel_out: int
    seq: int  # SeqNum in its process group
    pg: str  # `PG ID 0 PG GUID 0(default_pg)`
    stride: int = 1  # global ranks between two members of the group
    size: int = 0  # members of the group (0: the whole world)

    def group_rank(self, rank: int) -> int:
        """A global rank's rank in this collective's group."""
        return (rank // self.stride) % self.size if self.size else rank

    def work(self, timeout_s: int) -> str:
        """WorkNCCL's `operator<<`."""
        return (
            f"WorkNCCL(SeqNum={self.seq}, OpType={self.op}, NumelIn={self.numel_in}, "
            f"NumelOut={self.numel_out}, Timeout(ms)={timeout_s * 1000})"
        )


def world_collective(ctx: Context, steps_done: int, gather: bool | None = None) -> Collective:
    """The collective of the failing step when the states are sharded over the whole world
    (FSDP, ZeRO-3): a block's parameters all-gathered, or its gradients reduce-scattered
    (`gather`: which, None to draw)."""
    c, rng = ctx.config, ctx.rng
    block = (c.params - 2 * c.vocab * c.hidden) // max(1, c.layers)
    per_step = 3 * c.layers * c.grad_accum + 4
    group, pg = c.gpus, "PG ID 0 PG GUID 0(default_pg)"
    drawn = bool(rng.random() < 0.6)
    gather = drawn if gather is None else gather
    shard = -(-block // group)
    op = "_ALLGATHER_BASE" if gather else "_REDUCE_SCATTER_BASE"
    numel_in, numel_out = (shard, shard * group) if gather else (shard * group, shard)
    return Collective(op, numel_in, numel_out, sequence(ctx, steps_done, per_step), pg)


def sequence(ctx: Context, steps_done: int, per_step: int) -> int:
    """The SeqNum of a collective inside the next step, `per_step` collectives to a step."""
    return 20 + steps_done * per_step + int(ctx.rng.integers(1, per_step))


def job_id(ctx: Context) -> int:
    """The Slurm job's id."""
    return 400_000 + (ctx.ids.agent_pid * 7) % 900_000


@dataclass(frozen=True)
class Stack:
    """The Python stack the flight recorder kept of the failed collective (innermost first):
    (function, file under the site's packages, line)."""

    frames: tuple[tuple[str, str, int], ...]

    def lines(self) -> list[str]:
        """`#i name from path:line` (the recorder's CapturedTraceback, as torch prints it)."""
        return [
            f"#{i} {fn} from {SITE}/{path}:{line}" for i, (fn, path, line) in enumerate(self.frames)
        ]


def watchdog(
    ctx: Context,
    failure: Failure,
    coll: Collective,
    ranks: Sequence[int],
    t: float,
    recorded: Stack | None = None,
) -> dict[int, tuple[float, int]]:
    """Each printing rank's watchdog timing out on the collective the culprit never joined, and
    its dump signal; returns, per rank, when its watchdog thread rethrew (the process aborts
    next) and the milliseconds its message says the collective ran.

    `recorded`: the failed collective's stack when the flight recorder is on (torchtitan sets
    TORCH_FR_BUFFER_SIZE); else torch says it has none. TORCH_NCCL_DUMP_ON_TIMEOUT defaults to
    on, so the first PG of each rank signals the dump and the heartbeat monitor starts it.
    """
    rng = ctx.rng
    tl = torch_lines(ctx.config.torch_version)
    at = "ProcessGroupNCCL.cpp:{}"
    thrown: dict[int, tuple[float, int]] = {}
    for rank in ranks:
        ctx.clock.t = t + float(rng.uniform(0.0, 0.06))
        log = ctx.logger("train", "c10", rank=rank)
        g = coll.group_rank(rank)
        prefix = f"[{coll.pg} Rank {g}]"
        ran = failure.timeout_s * 1000 + int(rng.integers(3, 99))
        log.line(
            "ERROR",
            f"[Rank {g}] Watchdog caught collective operation timeout: "
            f"{coll.work(failure.timeout_s)} ran for {ran} milliseconds before timing out.",
            at.format(tl.pgnccl["timeout"]),
        )
        enqueued = coll.seq + int(rng.integers(1, 4))
        log.line(
            "ERROR",
            f"{prefix}  failure detected by watchdog at work sequence id: "
            f"{coll.seq} PG status: last enqueued work: {enqueued}, last completed work: "
            f"{coll.seq - 1}",
            at.format(tl.pgnccl["status"]),
        )
        if recorded is not None:  # one LOG message over several lines: one glog prefix
            log.line(
                "ERROR", "Stack trace of the failed collective: ", at.format(tl.pgnccl["trace"])
            )
            tee = rank if ctx.profile.rank0_only else None  # torchrun --tee prefixes every line
            ctx.logger("train", "plain", rank=tee).lines(recorded.lines(), level="ERROR")
        else:
            log.line(
                "ERROR",
                "Stack trace of the failed collective not found, potentially because "
                "FlightRecorder is disabled. You can enable it by setting "
                "TORCH_NCCL_TRACE_BUFFER_SIZE to a non-zero value.",
                at.format(tl.pgnccl["no_trace"]),
            )
        log.line(
            "ERROR",
            f"{prefix} First PG on this rank to signal dumping.",
            at.format(tl.pgnccl["signal_dump"]),
        )
        log.line(  # the heartbeat monitor thread answers the signal
            "ERROR",
            f"{prefix} ProcessGroupNCCL preparing to dump debug info. Include stack trace: 1",
            at.format(tl.pgnccl["dump_info"]),
            dt=float(rng.uniform(0.001, 0.01)),
        )
        log.line(
            "ERROR",
            f"[Rank {g}] Some NCCL operations have failed or timed out. Due to the "
            "asynchronous nature of CUDA kernels, subsequent GPU operations might run on "
            "corrupted/incomplete data.",
            at.format(tl.pgnccl["failed"]),
        )
        log.line(
            "ERROR",
            f"[Rank {g}] To avoid data inconsistency, we are taking the entire process down.",
            at.format(tl.pgnccl["down"]),
        )
        log.line(
            "ERROR",
            f"{_terminated(coll, g, failure.timeout_s, ran)}",
            at.format(tl.pgnccl["terminated"]),
        )
        thrown[rank] = (ctx.clock.t, ran)
    return thrown


def _terminated(coll: Collective, g: int, timeout_s: int, ran: int) -> str:
    """Watchdog::run's message: the watchdog's exception, prefixed by the PG."""
    return (
        f"[{coll.pg} Rank {g}] Process group watchdog thread terminated with exception: "
        f"[Rank {g}] Watchdog caught collective operation timeout: {coll.work(timeout_s)} ran "
        f"for {ran} milliseconds before timing out."
    )


class _Libs:
    """Load addresses of the shared libraries of one process: frames in one library lie
    close together (its base plus the function's offset)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.bases: dict[str, int] = {}

    def addr(self, lib: str, offset: int) -> str:
        if lib not in self.bases:
            top = 0x7F0000000000 + int(self.rng.integers(0x10, 0xFF)) * 0x100000000
            self.bases[lib] = top + int(self.rng.integers(0, 0x1000)) * 0x1000
        return f"{self.bases[lib] + offset:#x}"


def terminate(
    ctx: Context, failure: Failure, coll: Collective, rank: int, ran_ms: int, tl: TorchLines
) -> None:
    """One process's abort: std::terminate on the watchdog's rethrown DistBackendError, which
    carries the backtraces of both throws (checkTimeout's, then Watchdog::run's)."""
    log = ctx.logger("train", "plain")
    g = coll.group_rank(rank)
    libs = _Libs(ctx.rng)
    cuda, c10, torch = (
        f"{TORCH_LIB}/libtorch_cuda.so",
        f"{TORCH_LIB}/libc10.so",
        f"{TORCH_LIB}/libtorch.so",
    )
    gnu = "/lib/x86_64-linux-gnu"
    error = f"c10::Error::Error(c10::SourceLocation, std::string) + {tl.error_ctor:#x}"
    # (function + offset as printed, the library, the address's offset in it)
    first = (
        (error, c10, tl.error_at + tl.error_ctor),
        _frame(
            "c10d::ProcessGroupNCCL::WorkNCCL::checkTimeout(std::optional<std::chrono::duration"
            "<long, std::ratio<1l, 1000l> > >)",
            cuda,
            tl.check_timeout,
        ),
        _frame("c10d::ProcessGroupNCCL::Watchdog::runLoop()", cuda, tl.run_loop),
        _frame("c10d::ProcessGroupNCCL::Watchdog::run()", cuda, tl.run),
        ("<unknown function> + 0xdc253", f"{gnu}/libstdc++.so.6", 0xDC253),
        ("<unknown function> + 0x94ac3", f"{gnu}/libc.so.6", 0x94AC3),
        ("<unknown function> + 0x126850", f"{gnu}/libc.so.6", 0x126850),
    )
    rethrown = (
        first[0],
        (f"<unknown function> + {tl.dist_error_ret:#x}", cuda, tl.dist_error_ret),
        (f"<unknown function> + {tl.run_cold_ret:#x}", cuda, tl.run_cold_ret),
        ("<unknown function> + 0x145c0", torch, 0x145C0),
        first[5],
        first[6],
    )
    lines = [
        "terminate called after throwing an instance of 'c10::DistBackendError'",
        f"  what():  {_terminated(coll, g, failure.timeout_s, ran_ms)}",
        f"Exception raised from checkTimeout at {PGNCCL_SRC}:{tl.pgnccl['check_timeout']} "
        "(most recent call first):",
    ]
    lines += [
        f"frame #{n}: {f} ({libs.addr(lib, at)} in {lib})" for n, (f, lib, at) in enumerate(first)
    ]
    lines += [
        "",
        f"Exception raised from run at {PGNCCL_SRC}:{tl.pgnccl['rethrow']} (most recent call "
        "first):",
    ]
    lines += [
        f"frame #{n}: {f} ({libs.addr(lib, at)} in {lib})"
        for n, (f, lib, at) in enumerate(rethrown)
    ]
    lines.append("")
    log.lines(lines, level="ERROR")


def _frame(name: str, lib: str, at: tuple[int, int]) -> tuple[str, str, int]:
    """A symbolised frame: `name + offset`, in `lib` at the symbol's address plus the offset."""
    symbol, offset = at
    return f"{name} + {offset:#x}", lib, symbol + offset


@dataclass(frozen=True)
class Aborts:
    """How the node-0 processes ended: who aborted first, who needed a signal."""

    first: int  # global rank whose SIGABRT the agent saw first
    aborted: tuple[int, ...]  # ranks that aborted on their own (SIGABRT)
    signalled: tuple[int, ...]  # ranks the launcher had to stop (the culprit among them)
    killed: bool  # a rank stuck in the driver ignored SIGTERM: SIGKILL after the grace


def aborts(ctx: Context, failure: Failure) -> Aborts:
    """Node 0's workers after the watchdog. Every healthy rank's watchdog fires within a few
    hundredths of a second and each process aborts on its own; the agent, polling every 0.1 s,
    finds most of them gone and stops the rest (the culprit, a straggler or two) with a signal.
    Drawn from the failure's own stream: the crash and the launcher's report see the same."""
    c = ctx.config
    rng = np.random.default_rng([c.seed, failure.step, failure.gpu, 7])
    local = list(range(min(c.gpus_per_node, c.gpus)))
    healthy = [local[i] for i in rng.permutation(len(local)) if local[i] != failure.gpu]
    late = int(rng.integers(0, min(3, len(healthy))))  # not yet aborted when the agent polled
    aborted = tuple(sorted(healthy[: len(healthy) - late]))
    signalled = tuple(sorted(r for r in local if r not in aborted))
    return Aborts(healthy[0], aborted, signalled, failure.cause == "xid79" and failure.gpu in local)


def aborting(ctx: Context, failure: Failure, ranks: Sequence[int]) -> list[int]:
    """The printing ranks whose own abort reaches the console: every one under srun (no agent
    stops them), node 0's that aborted before torchrun's agent sent its signals."""
    c = ctx.config
    if ctx.merged:
        return list(ranks)
    ab = aborts(ctx, failure)
    return [r for r in ranks if r in ab.aborted or c.node_of(r) > 0]


def _agent(ctx: Context, key: str) -> str:
    return launch.origin(ctx, key)


def torchrun_report(
    ctx: Context,
    failure: Failure,
    ab: Aborts,
    entry: str,
    info: bool,
    frames: list[str] | None = None,
) -> None:
    """The agent closing the worker group, then restarting it or raising ChildFailedError
    (`frames`: the traceback's frames down to `raise ChildFailedError(` when something else
    than torchrun runs the agent, as `accelerate launch` does)."""
    log = ctx.logger("train", "torchrun")
    for rank in ab.signalled:
        log.warning(
            f"Sending process {ctx.worker_pid(rank)} closing signal SIGTERM",
            _agent(ctx, "closing"),
            dt=0.001,
        )
    if ab.killed:
        ctx.clock.tick(KILL_GRACE_S)
        log.warning(
            f"Unable to shutdown process {ctx.worker_pid(failure.gpu)} via {SIGTERM}, "
            f"forcefully exiting via {SIGKILL}",
            _agent(ctx, "kill"),
        )
    log.line(
        "ERROR",
        f"failed (exitcode: {SIGABRT}) local_rank: {ab.first} (pid: {ctx.worker_pid(ab.first)}) "
        f"of binary: {ctx.python}",
        _agent(ctx, "failed"),
        dt=0.05,
    )
    if failure.relaunch == "elastic":
        _elastic_restart(ctx, log, info)
        return
    if info:
        log.info(
            str(
                (
                    "local_rank %s FAILED with no error file. Decorate your entrypoint fn with "
                    "@record for traceback info. See: https://pytorch.org/docs/stable/elastic/"
                    "errors.html",
                    ab.first,
                )
            ),
            _agent(ctx, "no_error_file"),
            dt=0.01,
        )
    child_failed(ctx, ab, entry, frames)


def _elastic_restart(ctx: Context, log: Logger, info: bool) -> None:
    """`_invoke_run`: the failed group is restarted while restarts remain (INFO lines)."""
    if not info:
        return
    # torch/distributed/elastic/agent/server/api.py `_invoke_run` logs the restarts left, then
    # counts one down: 3/3 at the first failure, 2/3 at the next (a requeued job's new agent
    # starts again at 3/3)
    most = ctx.plan.flags.max_restarts
    left = most - ctx.attempt.agent_restarts
    log.info(
        f"[{ctx.profile.agent_role}] Worker group FAILED. {left}/{most} attempts left; "
        "will restart worker group",
        _agent(ctx, "restart"),
        dt=0.01,
    )
    log.info(f"[{ctx.profile.agent_role}] Stopping worker group", _agent(ctx, "stopping"))


def child_failed(ctx: Context, ab: Aborts, entry: str, frames: list[str] | None = None) -> None:
    """torchrun's traceback (or `frames`) and ChildFailedError's table (plain stderr lines)."""
    c = ctx.config
    host = ctx.hosts[0]

    def failure(idx: int, rank: int, code: int) -> list[str]:
        pid = ctx.worker_pid(rank)
        name = "SIGABRT"  # the watchdog's abort
        return [
            f"[{idx}]:",
            "  time      : {stamp}",
            f"  host      : {host}",
            f"  rank      : {rank} (local_rank: {c.local_rank(rank)})",
            f"  exitcode  : {code} (pid: {pid})",
            "  error_file: <N/A>",
            f"  traceback : Signal {-code} ({name}) received by PID {pid}",
        ]

    # only the processes that had exited when the agent polled are failures; those it then
    # stopped with a signal are not in the table (_poll collects before close())
    entries = [(r, SIGABRT) for r in ab.aborted]
    blocks = {r: failure(i, r, code) for i, (r, code) in enumerate(entries)}
    others = [ln for r, _ in entries if r != ab.first for ln in blocks[r]]
    width = min(TABLE_MAX, max(len(x) for b in blocks.values() for x in b))
    torch = f"{SITE}/torch/distributed"
    torchrun = [
        '  File "/usr/local/bin/torchrun", line 8, in <module>',
        "    sys.exit(main())",
        "             ^^^^^^",
        f'  File "{torch}/elastic/multiprocessing/errors/__init__.py", line 357, in wrapper',
        "    return f(*args, **kwargs)",
        "           ^^^^^^^^^^^^^^^^^^",
        *launch.run_frames(ctx, torch),
    ]
    lines = [
        "Traceback (most recent call last):",
        *(frames if frames is not None else torchrun),
        "torch.distributed.elastic.multiprocessing.errors.ChildFailedError: ",
        "=" * width,
        f"{entry} FAILED",
        "-" * width,
        "Failures:",
        *(others or ["  <NO_OTHER_FAILURES>"]),
        "-" * width,
        "Root Cause (first observed failure):",
        *blocks[ab.first],
        "=" * width,
    ]
    log = ctx.logger("train", "plain")
    at = log.at("inline-stamp", "%Y-%m-%d_%H:%M:%S")  # the table's time is the clock's
    for i, line in enumerate(lines):
        (at if line.endswith("{stamp}") else log).line("ERROR", line, dt=0.2 if i == 0 else 0.0)


def srun_report(ctx: Context, failure: Failure, job: int) -> None:
    """srun reaping the step as its tasks abort (every rank's stdout merges into one log): one
    error per node's batch of exit notifications, the tasks as a range (Slurm 25.05
    src/srun/launch.c:357-460 `_task_finish`: "%s: %s %s: %s%s", host, task(s), ids, strsignal,
    " (core dumped)")."""
    log = ctx.logger("train", "plain")
    c = ctx.config
    dead = [r for r in printing_ranks(ctx) if r != failure.gpu]
    for node in sorted({c.node_of(r) for r in dead}):
        ids = [r for r in dead if c.node_of(r) == node]
        word = "task" if len(ids) == 1 else "tasks"
        log.line(
            "ERROR",
            f"srun: error: {ctx.hosts[node]}: {word} {_ranges(ids)}: Aborted (core dumped)",
            dt=0.05,
        )
    log.line("ERROR", "srun: Job step aborted: Waiting up to 32 seconds for job step to finish.")
    log.at("inline-stamp", "%Y-%m-%dT%H:%M:%S").line(
        "ERROR",
        f"slurmstepd: error: *** STEP {job}.0 ON {ctx.hosts[0]} CANCELLED AT {{stamp}} ***",
        dt=0.4,
    )
    if failure.cause == "xid79":  # the task on the lost GPU never answers the step's signal
        ctx.clock.tick(32.0)
        log.line("ERROR", "srun: error: Timed out waiting for job step to complete")


def _ranges(ids: list[int]) -> str:
    """Slurm's bit_fmt: sorted ids as comma-separated ranges (`0-7`, `8,10-15`)."""
    out: list[str] = []
    ids = sorted(ids)
    start = prev = ids[0]
    for i in [*ids[1:], None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        out.append(str(start) if start == prev else f"{start}-{prev}")
        if i is not None:
            start = prev = i
    return ",".join(out)


def deepspeed_report(ctx: Context, args: str) -> None:
    """launch.py's sigkill_handler after a worker exits non-zero (one node)."""
    log = ctx.logger("train", "deepspeed")
    c = ctx.config
    for rank in range(c.gpus_per_node):
        log.info(
            f"Killing subprocess {ctx.worker_pid(rank)}",
            launch.DS_AT["killing"],
            dt=0.002,
        )
    last = c.gpus_per_node - 1
    cmd = launch.deepspeed_worker_cmd(ctx, last, args)
    log.line(
        "ERROR",
        f"{cmd} exits with return code = {SIGABRT}",
        launch.DS_AT["exit_code"],
        dt=0.01,
    )


def printing_ranks(ctx: Context) -> list[int]:
    """Ranks whose watchdog lines reach the console shown."""
    return nccl.printing_ranks(ctx)
