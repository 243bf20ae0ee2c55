"""nvidia-smi-like GPU telemetry on a fixed time grid, from what the GPUs are doing.

Each sample follows the activity of its moment (segments written by the phases): while training,
utilisation is the share of time a kernel runs (pipeline bubbles and host gaps lower it), power
follows the FLOP rate the run achieves, temperature follows power with a lag and a fixed offset
per slot, and memory is what the memory model says each rank's stage holds. Episodes change the
culprit GPU (clock, heat) and, through the synchronous step, everyone else (waiting GPUs draw
less power). Health codes come from the same sample's numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from llmsim.generator.plan.episodes import Episode
from llmsim.generator.plan.runplan import RunPlan
from llmsim.generator.stacks.common.run import Reading
from llmsim.trace.vocab import Health, Phase
from llmsim.trace.writer import make_table

F64 = npt.NDArray[np.float64]

# Activities: what the GPUs are doing during a segment of time. HANG: waiting in a collective a
# lost rank never joins (NCCL's kernel spins: utilisation stays up, power falls); WAIT: every
# GPU waiting for a batch (a dataloader stall); GEN: an RL step's generation (vLLM decoding:
# kernels run all the time but wait on memory, so power stays well below training's).
IDLE, LOAD, TRAIN, EVAL, CKPT, EXPORT, HANG, WAIT, GEN = range(9)
GEN_POWER: Final = (0.42, 0.58)  # decoding's share between idle and TDP
TEMP_WARN: Final = 80.0
TEMP_CRIT: Final = 87.0
CLOCK_WARN: Final = 0.93  # a training GPU below this share of its max clock is slow
CLOCK_CRIT: Final = 0.85  # ... and below this one it holds the job back
TEMP_TAU: Final = 35.0  # seconds: temperature follows power with this lag
TEMP_GAIN: Final = 38.0  # degrees from idle to full power
CLOCK_STEP: Final = 15.0


@dataclass(frozen=True)
class Segment:
    """A stretch of time with one phase and one activity; memory ramps from mem0 to mem1 (share
    of each rank's training memory)."""

    t0: float
    t1: float
    phase: Phase
    activity: int
    mem0: float
    mem1: float


@dataclass(frozen=True)
class TimedEpisode:
    """A slowdown episode placed in time by the train loop."""

    episode: Episode
    t0: float
    t1: float


@dataclass(frozen=True)
class Outage:
    """One GPU out of the ordinary from t0 to t1: `lost` (fell off the bus: no readings),
    `stuck` (its rank hung: idle while the others spin) or `ecc` (errors counted: flagged)."""

    gpu: int
    t0: float
    t1: float
    kind: str


@dataclass
class Samples:
    """One block of telemetry samples (rows) for every GPU (columns)."""

    t: F64
    phase: list[Phase]
    util: npt.NDArray[np.float32]
    mem: npt.NDArray[np.float32]
    temp: npt.NDArray[np.float32]
    power: npt.NDArray[np.float32]
    clock: npt.NDArray[np.float32]
    health: npt.NDArray[np.int8]

    def table(self, step: object, epoch: object) -> pa.Table:
        """The samples as `telemetry` trace rows; `step`/`epoch` are scalars or per-row arrays."""
        columns = {
            "t": self.t,
            "kind": "telemetry",
            "phase": self.phase,
            "step": step,
            "epoch": epoch,
            "gpu_util": self.util,
            "gpu_mem": self.mem,
            "gpu_temp": self.temp,
            "gpu_power": self.power,
            "gpu_clock": self.clock,
            "gpu_health": self.health,
        }
        return make_table(len(self.t), columns)

    def reading(self, row: int) -> Reading:
        """What NVML reports at sample `row`."""
        return Reading(self.util[row], self.temp[row], self.power[row], self.clock[row])


@dataclass
class Levels:
    """Utilisation and power fraction of each activity for this run (from its physics)."""

    util: dict[int, tuple[float, float]] = field(default_factory=dict)  # mean %, spread
    power: dict[int, float] = field(default_factory=dict)  # share between idle and TDP


def levels(plan: RunPlan, rng: np.random.Generator) -> Levels:
    """Activity levels of a run: training utilisation from its bubble and host gaps, power from
    the FLOP rate it achieves, eval from its forward-only rate."""
    th = plan.fit.throughput
    busy = 1.0 / (1.0 + th.bubble) * (1.0 - float(rng.uniform(0.005, 0.04)))
    train_util = 100.0 * busy
    train_s = th.step_s - th.gen_s  # an RL step's training part (gen_s: its generation)
    flop_share = th.efficiency * (th.compute_s / (1.0 + th.bubble)) / train_s
    train_pf = float(np.clip(0.42 + 0.95 * flop_share, 0.45, 0.97))
    eval_share = float(rng.uniform(0.82, 0.97))  # smaller launches, data loading in between
    return Levels(
        util={
            IDLE: (0.0, 0.0),
            LOAD: (12.0, 9.0),
            TRAIN: (train_util, 1.0),
            EVAL: (train_util * eval_share, 3.0),
            CKPT: (4.0, 3.0),
            EXPORT: (9.0, 6.0),
            HANG: (99.5, 0.6),
            WAIT: (3.0, 3.0),
            GEN: (94.0, 3.0),
        },
        power={
            IDLE: 0.0,
            LOAD: 0.10,
            TRAIN: train_pf,
            EVAL: train_pf * eval_share * 0.95,
            CKPT: 0.06,
            EXPORT: 0.08,
            HANG: 0.2,
            WAIT: 0.05,
            GEN: float(rng.uniform(*GEN_POWER)) if th.gen_s > 0 else 0.5,
        },
    )


def stage_of_rank(plan: RunPlan) -> npt.NDArray[np.int64]:
    """Pipeline stage of every global rank (pipeline is the outermost Megatron dimension)."""
    c = plan.config
    per_stage = c.gpus // c.pp
    return np.arange(c.gpus) // per_stage


class Telemetry:
    """Stateful sampler: call `advance` with consecutive time windows, in order."""

    def __init__(self, plan: RunPlan, rng: np.random.Generator) -> None:
        c = plan.config
        self.plan, self.c, self.rng = plan, c, rng
        g, gpn = c.gpus, c.gpus_per_node
        self.interval = c.telemetry_interval
        self.next_k = 1
        gpu = plan.choice.gpu
        self.idle_w, self.idle_clock = float(gpu.idle_w), float(gpu.idle_clock_mhz)
        self.levels = levels(plan, rng)
        self.ambient = float(rng.uniform(24.0, 32.0))
        slot = rng.uniform(-3.0, 3.0, gpn)
        node = rng.uniform(-2.0, 2.0, c.nodes)
        self.temp_off = slot[np.arange(g) % gpn] + node[np.arange(g) // gpn]
        self.temp_off += np.clip(rng.normal(0.0, 1.0, g), -2.5, 2.5)
        self.power_eff = rng.uniform(0.93, 1.06, g)
        mem = plan.fit.memory
        by_stage = np.array([mem.smi_mib(i) for i in range(len(mem.stages))])
        self.train_mem = by_stage[stage_of_rank(plan)] * (1.0 + rng.uniform(-0.004, 0.004, g))
        self.capacity = float(c.gpu_memory_mib)
        self.ema = 0.0
        self.episodes: list[TimedEpisode] = []
        self.outages: list[Outage] = []
        self._recent: Samples | None = None  # the last block that held samples
        # The summary's telemetry figures, totalled here from the arrays every sample is
        # written from (re-reading the written rows cost ~20% of a 2,048-GPU run's time).
        self.peak_mem = 0.0
        self.train_util_sum = 0.0
        self.train_util_count = 0
        self._before: Reading | None = None  # the sample before that block

    def reading(self, t: float) -> Reading | None:
        """The last sample at or before `t` (from the last two blocks advanced; the first sample
        after `t` if there is none before it; None before any sample)."""
        s = self._recent
        if s is None:
            return None
        row = int(np.searchsorted(s.t, t, side="right")) - 1
        if row >= 0:
            return s.reading(row)
        return self._before if self._before is not None else s.reading(0)

    def add(self, episode: TimedEpisode) -> None:
        """An episode the train loop has placed in time."""
        self.episodes.append(episode)

    def add_outage(self, outage: Outage) -> None:
        """A GPU lost, hung or flagged from t0 to t1."""
        self.outages.append(outage)

    def times_until(self, t_end: float) -> F64:
        """Sample times not yet produced that fall before t_end."""
        last = math.ceil(t_end / self.interval) - 1
        if last < self.next_k:
            return np.zeros(0)
        return np.arange(self.next_k, last + 1, dtype=np.float64) * self.interval

    def advance(self, t_end: float, segments: list[Segment]) -> Samples:
        """Produce every sample with t < t_end; `segments` must cover those times."""
        ts = self.times_until(t_end)
        self.next_k += len(ts)
        n, g = len(ts), self.c.gpus
        if n == 0:
            z = np.zeros((0, g), dtype=np.float32)
            return Samples(ts, [], z, z, z, z, z, np.zeros((0, g), dtype=np.int8))
        act, phase, mem_share = _at(ts, segments)
        util, pf = self._load(act, n, g)
        clock_drop, heat = self._episodes(ts, act, pf)
        power = self._power(util, pf)
        temp = self._temperature(ts, pf, heat)
        clock = self._clock(act, pf, temp, clock_drop)
        mem = mem_share[:, None] * self.train_mem[None, :]
        mem = mem + self.rng.normal(0.0, 1.0, (n, g)) * 0.001 * mem
        mem = np.where((act == IDLE)[:, None] & (mem_share[:, None] <= 0), 0.0, mem)
        health = _health(act, temp, clock, float(self.c.gpu_max_clock_mhz))
        out = Samples(
            ts,
            phase,
            np.round(util).astype(np.float32),
            np.clip(np.round(mem), 0.0, self.capacity - 32.0).astype(np.float32),
            temp.astype(np.float32),
            np.round(power).astype(np.float32),
            clock.astype(np.float32),
            health,
        )
        self._outages(out)
        self._total(out)
        if self._recent is not None:
            self._before = self._recent.reading(len(self._recent.t) - 1)
        self._recent = out
        return out

    def _total(self, s: Samples) -> None:
        self.peak_mem = max(self.peak_mem, float(s.mem.max()))
        train = np.fromiter((p == "train" for p in s.phase), dtype=bool, count=len(s.phase))
        util = s.util[train]
        self.train_util_sum += float(util.astype(np.float64).sum())
        self.train_util_count += int(util.size)

    def _outages(self, s: Samples) -> None:
        """Lost GPUs read nothing; a hung rank's GPU idles while the job waits; ECC flags."""
        for o in self.outages:
            rows = (s.t >= o.t0) & (s.t < o.t1)
            if not rows.any():
                continue
            g = o.gpu
            if o.kind == "lost":
                for arr in (s.util, s.mem, s.temp, s.power, s.clock):
                    arr[rows, g] = 0.0
                s.health[rows, g] = int(Health.LOST)
            elif o.kind == "stuck":
                s.util[rows, g] = 0.0
                s.power[rows, g] = np.round(self.idle_w * 1.3)
                s.health[rows, g] = np.maximum(s.health[rows, g], int(Health.WARN))
            else:
                s.health[rows, g] = np.maximum(s.health[rows, g], int(Health.WARN))

    def _load(self, act: npt.NDArray[np.int64], n: int, g: int) -> tuple[F64, F64]:
        lv, rng = self.levels, self.rng
        mean = np.array([lv.util[a][0] for a in act])
        spread = np.array([lv.util[a][1] for a in act])
        noise = rng.standard_normal((n, g))
        util = mean[:, None] + spread[:, None] * noise * 0.5 + rng.uniform(-1, 1, n)[:, None]
        util = np.where(
            (act == TRAIN)[:, None], np.minimum(util, 100.0 - np.abs(noise) * 0.4), util
        )
        util = np.clip(np.where((act == IDLE)[:, None], 0.0, util), 0.0, 100.0)
        level = np.array([lv.power[a] for a in act])
        pf = level[:, None] * self.power_eff[None, :] * (1.0 + 0.02 * rng.standard_normal((n, g)))
        return util, pf

    def _episodes(self, ts: F64, act: npt.NDArray[np.int64], pf: F64) -> tuple[F64, F64]:
        """Per-sample, per-GPU clock loss and extra heat; waiting GPUs draw less power."""
        n, g = pf.shape
        drop, heat = np.zeros((n, g)), np.zeros((n, g))
        training = act == TRAIN
        for te in self.episodes:
            inside = (ts >= te.t0) & (ts <= te.t1) & training
            if not inside.any():
                continue
            e = te.episode
            ramp = np.clip(np.minimum(ts - te.t0, te.t1 - ts) / max(self.interval, 20.0), 0, 1)
            drop[inside, e.gpu] = e.clock_drop
            heat[:, e.gpu] += np.where(inside, e.heat * np.sin(0.5 * np.pi * ramp), 0.0)
            waiting = 1.0 - 0.6 * e.slowdown / (1.0 + e.slowdown)
            others = np.ones(g, dtype=bool)
            others[e.gpu] = False
            pf[np.ix_(inside, others)] *= waiting
        return drop, heat

    def _power(self, util: F64, pf: F64) -> F64:
        tdp = float(self.c.gpu_tdp_w)
        pf = np.clip(pf, 0.0, 0.985)
        power = self.idle_w * (0.92 + 0.08 * util / 100.0) + (tdp - self.idle_w) * pf
        return np.clip(power + self.rng.normal(0.0, 2.0, power.shape), 0.8 * self.idle_w, tdp)

    def _temperature(self, ts: F64, pf: F64, heat: F64) -> F64:
        pf_mean = pf.mean(axis=1)
        ema = np.empty(len(ts))
        e, prev = self.ema, ts[0] - self.interval
        for i, t in enumerate(ts):  # a lag filter: one pass over the samples of the block
            e += (1.0 - math.exp(-(t - prev) / TEMP_TAU)) * (pf_mean[i] - e)
            ema[i], prev = e, t
        self.ema = e
        temp = (
            self.ambient
            + self.temp_off[None, :]
            + TEMP_GAIN * ema[:, None]
            + 0.4 * TEMP_GAIN * (pf - pf_mean[:, None])
            + heat
            + self.rng.normal(0.0, 0.35, pf.shape)
        )
        out: F64 = np.round(temp)
        return out

    def _clock(self, act: npt.NDArray[np.int64], pf: F64, temp: F64, drop: F64) -> F64:
        top = float(self.c.gpu_max_clock_mhz)
        throttle = np.floor(np.clip(pf - 0.9, 0.0, None) * 150.0)
        throttle += np.floor(np.clip(temp - 82.0, 0.0, None) * 1.5)
        clock = np.clip(top - CLOCK_STEP * throttle, 0.6 * top, top) * (1.0 - drop)
        clock = np.round(clock / CLOCK_STEP) * CLOCK_STEP
        return np.where((act == IDLE)[:, None], self.idle_clock, clock)


def _at(ts: F64, segments: list[Segment]) -> tuple[npt.NDArray[np.int64], list[Phase], F64]:
    starts = np.array([s.t0 for s in segments])
    idx = np.clip(np.searchsorted(starts, ts, side="right") - 1, 0, len(segments) - 1)
    t0 = starts[idx]
    t1 = np.array([segments[i].t1 for i in idx])
    m0 = np.array([segments[i].mem0 for i in idx])
    m1 = np.array([segments[i].mem1 for i in idx])
    frac = np.clip(np.where(t1 > t0, (ts - t0) / np.maximum(t1 - t0, 1e-9), 0.0), 0.0, 1.0)
    act = np.array([segments[i].activity for i in idx], dtype=np.int64)
    return act, [segments[i].phase for i in idx], m0 + frac * (m1 - m0)


def _health(act: npt.NDArray[np.int64], temp: F64, clock: F64, top: float) -> npt.NDArray[np.int8]:
    health = np.zeros(temp.shape, dtype=np.int8)
    training = (act == TRAIN)[:, None]
    health[(temp >= TEMP_WARN) | (training & (clock < CLOCK_WARN * top))] = int(Health.WARN)
    health[(temp >= TEMP_CRIT) | (training & (clock < CLOCK_CRIT * top))] = int(Health.CRIT)
    return health
