"""How Ray shows its actors' output on the driver's console (what a verl job prints through).

Every line an actor prints reaches the driver prefixed with the actor's name and pid, `(TaskRunner
pid=2418713) ` (`, ip=10.x.x.x` when the actor runs on another node), which Ray colours cyan.
Identical lines from several actors within its dedup window (a few seconds) print once, and the
others as one line with ` [repeated 7x across cluster]`; the first such line carries Ray's note
about log deduplication. Ray's own logger on the driver prints `%(asctime)s\\t%(levelname)s
%(filename)s:%(lineno)s -- %(message)s`. The texts are those of real logs (issue 22's notes,
section 8: the `Started a local Ray instance` line, a v0.6-era verl run's dedup notes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from llmsim.generator.rows import Logger
from llmsim.generator.stacks.context import Context

DEDUP_NOTE: Final = (
    " (Ray deduplicates logs by default. Set RAY_DEDUP_LOGS=0 to disable log deduplication, or "
    "see https://docs.ray.io/en/master/ray-observability/user-guides/configure-logging.html"
    "#log-deduplication for more options.)"
)
DEDUP_WINDOW_S: Final = 5.0
# ray 2.4x (late-2025 logs): ray.init's `Connecting to existing Ray cluster` and its closing
# line (`Started a local Ray instance.` or `Connected to Ray cluster.`, the same call).
CONNECTING_AT: Final = "worker.py:1694"
STARTED_AT: Final = "worker.py:1879"
GCS_PORT: Final = 6379
DASHBOARD_PORT: Final = 8265


@dataclass
class Ray:
    """The actors of a verl job and Ray's dedup of their lines."""

    ctx: Context
    task_pid: int
    worker_pids: tuple[int, ...]  # one WorkerDict per GPU of node 0 (the others' lines dedup too)
    noted: bool = False
    pending: list[tuple[float, str]] = field(default_factory=list)

    def task(self, phase: str = "init") -> Logger:
        """The TaskRunner's print()."""
        return self.ctx.logger(phase, "ray", f"TaskRunner pid={self.task_pid}")  # type: ignore[arg-type]

    def worker(self, index: int = 0, phase: str = "init", pylog: bool = False) -> Logger:
        """A WorkerDict's print() (or Python logging in verl's format)."""
        source = "ray-pylog" if pylog else "ray"
        pid = self.worker_pids[index % len(self.worker_pids)]
        return self.ctx.logger(phase, source, f"WorkerDict pid={pid}")  # type: ignore[arg-type]

    def workers(
        self, text: str, phase: str = "init", level: str = "INFO", pylog: bool = False
    ) -> None:
        """A line every worker prints: the first one's, then after the dedup window the rest as
        one `[repeated Nx across cluster]` line from the last one."""
        log = self.worker(0, phase, pylog)
        log.line(level, text)  # type: ignore[arg-type]
        others = self.ctx.config.gpus - 1
        if others < 1:
            return
        note = "" if self.noted else DEDUP_NOTE
        self.noted = True
        t = self.ctx.clock.t
        self.ctx.clock.t = t + DEDUP_WINDOW_S * float(self.ctx.rng.uniform(0.6, 1.0))
        last = self.worker(len(self.worker_pids) - 1, phase, pylog)
        last.line(level, f"{text} [repeated {others}x across cluster]{note}")  # type: ignore[arg-type]
        self.ctx.clock.t = t


def started(ctx: Context) -> None:
    """ray.init() on the driver: a local instance on one node; on several, the cluster that
    `ray start --head` began on node 0 (the other nodes joined it)."""
    log = ctx.logger("init", "ray-driver")
    if ctx.config.nodes == 1:
        log.info(
            f"Started a local Ray instance. View the dashboard at 127.0.0.1:{DASHBOARD_PORT} ",
            STARTED_AT,
            dt=float(ctx.rng.uniform(2.0, 5.0)),
        )
        return
    head = ctx.ip(0)
    log.info(
        f"Connecting to existing Ray cluster at address: {head}:{GCS_PORT}...",
        CONNECTING_AT,
        dt=float(ctx.rng.uniform(0.5, 1.5)),
    )
    log.info(
        f"Connected to Ray cluster. View the dashboard at {head}:{DASHBOARD_PORT} ",
        STARTED_AT,
        dt=0.02,
    )
