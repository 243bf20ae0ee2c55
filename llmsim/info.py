"""`llmsim info`: what a trace holds — config, phase timings, steps, final loss, summary, sparkline.

The work (`describe`) returns plain data; printing it as text (`to_text`) or as versioned JSON
(`to_json`, several traces in one document) is separate. A trace is read as a stream, batch by
batch, keeping only running figures (counts, the last phase, the last summary, the loss
sparkline's bucket sums), so memory does not grow with the trace: one pass validates and
counts, a second reads only the losses into as many buckets as the sparkline has bars.
"""

from __future__ import annotations

import dataclasses
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from llmsim.sanitize import clean_name
from llmsim.trace import TraceFile, open_trace
from llmsim.trace.vocab import STACK_NAMES, Stack
from llmsim.units import format_clock, sparkline

_SPARKS = "▁▂▃▄▅▆▇█"
# Version of the --json layout. 1: one trace's report as the document. 2: {"format": 2,
# "traces": [report, ...]} so that `llmsim info runs/*.parquet --json` is one document.
INFO_FORMAT = 2
MAX_INCIDENTS = 200  # incidents listed per trace (more are counted): memory stays bounded
TEXT_INCIDENTS = 12  # incidents the text report lists before "… and N more"


@dataclass
class _Tally:
    """Running figures of one pass over a trace."""

    rows: int = 0
    end: float = 0.0
    steps: int = 0  # step rows with a loss
    first_loss: float | None = None
    final_loss: float | None = None
    final_ppl: float | None = None  # of the last step row
    best_val: float | None = None
    evals: int = 0
    checkpoints: int = 0
    warnings: int = 0
    summary: dict[str, Any] | None = None
    phase: tuple[str, float] | None = None  # the phase in progress and its start
    durations: dict[str, float] = field(default_factory=dict)
    incidents: list[dict[str, Any]] = field(default_factory=list)  # the first MAX_INCIDENTS
    incident_count: int = 0

    def add(self, rb: pa.RecordBatch) -> None:
        """Count one validated batch in."""
        self.rows += rb.num_rows
        self.end = float(rb.column("t")[-1].as_py()) if rb.num_rows else self.end
        kinds = rb.column("kind").cast(pa.string())
        self._steps(rb.filter(pc.equal(kinds, pa.scalar("step"))))
        evals = rb.filter(pc.equal(kinds, pa.scalar("eval")))
        self.evals += evals.num_rows
        best = pc.min(evals.column("val_loss")).as_py()
        if best is not None and (self.best_val is None or best < self.best_val):
            self.best_val = best
        self.checkpoints += rb.filter(pc.equal(kinds, pa.scalar("checkpoint"))).num_rows
        levels = rb.column("level").cast(pa.string())
        self.warnings += rb.filter(pc.equal(levels, pa.scalar("WARNING"))).num_rows
        summaries = rb.filter(pc.equal(kinds, pa.scalar("summary")))
        if summaries.num_rows:
            self.summary = summaries.slice(summaries.num_rows - 1).to_pylist()[0]
        self._incidents(rb.filter(pc.equal(kinds, pa.scalar("incident"))))
        phases = rb.filter(pc.equal(kinds, pa.scalar("phase")))
        names = phases.column("phase").cast(pa.string()).to_pylist()
        starts = phases.column("t").to_numpy().tolist()  # never null: the reader checked
        for name, start in zip(names, starts, strict=True):
            self._close_phase(start)
            self.phase = (str(name), float(start))

    def _steps(self, steps: pa.RecordBatch) -> None:
        if not steps.num_rows:
            return
        self.final_ppl = steps.column("ppl")[-1].as_py()
        losses = steps.column("loss").drop_null()
        if len(losses):
            self.steps += len(losses)
            if self.first_loss is None:
                self.first_loss = float(losses[0].as_py())
            self.final_loss = float(losses[-1].as_py())

    def _incidents(self, rows: pa.RecordBatch) -> None:
        self.incident_count += rows.num_rows
        room = MAX_INCIDENTS - len(self.incidents)
        if room <= 0 or not rows.num_rows:
            return
        keep = rows.slice(0, room).select(["t", "op", "text", "step", "rank", "elapsed", "path"])
        for row in keep.to_pylist():
            self.incidents.append(
                {
                    "t_s": round(float(row["t"]), 3),
                    "kind": row["op"],
                    "label": row["text"],
                    "step": row["step"],
                    "rank": row["rank"],
                    "duration_s": None if row["elapsed"] is None else round(row["elapsed"], 3),
                    "new_host": row["path"],
                }
            )

    def _close_phase(self, stop: float) -> None:
        if self.phase is not None:
            name, start = self.phase
            self.durations[name] = round(self.durations.get(name, 0.0) + (stop - start), 3)

    def finish(self) -> None:
        """The last phase lasts until the last row."""
        self._close_phase(self.end)
        self.phase = None


def describe(path: Path, *, spark_width: int = 48) -> dict[str, Any]:
    """Read a whole trace (validated, streaming) and summarise it as JSON-ready data."""
    trace = open_trace(path)
    try:
        tally = _Tally()
        for rb in trace.batches():
            tally.add(rb)
        tally.finish()
        spark = _loss_sparkline(trace, tally.steps, spark_width)
    finally:
        trace.close()
    cfg = trace.config
    config = dataclasses.asdict(cfg)
    config.pop("hostnames")
    config["hostnames_first"] = list(cfg.hostnames[:4])
    return {
        "path": str(path),
        "schema_version": trace.version,
        "rows": tally.rows,
        "duration_s": round(tally.end, 3),
        "config": config,
        "phases_s": tally.durations,
        "steps": tally.steps,
        "first_loss": tally.first_loss,
        "final_loss": tally.final_loss,
        "final_ppl": tally.final_ppl if tally.steps else None,
        "best_val_loss": tally.best_val,
        "evals": tally.evals,
        "checkpoints": tally.checkpoints,
        "warnings": tally.warnings,
        "summary": _summary(tally.summary),
        "incidents": tally.incidents,
        "incidents_total": tally.incident_count,
        "loss_sparkline": spark,
    }


def _loss_sparkline(trace: TraceFile, count: int, width: int) -> str:
    """The sparkline of the `count` step losses, summed into its buckets as they stream by."""
    buckets = min(width, count)
    if buckets <= 0:
        return ""
    sums = np.zeros(buckets)
    sizes = np.zeros(buckets)
    seen = 0
    for rb in trace.batches(("loss",)):
        steps = rb.filter(pc.equal(rb.column("kind").cast(pa.string()), pa.scalar("step")))
        losses = steps.column("loss").drop_null().to_numpy(zero_copy_only=False)
        # Value i of n goes to bucket b with b*n//B <= i < (b+1)*n//B, as `sparkline` cuts.
        index = np.arange(seen + 1, seen + 1 + len(losses), dtype=np.int64)
        bucket = (index * buckets + count - 1) // count - 1
        sums += np.bincount(bucket, weights=losses, minlength=buckets)
        sizes += np.bincount(bucket, minlength=buckets)
        seen += len(losses)
    return sparkline((sums / np.maximum(sizes, 1)).tolist(), _SPARKS)


def to_json(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The `--json` document for any number of traces' reports."""
    return {"format": INFO_FORMAT, "traces": reports}


def _summary(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "total_time_s": row["elapsed"],
        "epochs": row["epoch"],
        "steps": row["step"],
        "final_loss": row["loss"],
        "final_ppl": row["ppl"],
        "final_reward": row.get("reward"),
        "avg_gpu_util_pct": row["avg_gpu_util"],
        "peak_mem_mib": row["peak_mem_mib"],
        "output_path": row["path"],
        "total_size_bytes": row["size_bytes"],
        "restarts": row["restarts"],
        "steps_redone": row["redone"],
        "time_lost_s": row["lost_s"],
        "skipped_iterations": row["skipped"],
    }


VALUE_COLUMN: Final = 13  # where the values start: "  incidents  " is the longest label


def to_text(info: dict[str, Any], width: int | None = None) -> str:
    """Human-readable multi-line report. Strings from the trace are made inert for a terminal.
    With `width`, a longer line is wrapped under its value (a terminal of that many columns)."""
    lines = _text_lines(info)
    if width is None:
        return "\n".join(lines)
    return "\n".join(part for line in lines for part in _fit(line, width))


def _fit(line: str, width: int) -> list[str]:
    if len(line) <= width:
        return [line]
    indent = " " * (VALUE_COLUMN if line.startswith("  ") else 2)
    return textwrap.wrap(line, width, subsequent_indent=indent, break_on_hyphens=False)


def _text_lines(info: dict[str, Any]) -> list[str]:
    c = {k: clean_name(v) if isinstance(v, str) else v for k, v in info["config"].items()}
    s = info["summary"]
    if s:
        s = {**s, "output_path": clean_name(str(s["output_path"] or "?"))}
    lines = [
        f"{clean_name(info['path'])}  (trace v{info['schema_version']}, {info['rows']:,} rows)",
        f"  run        {c['name']}  ({c['kind']}, seed {c['seed']}, incidents {c['incidents']})",
        f"  stack      {_stack_name(c['stack'])} ({c['stack']} {c['stack_version']}), launched "
        f"by {c['launcher']}; torch {c['torch_version']}, CUDA {c['cuda_version']}, "
        f"NCCL {c['nccl_version']}",
        f"  model      {c['model']}  {c['params']:,} params  "
        f"({c['layers']} layers, hidden {c['hidden']}, {c['heads']} heads, vocab {c['vocab']:,})",
        f"  cluster    {c['gpus']} x {c['gpu']}  ({c['nodes']} node{'s' if c['nodes'] != 1 else ''}; "
        f"tp {c['tp']} pp {c['pp']} "
        f"dp {c['dp']}; {c['strategy']})",
        f"  batch      {c['global_batch']} x {c['seq_len']} = {c['global_batch_tokens']:,} tokens/step; "
        f"lr {c['lr_peak']:.2e} {c['schedule']}, warm-up {c['warmup_steps']}",
        f"  schedule   {c['epochs']} epoch{'s' if c['epochs'] != 1 else ''} x {c['steps_per_epoch']:,} steps = {c['total_steps']:,}"
        + (f"; this window resumes after step {c['resume_step']:,}" if c["resume_step"] else ""),
        "  phases     " + ", ".join(f"{k} {v:.0f}s" for k, v in info["phases_s"].items()),
        f"  duration   {info['duration_s']:.0f} s simulated",
    ]
    if c.get("adapter", "none") != "none":
        trainable = int(c["trainable_params"])
        total = int(c["params"]) + trainable
        kind = "QLoRA (4-bit NF4 base)" if c["adapter"] == "qlora" else "LoRA (bf16 base)"
        lines.append(
            f"  trains     {kind} r={c['lora_rank']} alpha={c['lora_alpha']}: {trainable:,} of "
            f"{total:,} parameters ({100 * trainable / total:.4f}%)"
        )
    # DPO's and GRPO's losses are no language-model loss: they have no perplexity to show
    no_ppl = c.get("kind") in ("dpo", "grpo")
    if info["steps"]:
        ppl = "" if no_ppl else f"(ppl {_fmt(info['final_ppl'], '.2f')})  "
        lines.append(
            f"  loss       {info['first_loss']:.4f} -> {info['final_loss']:.4f} "
            f"{ppl}{info['loss_sparkline']}"
        )
    lines.append(
        f"  events     {info['evals']} evals, {info['checkpoints']} checkpoints, "
        f"{info['warnings']} warnings"
    )
    lines += _incident_lines(info)
    if s:
        lines.append(
            f"  summary    {_fmt(s['total_time_s'], '.0f')} s, {_fmt(s['epochs'], '')} epochs, "
            f"{_fmt(s['steps'], ',')} steps, loss {_fmt(s['final_loss'], '.4f')}, "
            + ("" if no_ppl else f"ppl {_fmt(s['final_ppl'], '.2f')}, ")
            + (f"reward {s['final_reward']:.4f}, " if s.get("final_reward") is not None else "")
            + f"util {_fmt(s['avg_gpu_util_pct'], '.1f')}%, "
            f"peak mem {_fmt(s['peak_mem_mib'], '.0f')} MiB, {_fmt(s['total_size_bytes'], ',')} B "
            f"in {s['output_path']}"
        )
        if s["restarts"]:
            lines.append(
                f"  restarts   {s['restarts']}: {_fmt(s['steps_redone'], ',')} steps redone, "
                f"{format_clock(s['time_lost_s'] or 0.0)} lost"
            )
    return lines


def _incident_lines(info: dict[str, Any]) -> list[str]:
    """`  incidents  09:21 Rank 9 lost (…)` — one line each, at their trace times."""
    listed = info["incidents"][:TEXT_INCIDENTS]
    out = []
    for i, inc in enumerate(listed):
        head = "  incidents  " if i == 0 else "             "
        extra = f" (on {clean_name(inc['new_host'])})" if inc["new_host"] else ""
        label = clean_name(inc["label"] or inc["kind"] or "incident")
        out.append(f"{head}{format_clock(inc['t_s'])} {label}{extra}")
    more = info["incidents_total"] - len(listed)
    if more > 0:
        out.append(f"             … and {more:,} more")
    return out


def _stack_name(stack: str) -> str:
    return STACK_NAMES.get(cast(Stack, stack), stack)  # an unknown stack shows as it is


def _fmt(value: Any, spec: str) -> str:
    """A summary figure, or '?' where the trace left it null (every column but t is nullable)."""
    return "?" if value is None else format(value, spec)
