"""Incidents and recovery over many seeds: what each incident does to the numbers after it.

Two levels, to stay cheap:
- plans of 100 seeds at `often` and `rare` (no rows written): where failures, spikes and faults
  are placed, and that `none` plans nothing;
- 40 short runs at `often` (16 GPUs, 15-20 minutes; rows built in memory by the generator's own
  `tables`, the reader's checks are exercised by the bundled traces and test_generator_traces):
  restarts resume from their checkpoint with its loss, LR and tokens; the steps since it appear
  twice; elapsed time carries the gap; the summary's totals equal the events; slowdowns and
  spikes show where they are planned; a lost GPU reads nothing while the job waits.
Rendered lines of every incident kind are matched against the real formats (stack_patterns).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from stack_patterns import rendered, unmatched

from llmsim.generator import GenerateOptions, GeneratorError, RunPlan, plan_run, write_trace
from llmsim.generator.phases.build import tables
from llmsim.generator.plan.schedule import lr_at
from llmsim.generator.stacks.registry import PROFILES
from llmsim.trace import open_trace
from llmsim.trace.vocab import STACKS, Health, IncidentRate

SEEDS = range(100)


def _plans(rate: str) -> list[RunPlan]:
    out = []
    for seed in SEEDS:
        try:
            out.append(plan_run(GenerateOptions(seed=seed, incidents=rate)))  # type: ignore[arg-type]
        except GeneratorError:
            continue
    return out


@pytest.fixture(scope="module")
def often() -> list[RunPlan]:
    return _plans("often")


def test_failures_restart_from_a_checkpoint_and_keep_clear_of_other_incidents(
    often: list[RunPlan],
) -> None:
    for p in often:
        c = p.config
        spans = p.incidents.redo_spans()
        for f in p.incidents.failures:
            saved = f.checkpoint == c.resume_step or f.checkpoint % c.checkpoint_interval == 0
            assert saved and f.checkpoint < f.step - 1 < c.total_steps, (c.name, f)
            assert 0 < f.gpu < c.gpus and f.timeout_s * 1000 in (100_000, 300_000)
        for a, b in spans:  # nothing else happens in the steps run twice
            assert not any(a - 1 <= e.last_step and e.first_step <= b + 1 for e in p.episodes)
            assert not any(a - 1 <= s.step <= b + 1 for s in p.loss.spikes)
            assert not any(a - 1 <= t.step <= b + 1 for t in p.incidents.transients)


def test_often_runs_of_every_stack_restart_and_spike(often: list[RunPlan]) -> None:
    for stack in STACKS:
        mine = [p for p in often if p.config.stack == stack and p.config.gpus > 1]
        relaunched = PROFILES[stack].rank_failures
        # verl runs only GRPO, drawn less often; its crash through Ray is not modelled
        assert len(mine) >= (10 if relaunched else 3), stack
        assert all(p.loss.spikes for p in mine), stack
        restarted = sum(bool(p.incidents.failures) for p in mine) / len(mine)
        assert restarted >= 0.8 if relaunched else restarted == 0, (stack, restarted)


def test_rare_runs_restart_about_one_in_three_and_none_never() -> None:
    rare = _plans("rare")
    share = sum(bool(p.incidents.failures) for p in rare) / len(rare)
    assert 0.2 <= share <= 0.45
    for p in _plans("none")[:40]:
        assert not (p.incidents.failures or p.incidents.transients or p.episodes)
        assert not p.loss.spikes


@dataclass
class Run:
    plan: RunPlan
    table: pa.Table

    def kind(self, kind: str) -> pa.Table:
        return self.table.filter(pc.equal(self.table.column("kind"), pa.scalar(kind)))

    def col(self, kind: str, name: str) -> np.ndarray:
        return self.kind(kind).column(name).to_numpy(zero_copy_only=False)

    def incidents(self, op: str) -> list[dict[str, object]]:
        return [r for r in self.kind("incident").to_pylist() if r["op"] == op]


def _short(seed: int) -> GenerateOptions:
    if seed % 5 == 4:
        return GenerateOptions(
            seed=seed,
            stack="torchtitan",
            model="Llama-3-8B",
            gpus=16,
            duration=1200.0,
            incidents="often",
        )
    # full training: the post-training kinds' incidents are tests/test_posttrain.py's (their
    # tokens, step times and losses follow their own rules)
    return GenerateOptions(
        seed=seed,
        model="Llama-3.2-1B",
        gpus=16,
        duration=900.0,
        incidents="often",
        kind=("pretrain", "finetune")[seed % 2],
    )


@pytest.fixture(scope="module")
def runs() -> list[Run]:
    out = []
    for seed in range(40):
        plan = plan_run(_short(seed))
        out.append(Run(plan, pa.concat_tables(list(tables(plan)))))
    assert sum(bool(r.plan.incidents.failures) for r in out) >= 25
    return out


def test_restarts_resume_from_the_checkpoint(runs: list[Run]) -> None:
    for run in runs:
        c = run.plan.config
        steps, t = run.col("step", "step").astype(np.int64), run.col("step", "t")
        loss, lr, tokens = run.col("step", "loss"), run.col("step", "lr"), run.col("step", "tokens")
        restarts = run.incidents("restart")
        assert len(restarts) == len(run.plan.incidents.failures)
        for r in restarts:
            first = int(np.flatnonzero(t > float(r["t"]))[0])  # type: ignore[arg-type]
            ckpt = int(r["step"])  # type: ignore[call-overload]
            assert steps[first] == ckpt + 1  # the step after the checkpoint's
            assert lr[first] == pytest.approx(
                float(lr_at(c.warmup_steps, c.total_steps, c.lr_peak, c.lr_min, ckpt + 1))
            )
            assert tokens[first] == (ckpt + 1) * c.global_batch_tokens
            before = steps[:first]
            again = np.isin(before, steps[first:]) & (before > ckpt)
            if again.any():  # loss continues from where it was at those steps, noise aside
                redo = np.isin(steps[first:], before[again])
                drift = abs(loss[:first][again].mean() - loss[first:][redo].mean())
                # two draws of the same curve (the redo draws its own noise): over a few
                # strongly correlated steps their means differ by ~sigma * sqrt(2); a resume
                # from the wrong point of the curve is off by far more
                assert drift < 4 * run.plan.loss.sigma * np.sqrt(2), (c.name, drift)


def test_steps_since_the_checkpoint_appear_twice(runs: list[Run]) -> None:
    for run in runs:
        steps = run.col("step", "step").astype(np.int64)
        counts = np.bincount(steps - steps.min())
        expect = np.ones_like(counts)
        for f in run.plan.incidents.failures:
            expect[f.checkpoint + 1 - steps.min() : f.step - steps.min()] += 1
        assert (counts == expect).all(), run.plan.config.name


def test_elapsed_time_carries_the_gap_and_the_summary_the_totals(runs: list[Run]) -> None:
    for run in runs:
        steps, elapsed = run.col("step", "step"), run.col("step", "elapsed")
        assert (np.diff(elapsed) > 0).all()
        s = run.kind("summary").to_pylist()[0]
        restarts = run.incidents("restart")
        failures = run.incidents("rank_failure")
        back = np.flatnonzero(np.diff(steps) <= 0)
        for i, f in zip(back, run.plan.incidents.failures, strict=True):
            assert elapsed[i + 1] - elapsed[i] > f.timeout_s  # the hang at least
        assert s["restarts"] == len(restarts) == len(failures)
        assert s["redone"] == sum(f.redone for f in run.plan.incidents.failures)
        assert s["redone"] == len(steps) - len(np.unique(steps))
        lost = sum(float(r["elapsed"]) for r in restarts)  # type: ignore[arg-type, misc]
        assert s["lost_s"] == pytest.approx(lost)
        assert s["step"] == run.plan.config.total_steps == steps[-1]


def test_a_lost_gpu_reads_nothing_while_the_others_wait(runs: list[Run]) -> None:
    seen = 0
    for run in runs:
        tele = run.kind("telemetry")
        t = tele.column("t").to_numpy()
        health = np.array(tele.column("gpu_health").to_pylist())
        util = np.array(tele.column("gpu_util").to_pylist())
        for f, r in zip(run.plan.incidents.failures, run.incidents("rank_failure"), strict=True):
            t0, t1 = float(r["t"]), float(r["t"]) + float(r["elapsed"])  # type: ignore[arg-type]
            inside = (t > t0 + 1) & (t < t1 - 1)
            if f.cause == "xid79":
                assert (health[inside, f.gpu] == int(Health.LOST)).all()
                assert (util[inside, f.gpu] == 0).all()
                seen += 1
            hang = inside & (t < t0 + f.timeout_s - 2)
            down = (t > t1 - f.down_s + 2) & (t < t1 - 1)  # processes gone, relaunch pending
            assert np.delete(util[hang], f.gpu, axis=1).mean() > 95  # NCCL's kernel spins
            if down.any():
                assert np.delete(util[down], f.gpu, axis=1).max() == 0
    assert seen >= 5


def test_slowdowns_and_stalls_raise_step_time_only_where_they_are(runs: list[Run]) -> None:
    seen = 0
    for run in runs:
        p = run.plan
        steps, st = run.col("step", "step"), run.col("step", "step_time")
        for e in p.episodes:
            inside = (steps >= e.slow_from) & (steps <= e.last_step)
            assert np.median(st[inside]) > p.fit.throughput.step_s * (1 + 0.6 * e.slowdown)
            seen += 1
        for fault in p.incidents.transients:
            if fault.kind == "dataloader_stall":
                window = (steps - 1) // p.config.log_interval == (
                    fault.step - 1
                ) // p.config.log_interval
                extra = (st[window] - p.fit.throughput.step_s * 1.1).sum()
                assert extra > 0.8 * fault.seconds
    assert seen >= 5


def test_the_monitor_shows_an_episode_on_its_node(runs: list[Run]) -> None:
    """`watch nvidia-smi` on rank 0's node shows a slow or hot GPU of that node standing out
    from the others while its episode lasts: a lower SM clock, or a temperature above theirs
    (the node's samples at the monitor's 2 s: no line of a monitor of llmsim's own says it)."""
    seen = 0
    for run in runs:
        per = run.plan.config.gpus_per_node
        node = run.kind("node_telemetry")
        t = node.column("t").to_numpy()
        clock = np.array(node.column("gpu_clock").to_pylist())
        temp = np.array(node.column("gpu_temp").to_pylist())
        steps, ends = run.col("step", "step"), run.col("step", "t")
        for e in run.plan.episodes:
            if e.gpu >= per:
                continue
            first = ends[np.flatnonzero(steps == e.first_step)[0]]
            last = ends[np.flatnonzero(steps == e.last_step)[0]]
            inside = (t >= first) & (t <= last)
            if not inside.any():
                continue
            if e.kind == "thermal":
                rest = np.median(np.delete(temp[inside], e.gpu, axis=1), axis=1)
                assert (temp[inside, e.gpu] - rest).max() >= 5, run.plan.config.name
            else:
                rest = np.median(np.delete(clock[inside], e.gpu, axis=1), axis=1)
                assert (rest - clock[inside, e.gpu]).max() >= 30, run.plan.config.name
            seen += 1
    assert seen >= 3
    assert not [r for r in run.kind("log").to_pylist() if r["source"] == "tool"]


def test_spikes_raise_grad_norm_no_later_than_loss(runs: list[Run]) -> None:
    for run in runs:
        steps = run.col("step", "step")
        grad, loss = run.col("step", "grad_norm"), run.col("step", "loss")
        for sp in run.plan.loss.spikes:
            near = np.flatnonzero((steps >= sp.step - 3) & (steps <= sp.step + 8))
            g_peak = steps[near[np.argmax(grad[near])]]
            l_peak = steps[near[np.argmax(loss[near])]]
            assert g_peak == sp.step and l_peak >= g_peak, (run.plan.config.name, sp)
            assert run.incidents("loss_spike")


def test_same_seed_same_incidents_and_none_has_none(tmp_path: Path) -> None:
    def options(rate: IncidentRate) -> GenerateOptions:
        return GenerateOptions(
            seed=7, model="Llama-3.2-1B", gpus=16, duration=900.0, incidents=rate
        )

    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    write_trace(plan_run(options("often")), a)
    write_trace(plan_run(options("often")), b)
    assert a.read_bytes() == b.read_bytes()
    assert plan_run(options("often")).incidents.failures  # the bytes compared hold a restart
    quiet = pa.concat_tables(list(tables(plan_run(options("none")))))
    assert "incident" not in set(quiet.column("kind").to_pylist())


# One run per stack and cause, each with a restart: every line matches its stack's patterns,
# and each incident's signature lines are there.
RENDERED = {
    "hf-accelerate-elastic": GenerateOptions(seed=1, stack="hf", gpus=16),
    "hf-torchrun-xid": GenerateOptions(seed=10, stack="hf", gpus=16),
    "hf-deepspeed-srun": GenerateOptions(seed=4, stack="hf-deepspeed", gpus=16),
    "hf-deepspeed-one-node": GenerateOptions(seed=5, stack="hf-deepspeed", gpus=8),
    "megatron-srun": GenerateOptions(seed=4, stack="megatron", gpus=16),
    "megatron-torchrun": GenerateOptions(seed=9, stack="megatron", gpus=16),
    "torchtitan-elastic": GenerateOptions(seed=1, stack="torchtitan", gpus=16),
    "torchtitan-xid": GenerateOptions(seed=4, stack="torchtitan", gpus=16),
}
REPORTS = {
    "srun": "srun: Job step aborted: Waiting up to 32 seconds for job step to finish.",
    "deepspeed": "exits with return code = -6",
    "torchrun": "failed (exitcode: -6) local_rank: ",
}


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_incident_lines_are_the_real_formats(tmp_path: Path, name: str) -> None:
    short = RENDERED[name]
    model = "Llama-3-8B" if short.stack == "torchtitan" else "Llama-3.2-1B"
    duration = 1200.0 if short.stack == "torchtitan" else 900.0
    options = GenerateOptions(
        seed=short.seed,
        stack=short.stack,
        gpus=short.gpus,
        model=model,
        duration=duration,
        incidents="often",
    )
    plan = plan_run(options)
    assert plan.incidents.failures, name
    path = tmp_path / f"{name}.parquet"
    write_trace(plan, path)
    config, lines = rendered(path)
    assert not unmatched(config.stack, lines), unmatched(config.stack, lines)[:3]
    text = "\n".join(lines)
    assert "Watchdog caught collective operation timeout: WorkNCCL(SeqNum=" in text
    assert "terminate called after throwing an instance of 'c10::DistBackendError'" in text
    srun = config.launcher == "srun" or (config.launcher == "deepspeed" and config.nodes > 1)
    launcher = "srun" if srun else "deepspeed" if config.launcher == "deepspeed" else "torchrun"
    assert REPORTS[launcher] in text, name
    f = plan.incidents.failures[0]
    if f.cause == "xid79":  # the GPU monitor shows it lost (no kernel line in the job's log)
        tele = [r for r in open_trace(path).events() if r.kind == "telemetry"]
        assert any((r.gpu_health or [])[f.gpu] == 3 for r in tele)
    if launcher == "torchrun" and f.relaunch == "requeue":
        assert "torch.distributed.elastic.multiprocessing.errors.ChildFailedError: " in text
        assert "Root Cause (first observed failure):" in text
    if f.relaunch == "elastic" and config.nodes > 1 and config.stack != "megatron":
        assert "Worker group FAILED. 3/3 attempts left; will restart worker group" in text
        assert "  restart_count=1" in text
