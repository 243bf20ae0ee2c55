"""nvidia-smi-like GPU telemetry on a fixed time grid, with hot/slow/memory episodes + warnings."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from llmsim.generator.shim import extra_of
from llmsim.trace.config import RunConfig
from llmsim.trace.writer import make_table

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

# Activities: what the GPUs are doing during a segment of time.
IDLE, LOAD, TRAIN, EVAL, CKPT, EXPORT = range(6)
# (mean utilisation %, spread, power fraction between idle and TDP)
_ACTIVITY: dict[int, tuple[float, float, float]] = {
    IDLE: (0.0, 0.0, 0.0),
    LOAD: (14.0, 9.0, 0.14),
    TRAIN: (100.0, 0.0, 0.86),
    EVAL: (83.0, 5.0, 0.55),
    CKPT: (7.0, 4.0, 0.09),
    EXPORT: (31.0, 10.0, 0.27),
}
TEMP_WARN = 80.0
TEMP_CRIT = 87.0
UTIL_WARN = 50.0
TEMP_TAU = 35.0  # seconds: temperature follows power with this lag
TEMP_GAIN = 30.0  # degrees from idle to full power
CLOCK_STEP = 15.0
EPISODE_GAP = 120.0  # s: a GPU gets no second heat episode until the first has cooled


@dataclass(frozen=True)
class Segment:
    """A stretch of time with one phase and one activity; memory ramps from mem0 to mem1 MiB."""

    t0: float
    t1: float
    phase: str
    activity: int
    mem0: float
    mem1: float


@dataclass
class Episode:
    """One GPU misbehaving for a while: "hot", "slow" (utilisation dip) or "mem" (allocator)."""

    kind: str
    gpu: int
    t0: float
    t1: float
    size: float  # hot: degrees added at the top; slow: utilisation %; mem: MiB added
    stage: int = 0  # warnings already emitted


@dataclass(frozen=True)
class LogLine:
    """A log line decided by telemetry."""

    t: float
    phase: str
    level: str
    source: str
    text: str


@dataclass
class Samples:
    """One block of telemetry samples (rows) for every GPU (columns)."""

    t: F64
    phase: list[str]
    util: npt.NDArray[np.float32]
    mem: npt.NDArray[np.float32]
    temp: npt.NDArray[np.float32]
    power: npt.NDArray[np.float32]
    clock: npt.NDArray[np.float32]
    health: npt.NDArray[np.int8]
    logs: list[LogLine] = field(default_factory=list)

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


def budget_mib(config: RunConfig) -> float:
    """Memory used per GPU during training, MiB (weights + grads + optimizer + activations)."""
    gib = (
        config.mem_weights_gib
        + config.mem_grads_gib
        + config.mem_optimizer_gib
        + config.mem_activations_gib
    )
    return gib * 1024.0


def gpu_name(config: RunConfig, gpu: int) -> str:
    """`host GPU i` for a global rank."""
    return f"{config.hostnames[gpu // config.gpus_per_node]} GPU {gpu % config.gpus_per_node}"


class Telemetry:
    """Stateful sampler: call `advance` with consecutive time windows, in order."""

    def __init__(self, config: RunConfig, rng: np.random.Generator) -> None:
        self.c = config
        self.rng = rng
        g, gpn = config.gpus, config.gpus_per_node
        self.interval = config.telemetry_interval
        self.next_k = 1
        self.idle_w = float(extra_of(config).get("gpu_idle_w", 0.1 * config.gpu_tdp_w))
        self.idle_clock = 345.0 if config.gpu_max_clock_mhz > 1500 else 210.0
        self.ambient = float(rng.uniform(27.0, 33.0))
        slot = rng.uniform(-2.5, 2.5, gpn)
        node = rng.uniform(-1.5, 1.5, config.nodes)
        own = np.clip(rng.normal(0.0, 1.0, g), -2.5, 2.5)
        self.temp_off = slot[np.arange(g) % gpn] + node[np.arange(g) // gpn] + own
        self.power_eff = rng.uniform(0.93, 1.06, g)
        self.mem_off = rng.uniform(-0.005, 0.005, g)
        self.capacity = float(config.gpu_memory_mib)
        self.ema = 0.0
        self.episodes: list[Episode] = []

    def typical_temp(self, gpu: int) -> float:
        """Temperature of a GPU in steady training (used to size hot episodes)."""
        return self.ambient + float(self.temp_off[gpu]) + TEMP_GAIN * _ACTIVITY[TRAIN][2]

    def add(self, episode: Episode) -> None:
        """Start tracking an episode (its effect and its warnings).

        An episode of the same kind on a GPU that already has one under way (or, for heat,
        one still cooling down) is dropped: two would print their warnings twice.
        """
        margin = EPISODE_GAP if episode.kind == "hot" else 0.0
        for ep in self.episodes:
            if (
                ep.kind == episode.kind
                and ep.gpu == episode.gpu
                and episode.t0 <= ep.t1 + margin
                and ep.t0 <= episode.t1 + margin
            ):
                return
        self.episodes.append(episode)

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
        rng = self.rng
        if n == 0:
            z = np.zeros((0, g), dtype=np.float32)
            return Samples(ts, [], z, z, z, z, z, np.zeros((0, g), dtype=np.int8))
        starts = np.array([s.t0 for s in segments])
        si = np.clip(np.searchsorted(starts, ts, side="right") - 1, 0, len(segments) - 1)
        seg = [segments[i] for i in si]
        act = np.array([s.activity for s in seg])
        phase = [s.phase for s in seg]
        frac = np.array(
            [
                0.0 if s.t1 <= s.t0 else min(1.0, max(0.0, (t - s.t0) / (s.t1 - s.t0)))
                for s, t in zip(seg, ts, strict=True)
            ]
        )
        mem_level = np.array([s.mem0 for s in seg]) + frac * np.array(
            [s.mem1 - s.mem0 for s in seg]
        )
        mean_u = np.array([_ACTIVITY[a][0] for a in act])
        spread = np.array([_ACTIVITY[a][1] for a in act])
        pf_level = np.array([_ACTIVITY[a][2] for a in act])
        # per-sample level wobble, then per-GPU noise
        mean_u = mean_u + spread * rng.uniform(-1.0, 1.0, n)
        noise = rng.standard_normal((n, g))
        train = act == TRAIN
        util = np.where(
            train[:, None],
            100.0 - np.abs(noise) * 1.3,
            mean_u[:, None] + spread[:, None] * 0.4 * noise,
        )
        util = np.where((act == IDLE)[:, None], 0.0, util)
        util = np.clip(util, 0.0, 100.0)
        pf = (
            pf_level[:, None] * self.power_eff[None, :] * (1.0 + 0.03 * rng.standard_normal((n, g)))
        )
        # episodes that change utilisation or memory
        mem = mem_level[:, None] * (1.0 + self.mem_off[None, :])
        mem = mem + rng.normal(0.0, 1.0, (n, g)) * (0.0012 * mem_level[:, None])
        temp_bump = np.zeros((n, g))
        for ep in self.episodes:
            inside = (ts >= ep.t0) & (ts <= ep.t1)
            if not inside.any():
                continue
            if ep.kind == "slow":
                util[inside, ep.gpu] = np.minimum(util[inside, ep.gpu], ep.size)
                pf[inside, ep.gpu] *= 0.55
            elif ep.kind == "mem":
                mem[inside, ep.gpu] += ep.size
            else:
                ramp = max(self.interval, 0.35 * (ep.t1 - ep.t0))
                shape = np.clip(np.minimum(ts - ep.t0, ep.t1 - ts) / ramp, 0.0, 1.0)
                temp_bump[:, ep.gpu] += ep.size * np.sin(0.5 * np.pi * shape)
        pf = np.clip(pf, 0.0, 0.985)
        tdp = float(self.c.gpu_tdp_w)
        power = self.idle_w * (0.92 + 0.08 * (util / 100.0)) + (tdp - self.idle_w) * pf
        power = np.clip(power + rng.normal(0.0, 2.0, (n, g)), 0.8 * self.idle_w, tdp)
        # temperature lags the cluster's mean power fraction
        pf_mean = pf.mean(axis=1)
        ema = np.empty(n)
        e = self.ema
        prev_t = ts[0] - self.interval
        for i in range(n):
            a = 1.0 - math.exp(-(ts[i] - prev_t) / TEMP_TAU)
            e += a * (pf_mean[i] - e)
            ema[i] = e
            prev_t = ts[i]
        self.ema = e
        temp = (
            self.ambient
            + self.temp_off[None, :]
            + TEMP_GAIN * ema[:, None]
            + 0.4 * TEMP_GAIN * (pf - pf_mean[:, None])
            + temp_bump
            + rng.normal(0.0, 0.35, (n, g))
        )
        temp = np.round(temp)
        max_clock = float(self.c.gpu_max_clock_mhz)
        throttle = np.floor(np.clip(pf - 0.9, 0.0, None) * 150.0) + np.floor(
            np.clip(temp - 78.0, 0.0, None) * 2.5
        )
        clock = np.clip(max_clock - CLOCK_STEP * throttle, 0.6 * max_clock, max_clock)
        clock = np.where((act == IDLE)[:, None], self.idle_clock, clock)
        util = np.round(util)
        mem = np.clip(np.round(mem), 0.0, self.capacity - 32.0)
        power = np.round(power)
        health = np.zeros((n, g), dtype=np.int8)
        health[(temp >= TEMP_WARN) | (train[:, None] & (util < UTIL_WARN))] = 1
        health[temp >= TEMP_CRIT] = 2
        out = Samples(
            ts,
            phase,
            util.astype(np.float32),
            mem.astype(np.float32),
            temp.astype(np.float32),
            power.astype(np.float32),
            clock.astype(np.float32),
            health,
        )
        out.logs = self._warnings(out, train)
        self.episodes = [ep for ep in self.episodes if ep.t1 + 600.0 > ts[-1] and not _finished(ep)]
        return out

    def _warnings(self, s: Samples, train: npt.NDArray[np.bool_]) -> list[LogLine]:
        logs: list[LogLine] = []
        c = self.c
        for ep in self.episodes:
            col = ep.gpu
            who = f"rank {col} ({gpu_name(c, col)})"
            if ep.kind == "hot":
                temps = s.temp[:, col]
                for i in range(len(s.t)):
                    tv, t = float(temps[i]), float(s.t[i])
                    if ep.stage == 0 and TEMP_WARN <= tv < TEMP_CRIT:
                        ep.stage = 1
                        logs.append(
                            LogLine(
                                t,
                                s.phase[i],
                                "WARNING",
                                "monitor",
                                f"GPU temperature high: {gpu_name(c, col)} at {tv:.0f}°C "
                                f"(warning threshold {TEMP_WARN:.0f}°C), SM clock "
                                f"{s.clock[i, col]:.0f} MHz, power {s.power[i, col]:.0f} W",
                            )
                        )
                    if ep.stage in (0, 1) and tv >= TEMP_CRIT:
                        ep.stage = 2
                        logs.append(
                            LogLine(
                                t,
                                s.phase[i],
                                "WARNING",
                                "monitor",
                                f"GPU temperature critical: {gpu_name(c, col)} at {tv:.0f}°C "
                                f"(critical threshold {TEMP_CRIT:.0f}°C), clocks throttled to "
                                f"{s.clock[i, col]:.0f} MHz",
                            )
                        )
                    if ep.stage in (1, 2) and t > ep.t1 and tv < TEMP_WARN - 5:
                        ep.stage = 3
                        logs.append(
                            LogLine(
                                t,
                                s.phase[i],
                                "INFO",
                                "monitor",
                                f"GPU temperature back to normal: {gpu_name(c, col)} at {tv:.0f}°C",
                            )
                        )
            elif ep.kind == "slow" and ep.stage == 0:
                hit = np.flatnonzero(train & (s.util[:, col] < UTIL_WARN) & (s.t >= ep.t0))
                if len(hit):
                    i = int(hit[0])
                    ep.stage = 1
                    med = float(np.median(s.util[i]))
                    logs.append(
                        LogLine(
                            float(s.t[i]),
                            s.phase[i],
                            "WARNING",
                            "monitor",
                            f"Straggler detected: {who} at {s.util[i, col]:.0f}% GPU utilization "
                            f"(cluster median {med:.0f}%), {s.power[i, col]:.0f} W",
                        )
                    )
            elif ep.kind == "mem" and ep.stage == 0:
                hit = np.flatnonzero((s.t >= ep.t0) & (s.t <= ep.t1))
                if len(hit):
                    i = int(hit[0])
                    ep.stage = 1
                    used = float(s.mem[i, col])
                    flushes = 2 + int(ep.size) % 4
                    logs.append(
                        LogLine(
                            float(s.t[i]),
                            s.phase[i],
                            "WARNING",
                            "trainer",
                            f"{who}: {flushes} pytorch allocator cache flushes since last step "
                            f"(memory fragmentation), {used:,.0f} MiB of {self.capacity:,.0f} MiB "
                            "in use. Consider PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True",
                        )
                    )
        return logs


def _finished(ep: Episode) -> bool:
    return ep.stage == 3 if ep.kind == "hot" else ep.stage == 1
