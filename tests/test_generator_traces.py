"""REALISM identities on whole traces (real Parquet files read back through the reader).

A dozen runs chosen to cover every stack, one GPU and thousands, A100 and H100, fresh
fine-tunes over several epochs and resumed pretraining windows, with and without incidents.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from llmsim.generator import GenerateOptions, RunPlan, plan_run, write_trace
from llmsim.generator.phases.telemetry import TEMP_WARN, stage_of_rank
from llmsim.generator.plan.schedule import lr_at
from llmsim.trace import open_trace
from llmsim.trace.vocab import Health

CASES = [
    GenerateOptions(
        seed=101,
        stack="hf",
        model="Llama-3-8B",
        gpus=8,
        kind="finetune",
        epochs=3,
        steps_per_epoch=40,
        incidents="often",
    ),
    GenerateOptions(
        seed=102, stack="hf-deepspeed", gpus=64, kind="finetune", epochs=2, steps_per_epoch=60
    ),
    GenerateOptions(
        seed=103,
        stack="hf",
        gpus=1,
        kind="pretrain",
        steps_per_epoch=80,
        gpu_type="A100",
        incidents="often",
    ),
    GenerateOptions(
        seed=104,
        stack="megatron",
        model="Llama-3-70B",
        gpus=512,
        steps_per_epoch=60,
        incidents="often",
    ),
    GenerateOptions(seed=105, stack="megatron", gpus=16, gpu_type="A100", steps_per_epoch=120),
    GenerateOptions(
        seed=106,
        stack="torchtitan",
        model="Llama-3-8B",
        gpus=8,
        steps_per_epoch=150,
        incidents="often",
    ),
    GenerateOptions(
        seed=107, stack="torchtitan", model="Llama-3.1-405B", gpus=2048, steps_per_epoch=20
    ),
    GenerateOptions(
        seed=108,
        stack="hf-deepspeed",
        gpus=256,
        kind="pretrain",
        steps_per_epoch=50,
        incidents="none",
    ),
    GenerateOptions(seed=109),  # everything drawn: the default run
    GenerateOptions(seed=110, incidents="often"),
]


@dataclass
class Run:
    plan: RunPlan
    table: pa.Table

    def kind(self, kind: str) -> pa.Table:
        return self.table.filter(pc.equal(self.table.column("kind"), pa.scalar(kind)))

    def col(self, kind: str, name: str) -> np.ndarray:
        return self.kind(kind).column(name).to_numpy(zero_copy_only=False)

    def disturbed(self) -> list[tuple[float, float]]:
        """Spans of time a failure (until training resumes) or a stall took from training."""
        rows = self.kind("incident").to_pylist()
        step_t = self.col("step", "t")
        out = []
        for r in rows:
            if r["op"] in ("rank_failure", "dataloader_stall"):
                out.append((r["t"], r["t"] + r["elapsed"]))
            elif r["op"] == "restart":
                out.append((r["t"], float(step_t[step_t > r["t"]][0])))
        return out

    def attempts(self) -> list[np.ndarray]:
        """Indices of the step rows of each launch of the job (a restart goes back)."""
        step = self.col("step", "step").astype(np.int64)
        cuts = np.flatnonzero(np.diff(step) <= 0) + 1
        return np.split(np.arange(len(step)), cuts)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Run]:
    base = tmp_path_factory.mktemp("traces")
    out = []
    for i, options in enumerate(CASES):
        plan = plan_run(options)
        path = base / f"run{i}.parquet"
        write_trace(plan, path)
        trace = open_trace(path)  # every row group validated by the reader
        assert trace.config == plan.config
        out.append(Run(plan, trace.read_table()))
    return out


def test_rows_are_sorted_and_framed(runs: list[Run]) -> None:
    for run in runs:
        t = run.table.column("t").to_numpy()
        assert (np.diff(t) >= 0).all()
        rows = run.table.select(["kind", "phase", "op"]).to_pylist()
        # the shell's prompt opens the run (trace 2.4) and is left open at its end, after the
        # summary that closes the job's story (tests/test_generator_terminal.py has the rest)
        assert rows[0] == {"kind": "shell", "phase": "init", "op": "prompt"}
        assert rows[1]["kind"] == "phase" and rows[1]["phase"] == "init"
        assert rows[-1]["kind"] == "shell" and rows[-1]["op"] == "prompt"
        assert [r["kind"] for r in rows].count("summary") == 1
        phases = set(run.col("phase", "phase"))
        wanted = {"init", "train", "eval", "checkpoint", "export", "summary"}
        if run.plan.config.eval_interval > run.plan.config.total_steps:
            wanted.discard("eval")  # a run that never validates (TRL's GRPO)
        assert wanted <= phases


def test_no_log_text_carries_a_clock_of_its_own(runs: list[Run]) -> None:
    """Every wall-clock time on screen is the player's stamp: a date written into a log text
    would disagree with the stamps around it as soon as the run plays at another time."""
    date = re.compile(r"20\d\d[-/]\d\d[-/]\d\d|\d\d/\d\d/20\d\d|\b[IWEF]\d{4} \d\d:\d\d:")
    for run in runs:
        logs = run.table.filter(pc.equal(run.table.column("kind"), pa.scalar("log")))
        texts = [t for t in logs.column("text").to_pylist() if t and date.search(t)]
        assert texts == [], texts[:3]


def test_steps_identities(runs: list[Run]) -> None:
    for run in runs:
        c, th = run.plan.config, run.plan.fit.throughput
        step = run.col("step", "step").astype(np.int64)
        parts = run.attempts()
        assert step[0] == c.resume_step + 1 and step[-1] == c.total_steps
        for part in parts:  # each launch counts up by one; a relaunch starts after a save
            assert (np.diff(step[part]) == 1).all()
        saved = set(run.col("checkpoint", "step")) | {c.resume_step}
        assert all(int(step[part[0]]) - 1 in saved for part in parts[1:])
        loss = run.col("step", "loss")
        if c.kind in ("dpo", "grpo"):  # no perplexity: a preference or policy loss
            assert np.isnan(run.col("step", "ppl").astype(np.float64)).all()
        else:
            np.testing.assert_allclose(run.col("step", "ppl"), np.exp(loss), rtol=1e-12)
        tps, st = run.col("step", "tokens_per_s"), run.col("step", "step_time")
        tokens = run.col("step", "tokens")
        per_step: Any = c.global_batch_tokens
        if c.kind == "grpo":  # the tokens each step counted (its prompts and completions)
            by_step = dict(zip(step.tolist(), tokens.tolist(), strict=True))
            per_step = np.array(
                [t - by_step.get(s - 1, 0) for s, t in zip(step, tokens, strict=True)]
            )
        else:
            assert (tokens == step * c.global_batch_tokens).all()
        np.testing.assert_allclose(tps * st, per_step, rtol=1e-9)
        mfu = run.col("step", "mfu").astype(np.float64)
        tflops = run.col("step", "tflops").astype(np.float64)
        np.testing.assert_allclose(tflops, mfu * c.gpu_peak_tflops, rtol=1e-5)
        np.testing.assert_allclose(
            mfu, th.flops_per_token * tps / (c.gpus * c.gpu_peak_tflops * 1e12), rtol=1e-5
        )
        lr = lr_at(c.warmup_steps, c.total_steps, c.lr_peak, c.lr_min, step)
        np.testing.assert_allclose(run.col("step", "lr"), lr, rtol=1e-9)
        assert (run.col("step", "samples") == step * c.global_batch).all()
        elapsed = run.col("step", "elapsed")
        assert (np.diff(elapsed) > 0).all() and elapsed[-1] >= st.sum() - 1e-6
        assert run.col("step", "eta")[-1] == 0.0


def test_first_steps_are_slower_and_pauses_cost_a_little(runs: list[Run]) -> None:
    for run in runs:
        st, step = run.col("step", "step_time"), run.col("step", "step")
        mean = run.plan.fit.throughput.step_s
        for part in run.attempts():  # compilation, NCCL and allocator warm-up of each launch
            assert st[part[0]] > mean
        calm = np.ones(len(st), dtype=bool)
        for e in run.plan.episodes:
            calm &= (step < e.first_step) | (step > e.last_step)
        assert np.median(st[calm]) == pytest.approx(mean, rel=0.08)


def test_slowdowns_happen_during_episodes_only(runs: list[Run]) -> None:
    seen = 0
    for run in runs:
        plan, c = run.plan, run.plan.config
        step, st = run.col("step", "step"), run.col("step", "step_time")
        calm = np.ones(len(step), dtype=bool)
        for e in plan.episodes:
            seen += 1
            calm &= (step < e.first_step) | (step > e.last_step)
            inside = (step >= e.slow_from) & (step <= e.last_step)  # a hot GPU heats up first
            ratio = np.median(st[inside]) / plan.fit.throughput.step_s
            assert ratio > 1 + 0.6 * e.slowdown, (c.name, e)
            incidents = run.kind("incident").to_pylist()
            assert any(r["op"] == e.kind and r["rank"] == e.gpu for r in incidents)
        for part in run.attempts():  # after each launch's warm-up window
            calm[part] &= step[part] > step[part[0]] + c.log_interval
        for fault in plan.incidents.transients:  # a stalled batch slows its window
            if fault.kind == "dataloader_stall":
                calm &= (step - 1) // c.log_interval != (fault.step - 1) // c.log_interval
        pauses = np.isin(step - 1, run.col("eval", "step")) | np.isin(
            step - 1, run.col("checkpoint", "step")
        )
        calm &= ~np.isin((step - 1) // c.log_interval, ((step[pauses] - 1) // c.log_interval))
        if calm.any():
            assert np.max(st[calm]) < plan.fit.throughput.step_s * 1.25 + 3.0  # GC/profiler
    assert seen >= 2


def test_telemetry_follows_the_memory_model_and_the_episodes(runs: list[Run]) -> None:
    for run in runs:
        plan, c = run.plan, run.plan.config
        tele = run.kind("telemetry")
        train = tele.filter(pc.equal(tele.column("phase"), pa.scalar("train")))
        mem = np.array(train.column("gpu_mem").to_pylist())
        expect = np.array([plan.fit.memory.smi_mib(s) for s in stage_of_rank(plan)])
        assert np.all(mem <= c.gpu_memory_mib)
        health = np.array(train.column("gpu_health").to_pylist())
        reading = np.where(health == int(Health.LOST), np.nan, mem)  # a lost GPU reads nothing
        np.testing.assert_allclose(np.nanmedian(reading, axis=0), expect, rtol=0.015)
        temp = np.array(train.column("gpu_temp").to_pylist())
        assert ((temp >= TEMP_WARN) <= (health >= 1)).all()  # a hot GPU is flagged
        for e in plan.episodes:
            assert health[:, e.gpu].max() >= 1 or len(mem) < 3, (c.name, e)


def test_eval_power_follows_its_flop_rate(runs: list[Run]) -> None:
    for run in runs:
        tele = run.kind("telemetry")
        phase = tele.column("phase").to_pylist()
        power = np.array(tele.column("gpu_power").to_pylist()).mean(axis=1)
        util = np.array(tele.column("gpu_util").to_pylist()).mean(axis=1)
        t = tele.column("t").to_numpy()
        calm = np.ones(len(t), dtype=bool)
        for a, b in run.disturbed():
            calm &= (t < a) | (t > b)
        ev = np.array([p == "eval" for p in phase])
        tr = np.array([p == "train" for p in phase]) & calm
        if ev.sum() < 2:
            continue
        idle = run.plan.choice.gpu.idle_w
        p_ratio = (power[ev].mean() - idle) / (power[tr].mean() - idle)
        u_ratio = util[ev].mean() / util[tr].mean()
        assert 0.6 < p_ratio <= 1.02 and abs(p_ratio - u_ratio) < 0.2


def test_validation_tracks_training(runs: list[Run]) -> None:
    for run in runs:
        c = run.plan.config
        val, train = run.col("eval", "val_loss"), run.col("eval", "loss")
        np.testing.assert_allclose(run.col("eval", "val_ppl"), np.exp(val), rtol=1e-12)
        ratio = val / train
        if c.kind == "pretrain":  # single epoch: the model has not seen this data either
            steps, losses = run.col("step", "step"), run.col("step", "loss")
            for at, v in zip(run.col("eval", "step"), val, strict=True):
                if any(sp.step <= at <= sp.step + sp.recover for sp in run.plan.loss.spikes):
                    continue  # a spiking model validates high too; its recent mean lags
                recent = losses[(steps > at - 10) & (steps <= at)].mean()  # as a reader sees it
                assert abs(v / recent - 1) < 0.05, (c.name, at, v, recent)
        else:
            assert np.all((ratio >= 1.0) & (ratio <= 1.16)), (c.name, ratio)
            assert (run.col("eval", "patience") < c.patience_limit).all()


def test_storage_speeds_are_physical(runs: list[Run]) -> None:
    for run in runs:
        c = run.plan.config
        size, took = run.col("checkpoint", "size_bytes"), run.col("checkpoint", "elapsed")
        speed = size / took / 1e9
        assert np.all(speed <= min(6.0 * c.nodes, 100.0))
        shard_t = run.col("shard", "t")
        shard_b = run.col("shard", "size_bytes")
        if len(shard_t) > 1:
            assert np.all(shard_b[1:] / np.diff(shard_t) / 1e9 <= 5.0)
        # every parameter once, in the dtype the stack's converter writes (bf16 or fp32)
        assert shard_b.sum() == run.plan.profile.export_form.dtype_bytes * c.params


def test_summary_equals_the_events(runs: list[Run]) -> None:
    for run in runs:
        s = run.kind("summary").to_pylist()[0]
        steps = run.kind("step")
        assert s["step"] == steps.column("step")[-1].as_py()
        assert s["loss"] == steps.column("loss")[-1].as_py()
        if run.plan.config.kind in ("dpo", "grpo"):  # no perplexity: the last reward instead
            assert s["ppl"] is None
            assert s["reward"] == steps.column("reward")[-1].as_py()
        else:
            assert s["ppl"] == pytest.approx(math.exp(s["loss"]))
        tele = run.kind("telemetry")
        peak = max(max(v or [0.0]) for v in tele.column("gpu_mem").to_pylist())
        assert s["peak_mem_mib"] == pytest.approx(peak)
        out = int(pc.sum(run.kind("shard").column("size_bytes")).as_py())
        out += int(pc.sum(run.kind("file").column("size_bytes")).as_py() or 0)  # merge: none
        assert s["size_bytes"] == out


def test_runs_differ_in_utilisation(runs: list[Run]) -> None:
    util = [run.kind("summary").column("avg_gpu_util")[0].as_py() for run in runs]
    assert np.std(util) > 0.3 and max(util) < 99.9


_NVML = re.compile(r"(Mn|Mx)(Pwr|Tmp|Utl|Clk)/Rnk: ([0-9.]+)(?:W|C|%|MHz)/(\d+)")


def test_straggler_reports_read_the_gpus_telemetry(runs: list[Run]) -> None:
    """Megatron's StragglerDetector reads NVML on every rank at the report: its extremes are
    the extremes of what nvidia-smi shows at that moment, at the ranks that show them."""
    columns = {"Pwr": "gpu_power", "Tmp": "gpu_temp", "Utl": "gpu_util", "Clk": "gpu_clock"}
    checked = 0
    for run in runs:
        logs = run.kind("log")
        times, texts = logs.column("t").to_numpy(), logs.column("text").to_pylist()
        reports = [
            (float(t), x) for t, x in zip(times, texts, strict=True) if x and "MnPwr/Rnk" in x
        ]
        if not reports:
            continue
        tele = run.kind("telemetry")
        tele_t = tele.column("t").to_numpy()
        for t, text in reports:
            row = max(0, int(np.searchsorted(tele_t, t, side="right")) - 1)
            for side, name, value, rank in _NVML.findall(text):
                readings = np.asarray(tele.column(columns[name])[row].as_py(), dtype=np.float64)
                shown = float(value) / 1000 if name == "Pwr" else float(value)  # mW said W
                extreme = readings.min() if side == "Mn" else readings.max()
                assert abs(shown - extreme) <= 0.5, (run.plan.config.name, t, side, name)
                assert abs(readings[int(rank)] - extreme) <= 0.5  # the rank that shows it
                if name != "Pwr":
                    assert float(value).is_integer()  # NVML reads whole units
            checked += 1
    assert checked >= 10
