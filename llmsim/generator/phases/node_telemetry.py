"""Rank 0's node as `watch -n 2 nvidia-smi` sees it: `node_telemetry` rows at the monitor's
interval, from the cluster sampler's own physics (phases/telemetry.py), never a copy of it.

`MonitoredTelemetry` is the cluster's Telemetry that also samples node 0 each time it
advances. Where the cluster is sampled as often as the monitor (up to 64 GPUs: every 2 s) the
node's rows are its first node's columns of the same samples. Where the cluster is sampled less
often, a second Telemetry samples node 0 on the monitor's grid: the same object with its
per-GPU arrays cut to node 0's GPUs (plus one column standing for any other GPU an episode or
outage is about, so the job's other GPUs keep their say in what node 0's GPUs do: they wait
for a straggler elsewhere), its own noise and its own temperature lag; at the times both grids
share, the node's values are the cluster's (one source of truth where they coincide).
Whatever the physics computes (thermal lag, idle, evaluation dips, hung collectives, lost
GPUs) flows through both unchanged.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from llmsim.generator.phases.telemetry import (
    IDLE,
    Outage,
    Samples,
    Segment,
    Telemetry,
)
from llmsim.generator.plan.episodes import Episode
from llmsim.generator.plan.runplan import RunPlan
from llmsim.trace.writer import make_table

F64 = npt.NDArray[np.float64]
TIME_DECIMALS = 6  # two grids' times are "the same" to a microsecond


class MonitoredTelemetry(Telemetry):
    """The cluster sampler, with node 0 sampled at the monitor's interval beside it."""

    def __init__(
        self,
        plan: RunPlan,
        rng: np.random.Generator,
        node_rng: np.random.Generator,
        containerised: bool,
    ) -> None:
        super().__init__(plan, rng)
        self.listed = not containerised  # nvidia-smi lists the job's processes
        self.held = False  # the job's processes hold memory on the GPUs (last segment seen)
        self.exits: list[float] = []
        self.next_k = 0  # a sample at t = 0: watch draws its first screen at once
        c = plan.config
        self.per_node = c.gpus_per_node
        interval = plan.terminal.monitor_interval
        self.view: Telemetry | None = None
        if not np.isclose(interval, self.interval):
            self.view = _node_view(self, interval, node_rng)
        self.pending: list[Samples] = []
        self.fraction = np.random.default_rng(node_rng.integers(0, 2**63))
        self.steps_t: list[float] = []  # when each step seen so far ended
        self.steps: list[int] = []
        self.first = c.resume_step

    def advance(self, t_end: float, segments: list[Segment]) -> Samples:
        """The cluster's samples before t_end; node 0's are kept for `node_rows`, and the
        moments the job's processes exit (its memory leaves the GPUs) for its process list."""
        for seg in segments:
            held = seg.activity != IDLE or seg.mem0 > 0 or seg.mem1 > 0
            if self.held and not held:
                self.exits.append(seg.t0)
            self.held = held
        out = super().advance(t_end, segments)
        if self.view is None:  # the same grid: the cluster's own samples (copies: rows differ)
            self.pending.append(_copy(_columns(out, self.per_node)))
            return out
        self.view.episodes = {_remap(e, self.per_node): w for e, w in self.episodes.items()}
        self.view.outages = [_remap_outage(o, self.per_node) for o in self.outages]
        node = _columns(self.view.advance(t_end, segments), self.per_node)
        self.pending.append(_coincide(node, out, self.per_node))
        return out

    def node_rows(self, table: pa.Table) -> pa.Table:
        """The node's samples taken since the last call, as rows; `table` (about to be written)
        holds the steps they follow, which label them as the cluster's rows are. Power keeps
        the fraction of a watt nvidia-smi's CSV prints (`612.95 W`) and its table rounds
        away: rounded, it is the cluster row's whole-watt figure."""
        self._observe(table)
        exits = _exits(self.exits, self.per_node) if self.listed else make_table(0, {})
        self.exits = []
        parts = [s for s in self.pending if len(s.t)]
        self.pending = []
        if not parts:
            return exits
        c = self.plan.config
        s = _concat(parts)
        ends = np.array(self.steps_t)
        idx = np.searchsorted(ends, s.t, side="right") - 1
        seen = np.array(self.steps, dtype=np.int64)
        done = np.where(idx >= 0, seen[np.maximum(idx, 0)] if len(seen) else 0, self.first)
        watts = s.power + self.fraction.uniform(-0.49, 0.49, s.power.shape) * (s.power > 0)
        columns = {
            "t": s.t,
            "kind": "node_telemetry",
            "phase": s.phase,
            "rank": 0,  # the node's first global rank: the monitor watches rank 0's node
            "step": done,
            "epoch": np.minimum(done, c.total_steps - 1) // c.steps_per_epoch + 1,
            "gpu_util": s.util,
            "gpu_mem": s.mem,
            "gpu_temp": s.temp,
            "gpu_power": np.round(watts, 2).astype(np.float32),
            "gpu_clock": s.clock,
            "gpu_health": s.health,
        }
        return pa.concat_tables([make_table(len(s.t), columns), exits])

    def _observe(self, table: pa.Table) -> None:
        if table.num_rows == 0 or "step" not in table.column_names:
            return
        steps = table.filter(pc.equal(table.column("kind"), pa.scalar("step")))
        if steps.num_rows:
            self.steps_t.extend(float(x) for x in steps.column("t").to_numpy())
            self.steps.extend(int(x) for x in steps.column("step").to_numpy(zero_copy_only=False))


def _exits(times: list[float], per: int) -> pa.Table:
    """`process` exit rows of node 0's workers at each time."""
    t = [when for when in times for _ in range(per)]
    ranks = [r for _ in times for r in range(per)]
    return make_table(
        len(t), {"t": t, "kind": "process", "phase": "train", "op": "exit", "rank": ranks}
    )


def _node_view(tele: Telemetry, interval: float, rng: np.random.Generator) -> Telemetry:
    """The sampler cut to node 0's GPUs and one stand-in for the rest, on the monitor's grid."""
    c = tele.plan.config
    g, per = c.gpus, c.gpus_per_node
    cols = np.arange(per + 1)  # node 0, then GPU `per` standing for every other GPU
    view = copy.copy(tele)
    view.__class__ = Telemetry  # a plain sampler: its advance samples, and nothing more
    for name, value in vars(tele).items():
        if isinstance(value, np.ndarray) and value.shape[:1] == (g,):
            setattr(view, name, value[cols])
    view.c = replace(c, gpus=len(cols))  # the width every sample has (advance reads c.gpus)
    view.rng, view.interval, view.next_k = rng, interval, 0
    view.episodes, view.outages = {}, []
    return view


def _remap(e: Episode, per: int) -> Episode:
    """An episode on node 0 stays on its GPU; one elsewhere is the stand-in's."""
    return e if e.gpu < per else replace(e, gpu=per)


def _remap_outage(o: Outage, per: int) -> Outage:
    return o if o.gpu < per else replace(o, gpu=per)


def _concat(parts: list[Samples]) -> Samples:
    """Consecutive blocks of samples as one."""
    return Samples(
        np.concatenate([p.t for p in parts]),
        [ph for p in parts for ph in p.phase],
        np.concatenate([p.util for p in parts]),
        np.concatenate([p.mem for p in parts]),
        np.concatenate([p.temp for p in parts]),
        np.concatenate([p.power for p in parts]),
        np.concatenate([p.clock for p in parts]),
        np.concatenate([p.health for p in parts]),
    )


def _columns(s: Samples, n: int) -> Samples:
    """The first n GPUs of a block of samples."""
    return Samples(
        s.t,
        s.phase,
        s.util[:, :n],
        s.mem[:, :n],
        s.temp[:, :n],
        s.power[:, :n],
        s.clock[:, :n],
        s.health[:, :n],
    )


def _copy(s: Samples) -> Samples:
    return Samples(
        s.t.copy(),
        list(s.phase),
        s.util.copy(),
        s.mem.copy(),
        s.temp.copy(),
        s.power.copy(),
        s.clock.copy(),
        s.health.copy(),
    )


def _coincide(node: Samples, cluster: Samples, per: int) -> Samples:
    """Node samples whose times the cluster's grid shares take the cluster's values."""
    if len(node.t) == 0 or len(cluster.t) == 0:
        return node
    times = np.round(cluster.t, TIME_DECIMALS)
    at = np.searchsorted(times, np.round(node.t, TIME_DECIMALS))
    at = np.minimum(at, len(times) - 1)
    same = times[at] == np.round(node.t, TIME_DECIMALS)
    rows, src = np.flatnonzero(same), at[same]
    for mine, theirs in (
        (node.util, cluster.util),
        (node.mem, cluster.mem),
        (node.temp, cluster.temp),
        (node.power, cluster.power),
        (node.clock, cluster.clock),
        (node.health, cluster.health),
    ):
        mine[rows] = theirs[src, :per]
    return node
