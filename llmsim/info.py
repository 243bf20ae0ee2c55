"""`llmsim info`: what a trace holds — config, phase timings, steps, final loss, summary, sparkline.

The work (`describe`) returns plain data; printing it as text (`to_text`) or as versioned JSON
(`to_json`, several traces in one document) is separate.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from llmsim.sanitize import clean_name
from llmsim.trace import open_trace

_SPARKS = "▁▂▃▄▅▆▇█"
# Version of the --json layout. 1: one trace's report as the document. 2: {"format": 2,
# "traces": [report, ...]} so that `llmsim info runs/*.parquet --json` is one document.
INFO_FORMAT = 2


def describe(path: Path, *, spark_width: int = 48) -> dict[str, Any]:
    """Read a whole trace (validated) and summarise it as JSON-ready data."""
    trace = open_trace(path)
    table = trace.read_table()
    cfg = trace.config
    kinds = table.column("kind").cast(pa.string())

    def of_kind(kind: str) -> pa.Table:
        return table.filter(pc.equal(kinds, pa.scalar(kind)))

    end = float(table.column("t")[-1].as_py())
    steps = of_kind("step")
    losses = [float(v) for v in steps.column("loss").to_pylist() if v is not None]
    summary_rows = of_kind("summary").to_pylist()
    summary = summary_rows[-1] if summary_rows else None

    phase_rows = of_kind("phase")
    starts = [float(v) for v in phase_rows.column("t").to_pylist() if v is not None]
    names = [str(v) for v in phase_rows.column("phase").cast(pa.string()).to_pylist()]
    durations: dict[str, float] = {}
    for i, (name, start) in enumerate(zip(names, starts, strict=True)):
        stop = starts[i + 1] if i + 1 < len(starts) else end
        durations[name] = round(durations.get(name, 0.0) + (stop - start), 3)

    evals = of_kind("eval")
    levels = table.column("level").cast(pa.string())
    config = dataclasses.asdict(cfg)
    config.pop("hostnames")
    config["hostnames_first"] = list(cfg.hostnames[:4])
    return {
        "path": str(path),
        "schema_version": trace.version,
        "rows": table.num_rows,
        "duration_s": round(end, 3),
        "config": config,
        "phases_s": durations,
        "steps": len(losses),
        "first_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None,
        "final_ppl": steps.column("ppl").to_pylist()[-1] if losses else None,
        "best_val_loss": pc.min(evals.column("val_loss")).as_py() if evals.num_rows else None,
        "evals": evals.num_rows,
        "checkpoints": of_kind("checkpoint").num_rows,
        "warnings": table.filter(pc.equal(levels, pa.scalar("WARNING"))).num_rows,
        "summary": _summary(summary),
        "loss_sparkline": sparkline(losses, spark_width),
    }


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
        "avg_gpu_util_pct": row["avg_gpu_util"],
        "peak_mem_mib": row["peak_mem_mib"],
        "output_path": row["path"],
        "total_size_bytes": row["size_bytes"],
    }


def sparkline(values: list[float], width: int) -> str:
    """Bucket means of `values` drawn with block glyphs (lowest ▁, highest █)."""
    if not values or width <= 0:
        return ""
    n = len(values)
    buckets = min(width, n)
    means = []
    for b in range(buckets):
        lo, hi = b * n // buckets, (b + 1) * n // buckets
        chunk = values[lo:hi]
        means.append(sum(chunk) / len(chunk))
    vmin, vmax = min(means), max(means)
    span = vmax - vmin
    if span <= 0 or not math.isfinite(span):
        return _SPARKS[0] * buckets
    top = len(_SPARKS) - 1
    return "".join(_SPARKS[round((v - vmin) / span * top)] for v in means)


def to_text(info: dict[str, Any]) -> str:
    """Human-readable multi-line report. Strings from the trace are made inert for a terminal."""
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
        f"  cluster    {c['gpus']} x {c['gpu']}  ({c['nodes']} nodes; tp {c['tp']} pp {c['pp']} "
        f"dp {c['dp']}; {c['strategy']})",
        f"  batch      {c['global_batch']} x {c['seq_len']} = {c['global_batch_tokens']:,} tokens/step; "
        f"lr {c['lr_peak']:.2e} {c['schedule']}, warm-up {c['warmup_steps']}",
        f"  schedule   {c['epochs']} epoch(s) x {c['steps_per_epoch']:,} steps = {c['total_steps']:,}"
        + (f"; this window resumes after step {c['resume_step']:,}" if c["resume_step"] else ""),
        "  phases     " + ", ".join(f"{k} {v:.0f}s" for k, v in info["phases_s"].items()),
        f"  duration   {info['duration_s']:.0f} s simulated",
    ]
    if info["steps"]:
        lines.append(
            f"  loss       {info['first_loss']:.4f} -> {info['final_loss']:.4f} "
            f"(ppl {_fmt(info['final_ppl'], '.2f')})  {info['loss_sparkline']}"
        )
    lines.append(
        f"  events     {info['evals']} evals, {info['checkpoints']} checkpoints, "
        f"{info['warnings']} warnings"
    )
    if s:
        lines.append(
            f"  summary    {_fmt(s['total_time_s'], '.0f')} s, {_fmt(s['epochs'], '')} epochs, "
            f"{_fmt(s['steps'], ',')} steps, loss {_fmt(s['final_loss'], '.4f')}, "
            f"ppl {_fmt(s['final_ppl'], '.2f')}, util {_fmt(s['avg_gpu_util_pct'], '.1f')}%, "
            f"peak mem {_fmt(s['peak_mem_mib'], '.0f')} MiB, {_fmt(s['total_size_bytes'], ',')} B "
            f"in {s['output_path']}"
        )
    return "\n".join(lines)


def _stack_name(stack: str) -> str:
    from llmsim.trace.vocab import STACK_NAMES

    for key, name in STACK_NAMES.items():
        if key == stack:
            return name
    return stack


def _fmt(value: Any, spec: str) -> str:
    """A summary figure, or '?' where the trace left it null (every column but t is nullable)."""
    return "?" if value is None else format(value, spec)
