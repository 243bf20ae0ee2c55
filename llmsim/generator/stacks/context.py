"""What every stack's text needs: the plan, a seeded rng, the rows being written, run ids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from llmsim.generator.plan.profile import StackProfile
from llmsim.generator.plan.runplan import RunPlan
from llmsim.generator.rows import Clock, Logger, Rows
from llmsim.trace.config import RunConfig
from llmsim.trace.vocab import LogFormat, Phase

PYTHON = "/usr/bin/python3"


@dataclass(frozen=True)
class Ids:
    """Process ids, addresses and ports of a run (drawn once, used by every phase)."""

    agent_pid: int  # torchrun's agent / the deepspeed runner on node 0
    pid_base: tuple[int, ...]  # per node: worker pids follow it
    tid_offset: int  # NCCL's init thread id minus its pid
    subnet: int
    master_port: int
    comm_hex: tuple[str, ...]  # NCCL communicator pointers (heap addresses)
    comm_ids: tuple[str, ...]  # NCCL commIds (16 hex digits)

    @classmethod
    def draw(cls, config: RunConfig, rng: np.random.Generator) -> Ids:
        """Ids for a run."""

        def hex_bytes(n: int) -> str:
            return "".join(f"{int(b):02x}" for b in rng.integers(0, 256, n))

        return cls(
            agent_pid=int(rng.integers(1_000_000, 3_800_000)),
            pid_base=tuple(int(p) for p in rng.integers(1_000_000, 3_900_000, config.nodes)),
            tid_offset=int(rng.integers(300, 900)),
            subnet=int(rng.integers(1, 250)),
            master_port=int(rng.choice((29500, 29500, 6000, 12355))),
            comm_hex=tuple("0x55" + hex_bytes(4) + hex_bytes(1)[0] + "0" for _ in range(6)),
            comm_ids=tuple("0x" + hex_bytes(8) for _ in range(6)),
        )


@dataclass(frozen=True)
class Attempt:
    """One launch of the job's processes: the first, or a relaunch after a failure."""

    number: int = 0  # 0 for the first launch; torchrun's restart_count after an elastic restart
    resume_step: int | None = None  # the checkpoint it starts from (None: the config's)
    hosts: tuple[str, ...] | None = None  # the nodes it runs on (None: the config's)
    elastic: bool = False  # torchrun restarted the workers in place (no new launch)
    agent_restarts: int = 0  # restarts this torchrun agent has made (a requeue starts a new one)
    started: float = 0.0  # t when its processes started
    pid_shift: int = 0  # new processes get later pids
    agent_shift: int = 0  # a requeued job has a new launcher process too


def gpu_name(hosts: Sequence[str], config: RunConfig, gpu: int) -> str:
    """`host GPU n`: how the monitor and the kernel lines name one GPU."""
    return f"{hosts[config.node_of(gpu)]} GPU {config.local_rank(gpu)}"


class Context:
    """One phase's writing context: where rows go, the clock, the rng and the run's names.

    `attempt` says which launch of the job is writing: a relaunch after a failure resumes from
    another checkpoint, may run on a replacement node and restarts torchrun's count.
    """

    def __init__(
        self,
        plan: RunPlan,
        ids: Ids,
        rows: Rows,
        clock: Clock,
        rng: np.random.Generator,
        attempt: Attempt | None = None,
    ) -> None:
        self.plan, self.config, self.ids = plan, plan.config, ids
        self.rows, self.clock, self.rng = rows, clock, rng
        self.python = PYTHON
        self.attempt = attempt or Attempt()
        a = self.attempt
        self.resume_step = self.config.resume_step if a.resume_step is None else a.resume_step
        self.hosts = self.config.hostnames if a.hosts is None else a.hosts

    @property
    def profile(self) -> StackProfile:
        """The profile of the run's stack."""
        return self.plan.profile

    @property
    def agent_info(self) -> bool:
        """Whether torchrun's agent logs at INFO in this launch."""
        return self.profile.agent_info(self.config.nodes)

    @property
    def launch_env(self) -> dict[str, str]:
        """The environment the launch shown sets that changes what the job prints: the
        stack's recipe (LOGLEVEL, a script's exports) and the run's NCCL_DEBUG. Where the
        launch command is typed (issue 21) it shows these."""
        env = dict(self.profile.launch_env(self.config.nodes))
        if self.config.gpus > 1:
            env.setdefault("NCCL_DEBUG", self.plan.flags.nccl_debug)
        return env

    @property
    def merged(self) -> bool:
        """Whether the console merges every rank's output (srun), not node 0's workers only."""
        return self.profile.merged_output(self.config.gpus, self.config.launcher)

    @property
    def checkpoint_dir(self) -> str:
        """The folder the run's checkpoints go into."""
        return self.profile.checkpoint_dir(self.config.output_dir)

    def checkpoint_path(self, step: int) -> str:
        """The checkpoint of `step`, as the stack names it."""
        return self.profile.checkpoint_path(self.config.output_dir, step)

    def host_of(self, rank: int) -> str:
        """The host a global rank runs on in this launch."""
        return self.hosts[self.config.node_of(rank)]

    def gpu_name(self, gpu: int) -> str:
        """`host GPU n` for a global GPU index, on the hosts this launch runs on."""
        return gpu_name(self.hosts, self.config, gpu)

    def logger(
        self, phase: Phase, source: LogFormat, origin: str | None = None, rank: int | None = None
    ) -> Logger:
        """A logger of this context's rows and clock."""
        return self.rows.logger(phase, source, self.clock, origin, rank)

    @property
    def init(self) -> Logger:
        """Plain init lines (switch format with `.at(...)`)."""
        return self.logger("init", "plain")

    @property
    def close(self) -> Logger:
        """Plain lines after training (the summary phase)."""
        return self.logger("summary", "plain")

    @property
    def agent_pid(self) -> int:
        """torchrun's agent pid."""
        return self.ids.agent_pid + self.attempt.agent_shift

    @property
    def master_port(self) -> int:
        """The rendezvous / MASTER_PORT."""
        return self.ids.master_port

    def worker_pid(self, rank: int) -> int:
        """Process id of a global rank's worker."""
        c = self.config
        return self.ids.pid_base[c.node_of(rank)] + c.local_rank(rank) + 1 + self.attempt.pid_shift

    def ip(self, node: int) -> str:
        """Management address of a node."""
        return f"10.{self.ids.subnet}.{node // 250}.{node % 250 + 4}"

    def tick(self, lo: float, hi: float) -> float:
        """Advance the clock by a random span; return the new time."""
        return self.clock.tick(float(self.rng.uniform(lo, hi)))
