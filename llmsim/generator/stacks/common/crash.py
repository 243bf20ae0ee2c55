"""What a job prints when one rank is lost: the NCCL watchdog of every other rank, the process
abort, and the launcher's report (the GPU monitor shows the lost or hung GPU: the node's
samples, phases/node_telemetry.py).

Sources:
- PyTorch ProcessGroupNCCL (WorkNCCL::checkTimeout, the watchdog's status line, the abort through
  `c10::DistBackendError`): message texts as in torch 2.7-2.9 logs; the `.cpp` line numbers are
  those of torch 2.7 logs (2.8/2.9's could not be checked: the wheels hold no C++ sources).
- torch 2.8/2.9 elastic agent (wheels): multiprocessing/api.py `_poll` (`failed (exitcode: ...)`
  after `close()` has sent `closing signal`), `_close` (SIGKILL after a 30 s grace, the signals
  printed as numbers by Python 3.11+), agent/server/api.py `_invoke_run` (restart lines),
  errors/__init__.py (`ChildFailedError`'s table, 60 columns at most), run.py's traceback.
- Slurm srun/slurmstepd (`srun: error: host: task N: Aborted (core dumped)`, `Job step
  aborted`, `*** STEP j.0 ON host CANCELLED AT ... ***`); DeepSpeed 0.18 launch.py
  `sigkill_handler` (`Killing subprocess`, `... exits with return code = -6`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from llmsim.generator.plan.incidents import KILL_GRACE_S, Failure
from llmsim.generator.rows import Logger
from llmsim.generator.stacks.common import launch, nccl
from llmsim.generator.stacks.context import Context

SITE: Final = "/usr/local/lib/python3.12/dist-packages"
TORCH_LIB: Final = f"{SITE}/torch/lib"
# ProcessGroupNCCL.cpp lines of each message (torch 2.7 logs; see the module docstring).
PGNCCL: Final = {
    "timeout": 632,
    "status": 2268,
    "no_trace": 670,
    "failed": 684,
    "down": 698,
    "rethrow": 1901,
}
SIGABRT: Final = -6
SIGTERM: Final = 15
SIGKILL: Final = 9
TABLE_MAX: Final = 60  # ChildFailedError.format_msg caps its rules at 60 columns


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


def world_collective(ctx: Context, steps_done: int) -> Collective:
    """The collective of the failing step when the states are sharded over the whole world
    (FSDP, ZeRO-3): a block's parameters all-gathered, or its gradients reduce-scattered."""
    c, rng = ctx.config, ctx.rng
    block = (c.params - 2 * c.vocab * c.hidden) // max(1, c.layers)
    per_step = 3 * c.layers * c.grad_accum + 4
    group, pg = c.gpus, "PG ID 0 PG GUID 0(default_pg)"
    gather = bool(rng.random() < 0.6)
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


def watchdog(ctx: Context, failure: Failure, coll: Collective, ranks: list[int], t: float) -> None:
    """Each printing rank's watchdog timing out on the collective the culprit never joined."""
    rng = ctx.rng
    for rank in ranks:
        ctx.clock.t = t + float(rng.uniform(0.0, 0.06))
        log = ctx.logger("train", "c10", rank=rank)
        g = coll.group_rank(rank)
        ran = failure.timeout_s * 1000 + int(rng.integers(3, 99))
        at = "ProcessGroupNCCL.cpp:{}"
        log.line(
            "ERROR",
            f"[Rank {g}] Watchdog caught collective operation timeout: "
            f"{coll.work(failure.timeout_s)} ran for {ran} milliseconds before timing out.",
            at.format(PGNCCL["timeout"]),
        )
        enqueued = coll.seq + int(rng.integers(1, 4))
        log.line(
            "ERROR",
            f"[{coll.pg} Rank {g}]  failure detected by watchdog at work sequence id: "
            f"{coll.seq} PG status: last enqueued work: {enqueued}, last completed work: "
            f"{coll.seq - 1}",
            at.format(PGNCCL["status"]),
        )
        log.line(
            "ERROR",
            "Stack trace of the failed collective not found, potentially because "
            "FlightRecorder is disabled. You can enable it by setting "
            "TORCH_NCCL_TRACE_BUFFER_SIZE to a non-zero value.",
            at.format(PGNCCL["no_trace"]),
        )
        log.line(
            "ERROR",
            f"[Rank {g}] Some NCCL operations have failed or timed out. Due to the "
            "asynchronous nature of CUDA kernels, subsequent GPU operations might run on "
            "corrupted/incomplete data.",
            at.format(PGNCCL["failed"]),
        )
        log.line(
            "ERROR",
            f"[Rank {g}] To avoid data inconsistency, we are taking the entire process down.",
            at.format(PGNCCL["down"]),
        )


class _Libs:
    """Load addresses of the shared libraries of one process: frames in one library lie
    close together (its base plus the function's offset)."""

    def __init__(self, ctx: Context) -> None:
        self.rng = ctx.rng
        self.bases: dict[str, int] = {}

    def addr(self, lib: str, offset: str) -> str:
        if lib not in self.bases:
            top = 0x7F0000000000 + int(self.rng.integers(0x10, 0xFF)) * 0x100000000
            self.bases[lib] = top + int(self.rng.integers(0, 0x1000)) * 0x1000
        return f"{self.bases[lib] + int(offset, 16):#x}"


def terminate(ctx: Context, failure: Failure, coll: Collective, rank: int, ran_ms: int) -> None:
    """The abort of one process (std::terminate on the watchdog's DistBackendError)."""
    log = ctx.logger("train", "plain")
    g = coll.group_rank(rank)
    what = (
        f"[{coll.pg} Rank {g}] Process group watchdog thread terminated with exception: "
        f"[Rank {g}] Watchdog caught collective operation timeout: "
        f"{coll.work(failure.timeout_s)} ran for {ran_ms} milliseconds before timing out."
    )
    src = "/pytorch/torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp"
    libs = _Libs(ctx)
    cuda, c10, gnu = (
        f"{TORCH_LIB}/libtorch_cuda.so",
        f"{TORCH_LIB}/libc10.so",
        "/lib/x86_64-linux-gnu",
    )
    # (function + offset as printed, the library, the symbol's offset in it)
    frames = (
        ("c10::Error::Error(c10::SourceLocation, std::string) + 0x96", c10, "0x991b6"),
        (
            "c10d::ProcessGroupNCCL::WorkNCCL::checkTimeout(std::optional<std::chrono::duration"
            "<long, std::ratio<1l, 1000l> > >) + 0x2b4",
            cuda,
            "0xe4ec74",
        ),
        ("c10d::ProcessGroupNCCL::watchdogHandler() + 0x890", cuda, "0xe507d0"),
        ("c10d::ProcessGroupNCCL::ncclCommWatchdog() + 0x14d", cuda, "0xe5183d"),
        ("<unknown function> + 0xdc253", f"{gnu}/libstdc++.so.6", "0xdc253"),
        ("<unknown function> + 0x94ac3", f"{gnu}/libc.so.6", "0x94ac3"),
        ("<unknown function> + 0x126850", f"{gnu}/libc.so.6", "0x126850"),
    )
    rethrow = (
        frames[0],
        ("<unknown function> + 0xe5c6fc", cuda, "0xe5c6fc"),
        ("<unknown function> + 0x145c0", f"{TORCH_LIB}/libtorch.so", "0x145c0"),
        frames[5],
        frames[6],
    )
    lines = [
        "terminate called after throwing an instance of 'c10::DistBackendError'",
        f"  what():  {what}",
        f"Exception raised from checkTimeout at {src}:{PGNCCL['timeout']} (most recent call "
        "first):",
    ]
    lines += [
        f"frame #{n}: {f} ({libs.addr(lib, at)} in {lib})" for n, (f, lib, at) in enumerate(frames)
    ]
    lines += [
        "",
        f"Exception raised from ncclCommWatchdog at {src}:{PGNCCL['rethrow']} (most recent "
        "call first):",
    ]
    lines += [
        f"frame #{n}: {f} ({libs.addr(lib, at)} in {lib})" for n, (f, lib, at) in enumerate(rethrow)
    ]
    lines.append("")
    log.lines(lines, level="ERROR")


@dataclass(frozen=True)
class Aborts:
    """How the node-0 processes ended: who aborted first, who needed a signal."""

    first: int  # global rank whose SIGABRT the agent saw first
    aborted: tuple[int, ...]  # ranks that aborted on their own (SIGABRT)
    signalled: tuple[int, ...]  # ranks the launcher had to stop (the culprit among them)
    killed: bool  # a rank stuck in the driver ignored SIGTERM: SIGKILL after the grace


def aborts(ctx: Context, failure: Failure) -> Aborts:
    """Node 0's workers after the watchdog: the agent polls every 0.1 s, so it finds one to
    three of them already aborted and stops the rest (the culprit among them) with a signal."""
    c = ctx.config
    local = list(range(min(c.gpus_per_node, c.gpus)))
    healthy = [local[i] for i in ctx.rng.permutation(len(local)) if local[i] != failure.gpu]
    k = 1 + int(ctx.rng.integers(0, min(3, len(healthy))))
    aborted = tuple(sorted(healthy[:k]))
    signalled = tuple(sorted(r for r in local if r not in aborted))
    return Aborts(healthy[0], aborted, signalled, failure.cause == "xid79" and failure.gpu in local)


def _agent(ctx: Context, key: str) -> str:
    return launch.origin(ctx, key)


def torchrun_report(ctx: Context, failure: Failure, ab: Aborts, entry: str, info: bool) -> None:
    """The agent closing the worker group, then restarting it or raising ChildFailedError."""
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
    child_failed(ctx, ab, entry)


def _elastic_restart(ctx: Context, log: Logger, info: bool) -> None:
    """`_invoke_run`: the failed group is restarted while restarts remain (INFO lines)."""
    if not info:
        return
    left = ctx.plan.flags.max_restarts
    log.info(
        f"[default] Worker group FAILED. {left}/{left} attempts left; will restart worker group",
        _agent(ctx, "restart"),
        dt=0.01,
    )
    log.info("[default] Stopping worker group", _agent(ctx, "stopping"))


def child_failed(ctx: Context, ab: Aborts, entry: str) -> None:
    """torchrun's traceback and ChildFailedError's table (plain stderr lines)."""
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
    lines = [
        "Traceback (most recent call last):",
        '  File "/usr/local/bin/torchrun", line 8, in <module>',
        "    sys.exit(main())",
        "             ^^^^^^",
        f'  File "{torch}/elastic/multiprocessing/errors/__init__.py", line 357, in wrapper',
        "    return f(*args, **kwargs)",
        "           ^^^^^^^^^^^^^^^^^^",
        *launch.run_frames(ctx, torch),
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


def srun_report(ctx: Context, failure: Failure, ab: Aborts, job: int) -> None:
    """srun reaping the step once a task aborts (every rank's stdout merges into one log)."""
    log = ctx.logger("train", "plain")
    c = ctx.config
    tasks = sorted({*ab.aborted, *[c.gpus_per_node * n for n in range(1, min(c.nodes, 3))]})
    for task in tasks[:4]:
        host = ctx.host_of(task)
        log.line("ERROR", f"srun: error: {host}: task {task}: Aborted (core dumped)", dt=0.05)
    log.line("ERROR", "srun: Job step aborted: Waiting up to 32 seconds for job step to finish.")
    log.at("inline-stamp", "%Y-%m-%dT%H:%M:%S").line(
        "ERROR",
        f"slurmstepd: error: *** STEP {job}.0 ON {ctx.hosts[0]} CANCELLED AT {{stamp}} ***",
        dt=0.4,
    )
    if failure.cause == "xid79":  # the task on the lost GPU never answers the step's signal
        ctx.clock.tick(32.0)
        log.line("ERROR", "srun: error: Timed out waiting for job step to complete")


def deepspeed_report(ctx: Context, args: str) -> None:
    """launch.py's sigkill_handler after a worker exits non-zero (one node)."""
    log = ctx.logger("train", "deepspeed")
    c = ctx.config
    for rank in range(c.gpus_per_node):
        log.info(
            f"Killing subprocess {ctx.worker_pid(rank)}",
            "launch.py:335:sigkill_handler",
            dt=0.002,
        )
    last = c.gpus_per_node - 1
    cmd = launch.deepspeed_worker_cmd(ctx, last, args)
    log.line(
        "ERROR",
        f"{cmd} exits with return code = {SIGABRT}",
        "launch.py:341:sigkill_handler",
        dt=0.01,
    )


def printing_ranks(ctx: Context) -> list[int]:
    """Ranks whose watchdog lines reach the console shown."""
    return nccl.printing_ranks(ctx)
