"""The run's failures and transient faults, decided once in the plan with their consequences sized.

A failure is a rank lost in the middle of a training step: its GPU falls off the bus (Xid 79)
or the rank hangs. Every other rank waits in the collective it was in until the job's
collective timeout runs out, the NCCL watchdog takes each process down, the launcher reports
the failure and the job is started again (torchrun restarts its workers in place, or the
scheduler requeues the job, on a replacement node when a GPU was lost). The new processes load
the latest checkpoint and redo the steps since it. A failure is only planned where its cost
(the hang, the relaunch and the redone steps) fits the run's duration.

Transient faults leave the job running: a dataloader stall (one slow step, the GPUs waiting),
ECC errors rising on one GPU (a warning from the monitor, the GPU flagged), and a checkpoint
write that stalls while the file system client reconnects (a longer save).

Incidents keep out of each other's way: nothing else happens in the steps a failure makes the
job redo, so each consequence is seen once and can be checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

from llmsim.trace.vocab import IncidentKind, IncidentRate

Cause = Literal["xid79", "hang"]
Relaunch = Literal["elastic", "requeue"]

# Chance that a run has a failure (rare), and that an `often` run has a second one.
FAILURE_CHANCE: Final[dict[IncidentRate, float]] = {"none": 0.0, "rare": 0.36, "often": 1.0}
SECOND_FAILURE: Final = 0.25
REDO_SHARE: Final = 0.08  # of the run's wanted duration, the steps a failure may make it redo
# Share of an asked duration the failures may take (a demo may spend more of it on them).
FAILURE_SHARE: Final[dict[IncidentRate, float]] = {"none": 0.0, "rare": 0.45, "often": 0.7}
# Expected transient faults per run.
TRANSIENTS_PER_RUN: Final[dict[IncidentRate, float]] = {"none": 0.0, "rare": 1.1, "often": 3.0}
TEARDOWN_S: Final = (3.0, 12.0)  # watchdog abort to the launcher's report
KILL_GRACE_S: Final = 30.0  # torchrun's SIGTERM grace before SIGKILL (a rank stuck in the driver)
ELASTIC_S: Final = (4.0, 12.0)  # torchrun restarting its workers in place
REQUEUE_S: Final = (30.0, 90.0)  # the scheduler requeues and reallocates the job
REPLACE_S: Final = (60.0, 150.0)  # ... and drains the node, bringing a spare in


@dataclass(frozen=True)
class Failure:
    """A rank lost in step `step` (which never completes); the job restarts from `checkpoint`."""

    step: int
    checkpoint: int
    gpu: int  # global rank of the culprit
    cause: Cause
    into_step: float  # share of the step done when it hangs
    timeout_s: int
    relaunch: Relaunch
    down_s: float  # from the launcher's report to the new processes starting
    replacement: int | None  # number of the spare node brought in (hostname suffix), if any

    @property
    def redone(self) -> int:
        """Steps completed after the checkpoint, lost and done again."""
        return self.step - 1 - self.checkpoint


@dataclass(frozen=True)
class Transient:
    """A fault the job rides through: at `step`, on `gpu`, costing `seconds` (or `count`)."""

    kind: IncidentKind  # dataloader_stall, ecc or checkpoint_retry
    step: int
    gpu: int
    seconds: float
    count: int


@dataclass(frozen=True)
class Incidents:
    """Failures and transient faults of a run, in step order."""

    failures: tuple[Failure, ...] = ()
    transients: tuple[Transient, ...] = ()

    def redo_spans(self) -> tuple[tuple[int, int], ...]:
        """(first, last) steps each failure makes the job run twice, the failing step included."""
        return tuple((f.checkpoint + 1, f.step) for f in self.failures)


@dataclass(frozen=True)
class RunShape:
    """What planning incidents needs to know of the run."""

    gpus: int
    nodes: int
    first: int  # first step of the trace
    last: int  # the schedule's last step
    resume: int  # the checkpoint the trace starts from (0: none)
    checkpoint_interval: int
    log_interval: int
    step_s: float
    duration: float  # the run's wanted length
    elastic: bool  # torchrun with --max-restarts > 0 restarts a failed group in place
    ecc: bool = True  # the GPUs count memory errors (no ECC, no `ecc` fault)
    # checkpoints go to a cluster's shared file system (a workstation or cloud card's job
    # writes to its local disk: no Lustre recovery, no `checkpoint_retry`)
    shared_fs: bool = True


@dataclass(frozen=True)
class Outline:
    """What is decided of a failure before the schedule is sized (its cost is taken out)."""

    cause: Cause
    down: float  # where in its range the relaunch's delay falls (0..1)
    into_step: float
    timeout_s: int
    culprit: float  # where among the ranks (0..1) the lost one is

    def down_s(self, elastic: bool) -> float:
        """Seconds from the launcher's report to the relaunch: torchrun restarting a hung
        group in place, or the scheduler requeueing (on a spare node for a lost GPU)."""
        lo, hi = self.spans(elastic)
        return lo + (hi - lo) * self.down

    def spans(self, elastic: bool) -> tuple[float, float]:
        """The range of that delay."""
        if elastic and self.cause == "hang":
            return ELASTIC_S
        return REPLACE_S if self.cause == "xid79" else REQUEUE_S


def outline(
    rate: IncidentRate, timeout_s: int, gpus: int, rng: np.random.Generator
) -> tuple[Outline, ...]:
    """Whether the run fails (and how): a single GPU has no collective to hang in. The hang
    lasts the job's collective timeout (`StackProfile.collective_timeout_s`)."""
    if gpus < 2 or rng.random() >= FAILURE_CHANCE[rate]:
        return ()
    wanted = 1 + int(rate == "often" and rng.random() < SECOND_FAILURE)
    return tuple(
        Outline(
            cause="xid79" if rng.random() < 0.55 else "hang",
            down=float(rng.random()),
            into_step=float(rng.uniform(0.2, 0.9)),
            timeout_s=timeout_s,
            culprit=float(rng.random()),
        )
        for _ in range(wanted)
    )


def overhead_s(outlines: tuple[Outline, ...], init_s: float, duration: float) -> float:
    """Seconds the failures will take from the run: the hangs, relaunches and redone steps."""
    fixed = sum(o.timeout_s + o.down_s(False) + TEARDOWN_S[1] + init_s for o in outlines)
    return fixed + len(outlines) * REDO_SHARE * duration


def plan_incidents(
    rate: IncidentRate, outlines: tuple[Outline, ...], run: RunShape, rng: np.random.Generator
) -> Incidents:
    """Failures placed in the sized schedule first (they decide which steps run twice), then
    transient faults outside the steps run twice."""
    failures = _failures(outlines, run, rng)
    spans = tuple((f.checkpoint + 1, f.step) for f in failures)
    return Incidents(failures, _transients(rate, run, spans, rng))


def _saves(run: RunShape) -> list[int]:
    """Checkpoints a failure could restart from: the one resumed from (0: none yet, a fresh
    run starts over), then each regular save."""
    every = run.checkpoint_interval
    first = -(-run.first // every) * every
    return [run.resume, *range(first, run.last, every)]


def _failures(
    outlines: tuple[Outline, ...], run: RunShape, rng: np.random.Generator
) -> tuple[Failure, ...]:
    out: list[Failure] = []
    saves = [c for c in _saves(run) if c + 4 <= run.last]  # room for a step done and one lost
    redo = max(2, int(REDO_SHARE * run.duration / run.step_s))
    for o in outlines:
        options = [c for c in saves if not out or c > out[-1].step + run.log_interval]
        failure = _failure(o, run, options, redo, rng)
        if failure is None:
            break
        out.append(failure)
    return tuple(out)


def _failure(
    o: Outline, run: RunShape, saves: list[int], redo: int, rng: np.random.Generator
) -> Failure | None:
    """A failure after one of `saves`, before the next save, at most `redo` steps past it."""
    if not saves:
        return None
    ckpt = saves[int(rng.integers(0, min(len(saves), 3)))]
    nxt = min(ckpt + run.checkpoint_interval, run.last - 2, ckpt + redo + 1)
    lo = max(ckpt + 2, run.first + 1)
    if nxt < lo:
        return None
    return Failure(
        step=int(rng.integers(lo, nxt + 1)),
        checkpoint=ckpt,
        gpu=1 + int(o.culprit * (run.gpus - 1)),  # rank 0 prints: it reports, not hangs
        cause=o.cause,
        into_step=o.into_step,
        timeout_s=o.timeout_s,
        relaunch="elastic" if run.elastic and o.cause == "hang" else "requeue",
        down_s=o.down_s(run.elastic),
        replacement=run.nodes + int(rng.integers(3, 40)) if o.cause == "xid79" else None,
    )


def cost_s(failure: Failure, init_s: float, step_s: float) -> float:
    """Seconds a failure adds to the run: the hang, the relaunch and the redone steps."""
    return (
        failure.timeout_s
        + failure.down_s
        + TEARDOWN_S[1]
        + init_s
        + (failure.redone + failure.into_step) * step_s
    )


def _transients(
    rate: IncidentRate,
    run: RunShape,
    spans: tuple[tuple[int, int], ...],
    rng: np.random.Generator,
) -> tuple[Transient, ...]:
    n = int(rng.poisson(TRANSIENTS_PER_RUN[rate]))
    out: list[Transient] = []
    kinds: tuple[IncidentKind, ...] = ("dataloader_stall", "ecc", "checkpoint_retry")
    for _ in range(n):
        kind = kinds[int(rng.integers(0, 3))]
        if (kind == "ecc" and not run.ecc) or (kind == "checkpoint_retry" and not run.shared_fs):
            continue
        step = _transient_step(kind, run, rng)
        if step is None or any(a - 1 <= step <= b + 1 for a, b in spans):
            continue
        if any(t.kind == kind and abs(t.step - step) < 3 * run.log_interval for t in out):
            continue
        out.append(
            Transient(
                kind=kind,
                step=step,
                gpu=int(rng.integers(0, run.gpus)),
                seconds=_transient_seconds(kind, run, rng),
                count=int(rng.integers(2, 40)),
            )
        )
    return tuple(sorted(out, key=lambda t: t.step))


def _transient_step(kind: IncidentKind, run: RunShape, rng: np.random.Generator) -> int | None:
    """A step for the fault: a regular save (not the last) for a stalled write, else any step
    past the first log window and before the last."""
    if kind == "checkpoint_retry":
        saves = [s for s in _saves(run) if s >= run.first]
        return saves[int(rng.integers(0, len(saves)))] if saves else None
    lo, hi = run.first + run.log_interval, run.last - 1
    return int(rng.integers(lo, hi)) if hi > lo else None


def _transient_seconds(kind: IncidentKind, run: RunShape, rng: np.random.Generator) -> float:
    if kind == "dataloader_stall":  # a shard fetched from a cold object store, a worker respawn
        return float(rng.uniform(4.0, 25.0)) + run.step_s * float(rng.uniform(0.5, 2.0))
    if kind == "checkpoint_retry":  # the Lustre client's reconnect and resend
        return float(rng.uniform(20.0, 75.0))
    return 0.0


def at_step(incidents: Incidents, kind: IncidentKind, steps: np.ndarray) -> np.ndarray:
    """Extra seconds transients of `kind` add to each of `steps`."""
    extra = np.zeros(len(steps))
    for t in incidents.transients:
        if t.kind == kind:
            extra = np.where(steps == t.step, extra + t.seconds, extra)
    return extra
