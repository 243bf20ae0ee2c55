"""Summary phase: aggregates observed from the emitted events, and the closing rows."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from llmsim.generator.phases.telemetry import Telemetry
from llmsim.generator.plan.runplan import RunPlan
from llmsim.generator.rows import Rows


@dataclass
class Aggregates:
    """Running totals over every table written, so the summary equals what was shown."""

    last_step: int = 0
    last_epoch: int = 0
    last_loss: float = math.nan
    last_reward: float | None = None  # an RL run's reward at its last step
    util_sum: float = 0.0
    util_count: int = 0
    peak_mem: float = 0.0
    export_bytes: int = 0
    last_t: float = 0.0
    top_step: int = 0  # the furthest step reached (a step at or below it is done again)
    restarts: int = 0
    redone: int = 0
    lost_s: float = 0.0

    def observe(self, table: pa.Table) -> None:
        """Fold one table (about to be written) into the totals."""
        if table.num_rows == 0:
            return
        kind = table.column("kind")
        self.last_t = max(self.last_t, float(pc.max(table.column("t")).as_py()))
        steps = table.filter(pc.equal(kind, pa.scalar("step")))
        if steps.num_rows:
            self._redo(steps.column("step").to_numpy())
            self.last_step = int(steps.column("step")[-1].as_py())
            self.last_epoch = int(steps.column("epoch")[-1].as_py())
            self.last_loss = float(steps.column("loss")[-1].as_py())
            self.last_reward = steps.column("reward")[-1].as_py()
        incidents = table.filter(pc.equal(kind, pa.scalar("incident")))
        if incidents.num_rows:
            restarts = incidents.filter(pc.equal(incidents.column("op"), pa.scalar("restart")))
            self.restarts += restarts.num_rows
            self.lost_s += float(pc.sum(restarts.column("elapsed")).as_py() or 0.0)
        out = table.filter(pc.is_in(kind, value_set=pa.array(["shard", "file"])))
        if out.num_rows:
            self.export_bytes += int(pc.sum(out.column("size_bytes")).as_py())

    def take_telemetry(self, tele: Telemetry) -> None:
        """The telemetry figures, which the sampler totals as it makes every written sample."""
        self.peak_mem = tele.peak_mem
        self.util_sum, self.util_count = tele.train_util_sum, tele.train_util_count

    def _redo(self, steps: np.ndarray) -> None:
        """Count the steps done again (at or below a step reached before them)."""
        reached = np.maximum.accumulate(np.concatenate([[self.top_step], steps[:-1]]))
        self.redone += int((steps <= reached).sum())
        self.top_step = max(self.top_step, int(steps.max()))


def events(plan: RunPlan, agg: Aggregates, t: float) -> Rows:
    """The summary row at `t`, the last of the job's story (the export has been written; the
    launcher's closing lines are the shell's, phases/shell.py)."""
    rows = Rows()
    rows.phase(t, "summary", "Summary")
    util = agg.util_sum / agg.util_count if agg.util_count else 0.0
    rows.add(
        t,
        "summary",
        "summary",
        elapsed=t,
        epoch=agg.last_epoch,
        step=agg.last_step,
        loss=agg.last_loss,
        # DPO's and RL's losses are no language-model losses: no perplexity
        ppl=math.exp(agg.last_loss) if plan.config.kind not in ("dpo", "grpo") else None,
        reward=agg.last_reward,
        avg_gpu_util=util,
        peak_mem_mib=agg.peak_mem,
        path=f"{plan.config.output_dir}/final/",
        size_bytes=agg.export_bytes,
        restarts=agg.restarts,
        redone=agg.redone,
        lost_s=agg.lost_s,
        skipped=0,
    )
    return rows
