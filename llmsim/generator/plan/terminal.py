"""The engineer at the terminal: who is logged in where, the tmux session, the node's driver,
and whether the run logs to W&B. Drawn from a random stream of its own (plan/make.py), so
adding it moved no draw of the rest of the plan.

A job on one node is started on that node itself (the shell's host is the node's); a job on
several is submitted from a login node. The trace's config carries what the player shows of
it (login_host, tmux_session, monitor_interval, driver_version, driver_cuda_version).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from llmsim.generator.catalog import terminal as cat

WANDB_CHANCE: float = 0.55  # share of runs that log to W&B (report_to, --wandb-project...)
UPLOAD_MBS: tuple[float, float] = (180.0, 480.0)  # hf-xet's rate from a cluster to the Hub


@dataclass(frozen=True)
class Terminal:
    """The shell and tools around one run."""

    user: str
    login_host: str  # where the shell runs: a login node, or the job's only node
    tmux_session: str | None  # None: tmux's own name of the first session, `0`
    driver: str  # nvidia-smi's Driver Version
    driver_cuda: str  # nvidia-smi's CUDA Version
    monitor_interval: float  # watch -n
    wandb: bool  # the run logs to W&B
    wandb_entity: str  # the W&B user or team the run goes to
    wandb_id: str  # 8 characters of [a-z0-9]
    wandb_words: tuple[str, str, int]  # a server-named run: adjective, noun, counter
    hub_owner: str  # the Hub namespace the export is uploaded to
    upload_mbs: float  # hf-xet's upload rate, MB/s

    @property
    def home(self) -> str:
        """The user's home folder."""
        return f"/home/{self.user}"


def draw_terminal(seed: int, nodes: int, hostnames: tuple[str, ...], key: int) -> Terminal:
    """The terminal of a run, from its own stream `[seed, key]`."""
    rng = np.random.default_rng([seed, key])
    user = _pick(rng, cat.USERS)
    login = _pick(rng, cat.LOGIN_HOSTS) if nodes > 1 else hostnames[0]
    session = cat.TMUX_SESSIONS[int(rng.integers(0, len(cat.TMUX_SESSIONS)))]
    driver, cuda = cat.DRIVERS[int(rng.integers(0, len(cat.DRIVERS)))]
    wandb = bool(rng.random() < WANDB_CHANCE)
    team = bool(rng.random() < 0.6)
    entity = _pick(rng, cat.TEAMS) if team else user
    run_id = "".join(cat.RUN_ID_CHARS[int(i)] for i in rng.integers(0, len(cat.RUN_ID_CHARS), 8))
    words = (
        _pick(rng, cat.WANDB_ADJECTIVES),
        _pick(rng, cat.WANDB_NOUNS),
        int(rng.integers(1, 900)),
    )
    owner = entity if team and rng.random() < 0.5 else user
    return Terminal(
        user=user,
        login_host=login,
        tmux_session=session,
        driver=driver,
        driver_cuda=cuda,
        monitor_interval=cat.WATCH_INTERVAL,
        wandb=wandb,
        wandb_entity=entity,
        wandb_id=run_id,
        wandb_words=words,
        hub_owner=owner,
        upload_mbs=float(rng.uniform(*UPLOAD_MBS)),
    )


def _pick(rng: np.random.Generator, values: tuple[str, ...]) -> str:
    return values[int(rng.integers(0, len(values)))]
