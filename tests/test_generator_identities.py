"""REALISM identities checked on generated traces (real Parquet files read back with the reader)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from llmsim.generator import GenerateOptions, generate
from llmsim.generator.architecture import shards, spec_of
from llmsim.generator.nccl import comm_plan
from llmsim.generator.schedule import lr_at
from llmsim.generator.telemetry import TEMP_CRIT, TEMP_WARN, UTIL_WARN
from llmsim.trace import RunConfig, open_trace
from llmsim.trace.schema import OPS

# Small runs keep the suite fast: most on small clusters, a few big ones.
CASES: list[GenerateOptions] = [
    GenerateOptions(seed=s, steps_per_epoch=50 + 37 * (s % 5), gpus=(8, 16, 32, 64)[s % 4])
    for s in range(20)
] + [
    GenerateOptions(seed=101, gpus=512, steps_per_epoch=120),
    GenerateOptions(seed=102, gpus=1024, model="Llama-3-70B", steps_per_epoch=80),
    GenerateOptions(seed=103, model="Llama-3-8B", kind="finetune", epochs=3, steps_per_epoch=60),
    GenerateOptions(seed=104, model="Llama-3.2-1B", gpus=1, kind="pretrain", steps_per_epoch=90),
    GenerateOptions(seed=105, gpus=8, gpu_type="A100", kind="pretrain", steps_per_epoch=3000),
    GenerateOptions(seed=106),  # everything drawn: the default run
]


@dataclass
class Run:
    options: GenerateOptions
    config: RunConfig
    table: pa.Table

    def kind(self, kind: str) -> pa.Table:
        return self.table.filter(pc.equal(self.table.column("kind"), pa.scalar(kind)))

    def logs(self) -> list[dict[str, object]]:
        return self.kind("log").select(["t", "level", "source", "text", "phase"]).to_pylist()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Run]:
    out = []
    base = tmp_path_factory.mktemp("traces")
    for i, options in enumerate(CASES):
        path = base / f"run{i}.parquet"
        config = generate(options, path)
        trace = open_trace(path)  # header check
        assert trace.config == config
        out.append(Run(options, config, trace.read_table()))  # every batch validated
    return out


def each(runs: list[Run]) -> Iterator[Run]:
    assert len(runs) >= 20
    yield from runs


def test_rows_are_sorted_and_framed(runs: list[Run]) -> None:
    for run in each(runs):
        t = run.table.column("t").to_numpy()
        assert (np.diff(t) >= 0).all()
        first, last = (
            run.table.slice(0, 1).to_pylist()[0],
            run.table.slice(run.table.num_rows - 1).to_pylist()[0],
        )
        assert (first["kind"], first["phase"], first["t"]) == ("phase", "init", 0.0)
        assert (last["kind"], last["phase"]) == ("summary", "summary")
        assert pc.all(pc.is_valid(run.table.column("phase"))).as_py()
        phases = run.kind("phase").column("phase").to_pylist()
        assert {"init", "train", "eval", "export", "summary"} <= set(phases)
        if run.kind("checkpoint").num_rows:
            assert "checkpoint" in phases
        # each row's phase is the chapter opened by the latest phase row... for sparse rows
        opened = None
        for row in run.table.select(["kind", "phase"]).to_pylist():
            if row["kind"] == "phase":
                opened = row["phase"]
            elif row["kind"] not in ("telemetry", "log"):
                assert row["phase"] == opened, row


def test_steps_are_complete_and_consistent(runs: list[Run]) -> None:
    for run in each(runs):
        c, s = run.config, run.kind("step")
        step = s.column("step").to_numpy()
        assert (step == np.arange(1, c.total_steps + 1)).all()
        epoch = s.column("epoch").to_numpy()
        assert (epoch == (step - 1) // c.steps_per_epoch + 1).all()
        assert (s.column("done").to_numpy() == (step - 1) % c.steps_per_epoch + 1).all()
        assert (s.column("total").to_numpy() == c.steps_per_epoch).all()
        loss = s.column("loss").to_numpy()
        np.testing.assert_allclose(s.column("ppl").to_numpy(), np.exp(loss), rtol=1e-12)
        tps, st = s.column("tokens_per_s").to_numpy(), s.column("step_time").to_numpy()
        np.testing.assert_allclose(tps * st, c.global_batch_tokens, rtol=1e-9)
        mfu = s.column("mfu").to_numpy().astype(np.float64)
        lo, hi = c.extra["mfu_range"]
        assert mfu.min() >= lo - 1e-6 and mfu.max() <= hi + 1e-6
        flops = 6 * c.params * tps / (c.gpus * c.gpu_peak_tflops * 1e12)
        np.testing.assert_allclose(mfu, flops, rtol=1e-6)
        np.testing.assert_allclose(s.column("lr").to_numpy(), lr_at(c, step), rtol=1e-9)
        assert s.column("lr").to_numpy().max() <= c.lr_peak * (1 + 1e-12)
        elapsed = s.column("elapsed").to_numpy()
        assert (np.diff(elapsed) > 0).all() and elapsed[-1] >= st.sum() - 1e-6
        eta = s.column("eta").to_numpy()
        assert eta[-1] == 0.0 and (eta >= 0).all()
        k = min(50, len(st))
        assert eta[-k - 1 if len(st) > k else 0] >= 0
        i = len(st) // 2
        expect = (c.total_steps - step[i]) * st[max(0, i - 49) : i + 1].mean()
        assert eta[i] == pytest.approx(expect, rel=1e-9)
        assert 0.25 <= c.extra["step_time_mean"] <= 5.5


def test_losses_are_shown_to_4_decimals(runs: list[Run]) -> None:
    for run in each(runs):
        s, e = run.kind("step"), run.kind("eval")
        for col in (s.column("loss"), e.column("loss"), e.column("val_loss")):
            x = col.to_numpy()
            assert (x == np.round(x, 4)).all()  # exp() of the shown loss is the ppl shown
        sm = run.kind("summary").to_pylist()[0]
        assert sm["loss"] == round(sm["loss"], 4) and sm["ppl"] == math.exp(sm["loss"])


def test_fine_tune_validation_flattens_late(runs: list[Run]) -> None:
    """Across the fine-tunes, val stops improving at some late evaluations (patience > 0)."""
    counted = 0
    for run in each(runs):
        if run.config.kind == "finetune" and run.config.epochs > 1:
            counted += int(run.kind("eval").column("patience").to_numpy().max() > 0)
    assert counted > 0


def test_loss_shape_and_grad_norm(runs: list[Run]) -> None:
    for run in each(runs):
        c, s = run.config, run.kind("step")
        loss = s.column("loss").to_numpy()
        if c.kind == "pretrain":
            assert abs(loss[0] - math.log(c.vocab)) < 0.6
            assert loss[-1] < loss[0] - 3.0
        else:
            assert 1.3 <= loss[0] <= 3.0 and loss[-1] < loss[0]
        gn = s.column("grad_norm").to_numpy()
        assert 0.12 <= np.median(gn) <= 0.6
        assert (gn > 0).all()


def test_evals_and_patience(runs: list[Run]) -> None:
    for run in each(runs):
        c, e = run.config, run.kind("eval")
        steps = e.column("step").to_pylist()
        expected = [
            s
            for s in range(1, c.total_steps + 1)
            if s % c.eval_interval == 0 or s % c.steps_per_epoch == 0
        ]
        assert steps == expected
        val = e.column("val_loss").to_numpy()
        np.testing.assert_allclose(e.column("val_ppl").to_numpy(), np.exp(val), rtol=1e-12)
        loss = e.column("loss").to_numpy()
        np.testing.assert_allclose(e.column("ppl").to_numpy(), np.exp(loss), rtol=1e-12)
        ratio = val / loss  # a few percent to ~15 % above train, fine-tunes included
        assert ratio.min() >= 1.01 and ratio.max() <= 1.16, (c.name, ratio)
        patience = e.column("patience").to_numpy()
        assert (patience < c.patience_limit).all()
        assert (e.column("patience_limit").to_numpy() == c.patience_limit).all()
        best, count = math.inf, 0  # patience counts evaluations since the best val_loss
        for v, p in zip(val, patience, strict=True):
            count = 0 if v < best else count + 1
            best = min(best, v)
            assert p == count
        # the train loss on an eval row is the loss of that step
        s = run.kind("step")
        by_step = dict(zip(s.column("step").to_pylist(), s.column("loss").to_pylist(), strict=True))
        assert loss.tolist() == [by_step[k] for k in steps]


def test_checkpoints_and_rotation(runs: list[Run]) -> None:
    for run in each(runs):
        c, ck = run.config, run.kind("checkpoint")
        steps = ck.column("step").to_pylist()
        assert steps == [
            s for s in range(c.checkpoint_interval, c.total_steps, c.checkpoint_interval)
        ]
        assert ck.column("path").to_pylist() == [f"checkpoint-{s}" for s in steps]
        sizes = ck.column("size_bytes").to_numpy()
        assert ((sizes >= 14 * c.params) & (sizes <= 16 * c.params)).all()
        speed = sizes / 1e9 / ck.column("elapsed").to_numpy()
        assert ((speed > 18) & (speed < 66)).all()
        deleted = [
            int(m.group(1))
            for row in run.logs()
            if (
                m := re.search(
                    r"Deleting older checkpoint \[.*checkpoint-(\d+)\]", str(row["text"])
                )
            )
        ]
        assert deleted == steps[: max(0, len(steps) - c.save_total_limit)]


def test_progress_operations(runs: list[Run]) -> None:
    for run in each(runs):
        p = run.kind("progress").to_pylist()
        ops = {r["op"] for r in p}
        assert ops <= set(OPS)
        assert {"merge_weights", "optimize", "serialize", "write_shards", "eval"} <= ops
        assert ("load_checkpoint" in ops) == (run.config.kind == "finetune")
        assert ("init_weights" in ops) == (run.config.kind == "pretrain")
        units = {
            "load_checkpoint": "shards",
            "init_weights": "layers",
            "eval": "batches",
            "checkpoint": "B",
            "merge_weights": "layers",
            "optimize": "layers",
            "serialize": "tensors",
            "write_shards": "shards",
        }
        current: dict[str, list[dict[str, object]]] = {}
        for r in p:
            assert r["unit"] == units[str(r["op"])]
            seq = current.setdefault(str(r["op"]), [])
            if r["done"] == 0:
                seq.clear()
            seq.append(r)
            done = [int(str(x["done"])) for x in seq]
            assert done == sorted(done) and seq[0]["done"] == 0
        for op, seq in current.items():
            assert seq[-1]["done"] == seq[-1]["total"], op


def test_export_shards_and_files(runs: list[Run]) -> None:
    for run in each(runs):
        c = run.config
        sh = run.kind("shard")
        sizes = sh.column("size_bytes").to_numpy()
        assert int(sizes.sum()) == 2 * c.params
        assert (sizes <= 5 * 10**9).all()
        expected = [sum(b for _, b in part) for part in shards(spec_of(c), 5 * 10**9)]
        assert sizes.tolist() == expected
        n = len(expected)
        names = sh.column("path").to_pylist()
        if n == 1:
            assert names == ["model.safetensors"]
        else:
            assert names == [f"model-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)]
        files = run.kind("file").column("path").to_pylist()
        core = [
            "config.json",
            "generation_config.json",
            "tokenizer.json",
            "tokenizer_config.json",
            "special_tokens_map.json",
        ]
        assert files == core + (["model.safetensors.index.json"] if n > 1 else [])
        assert (run.kind("file").column("size_bytes").to_numpy() > 100).all()


def test_summary_equals_the_events(runs: list[Run]) -> None:
    for run in each(runs):
        c, t = run.config, run.table
        summ = run.kind("summary").to_pylist()
        assert len(summ) == 1
        sm = summ[0]
        steps = run.kind("step")
        assert sm["elapsed"] == sm["t"] == t.column("t")[-1].as_py()
        assert sm["step"] == c.total_steps and sm["epoch"] == c.epochs
        assert sm["loss"] == steps.column("loss")[-1].as_py()
        assert sm["ppl"] == pytest.approx(math.exp(sm["loss"]), rel=1e-12)
        tele = run.kind("telemetry")
        train = tele.filter(pc.equal(tele.column("phase"), pa.scalar("train")))
        util = pc.list_flatten(train.column("gpu_util")).to_numpy().astype(np.float64)
        assert sm["avg_gpu_util"] == pytest.approx(util.mean(), rel=1e-6)
        mem = pc.list_flatten(tele.column("gpu_mem")).to_numpy()
        assert sm["peak_mem_mib"] == pytest.approx(float(mem.max()), rel=1e-7)
        out = t.filter(pc.is_in(t.column("kind"), value_set=pa.array(["shard", "file"])))
        assert sm["size_bytes"] == pc.sum(out.column("size_bytes")).as_py()
        assert sm["path"] == f"./outputs/{c.name}/final/"


def test_telemetry_is_nvidia_smi_shaped(runs: list[Run]) -> None:
    for run in each(runs):
        c, tele = run.config, run.kind("telemetry")
        assert tele.num_rows > 5
        t = tele.column("t").to_numpy()
        np.testing.assert_allclose(np.diff(t), c.telemetry_interval, rtol=1e-9)

        def grid(name: str, tele: pa.Table = tele) -> np.ndarray:
            return np.stack(tele.column(name).to_numpy(zero_copy_only=False))

        util, mem, temp = grid("gpu_util"), grid("gpu_mem"), grid("gpu_temp")
        power, clock, health = grid("gpu_power"), grid("gpu_clock"), grid("gpu_health")
        for a in (util, mem, temp, power, clock):
            assert (a == np.round(a)).all()  # integers, as nvidia-smi prints them
        assert mem.max() <= c.gpu_memory_mib
        assert power.max() <= c.gpu_tdp_w and clock.max() <= c.gpu_max_clock_mhz
        phase = np.array(tele.column("phase").to_pylist())
        tr = phase == "train"
        assert np.mean(util[tr] >= 95) > 0.99
        budget = np.median(mem[tr])
        assert 0.74 * c.gpu_memory_mib <= budget <= 0.95 * c.gpu_memory_mib
        assert np.percentile(np.abs(mem[tr] / budget - 1), 99) < 0.015  # nearly flat
        hot = np.median(power[tr]) / c.gpu_tdp_w
        assert 0.72 <= hot <= 0.97  # 550-680 W on a 700 W H100
        assert 40 <= np.median(temp[tr]) <= 70
        # a fixed per-GPU offset: the same GPUs run hotter sample after sample
        if c.gpus >= 8 and tr.sum() > 20:
            half = tr.sum() // 2
            rel = temp[tr] - temp[tr].mean(axis=1, keepdims=True)  # minus the common warm-up
            first, second = np.median(rel[:half], 0), np.median(rel[half:], 0)
            calm = np.abs(first - second) < 5  # a heat episode moves one GPU for a while
            assert np.corrcoef(first[calm], second[calm])[0, 1] > 0.8
        # eval and checkpoint pauses show as utilisation dips
        if (phase == "checkpoint").any():
            assert util[phase == "checkpoint"].mean() < 50
        if (phase == "eval").any():
            assert util[phase == "eval"].mean() < util[tr].mean()
        expect = np.zeros_like(health)
        expect[(temp >= TEMP_WARN) | (tr[:, None] & (util < UTIL_WARN))] = 1
        expect[temp >= TEMP_CRIT] = 2
        assert (health == expect).all()


def test_warnings_name_gpus_that_really_misbehave(runs: list[Run]) -> None:
    checked = 0
    for run in each(runs):
        c, tele = run.config, run.kind("telemetry")
        by_t = {row["t"]: row for row in tele.select(["t", "gpu_temp", "gpu_util"]).to_pylist()}
        hosts = {h: i for i, h in enumerate(c.hostnames)}
        for row in run.logs():
            text = str(row["text"])
            m = re.search(r"GPU temperature (high|critical): (\S+) GPU (\d+) at (\d+)°C", text)
            if m:
                gpu = hosts[m.group(2)] * c.gpus_per_node + int(m.group(3))
                sample = by_t[row["t"]]  # same t as the telemetry sample
                assert sample["gpu_temp"][gpu] == float(m.group(4)) >= TEMP_WARN
                if m.group(1) == "critical":
                    assert sample["gpu_temp"][gpu] >= TEMP_CRIT
                checked += 1
            m = re.search(r"Straggler detected: rank (\d+) \((\S+) GPU (\d+)\) at (\d+)%", text)
            if m:
                gpu = int(m.group(1))
                assert gpu == hosts[m.group(2)] * c.gpus_per_node + int(m.group(3))
                assert by_t[row["t"]]["gpu_util"][gpu] == float(m.group(4)) < UTIL_WARN
                checked += 1
    assert checked > 0


def test_slow_step_warnings_match_step_times(runs: list[Run]) -> None:
    found = 0
    for run in each(runs):
        steps = run.kind("step")
        st = dict(
            zip(
                steps.column("step").to_pylist(), steps.column("step_time").to_pylist(), strict=True
            )
        )
        for row in run.logs():
            m = re.search(
                r"Dataloader stall at step (\d+): .* waited ([\d.]+) s .*step time "
                r"([\d.]+) s",
                str(row["text"]),
            )
            if m:
                found += 1
                assert f"{st[int(m.group(1))]:.2f}" == m.group(3)
                assert float(m.group(2)) < float(m.group(3))
    assert found > 0


_COLL = re.compile(
    r"^\S+:(\d+):(\d+) \[0\] NCCL INFO (AllReduce|ReduceScatter|AllGather): opCount ([0-9a-f]+) "
    r"count (\d+) datatype 9 op 0 root 0 comm 0x[0-9a-f]+ \[nranks=(\d+)\] size ([\d.]+) MiB "
    r"time ([\d.]+) ms algbw ([\d.]+) GB/s busbw ([\d.]+) GB/s$"
)


def test_nccl_collectives_are_buckets_at_the_link_bandwidth(runs: list[Run]) -> None:
    found = 0
    for run in each(runs):
        c = run.config
        plan = comm_plan(c)
        texts = [str(r["text"]) for r in run.logs()]
        lines = [m for t in texts if (m := _COLL.match(t))]
        if plan is None:
            assert c.dp == 1 and not lines
            continue
        # the buckets cover one data-parallel rank's bf16 gradients, with at most padding left
        rank_bytes = 2 * c.params // (c.tp * c.pp)
        full = plan.grads[0]
        assert sum(2 * b.elems * b.count for b in plan.grads) >= rank_bytes
        assert (full.count - 1) * 2 * full.elems < rank_bytes
        assert sum(2 * b.elems * b.count for b in plan.gathers) >= rank_bytes
        joined = "\n".join(texts)
        if plan.stack == "megatron":
            assert (
                f"Number of buckets for gradient all-reduce / reduce-scatter: {plan.grad_buckets}"
                in joined
            )
        elif plan.stack == "zero3":
            assert f"reduce-scattered in {plan.grad_buckets} buckets" in joined
        elif plan.stack == "fsdp":
            m = re.search(r"(\d+) units \((\d+) x \w+ of ([\d,]+) params, root of ([\d,]+)", joined)
            assert m is not None
            layers, layer, root = (
                int(m.group(2)),
                int(m.group(3).replace(",", "")),
                int(m.group(4).replace(",", "")),
            )
            assert int(m.group(1)) == layers + 1 == c.layers + 1
            assert layers * layer + root == c.params
            assert full.elems == -(-layer // c.dp) * c.dp  # a unit, padded to the dp size
        link = c.extra["nccl_link_gbs"]
        hopper = c.gpu_short in ("H100", "H200")
        if c.tp * c.dp <= c.gpus_per_node:  # NVLink, per direction (900 / 600 GB/s is both)
            assert link == (450.0 if hopper else 300.0)
        else:  # one 400 / 200 Gb/s InfiniBand NIC per GPU
            assert link == (50.0 if hopper else 25.0)
        assert lines, c.name
        sizes = {(b.op, b.elems) for b in (*plan.grads, *plan.gathers)}
        for m in lines:
            found += 1
            pid, tid = m.group(1), m.group(2)
            assert pid == tid  # collectives are issued by the main thread
            op, count, n = m.group(3), int(m.group(5)), int(m.group(6))
            mib, ms = float(m.group(7)), float(m.group(8))
            alg, bus = float(m.group(9)), float(m.group(10))
            assert n == c.dp
            elems = count if op == "AllReduce" else count * n  # RS/AG print one rank's share
            assert (op, elems) in sizes
            nbytes = 2 * elems
            assert mib == pytest.approx(nbytes / 2**20, abs=0.006)
            factor = (2.0 if op == "AllReduce" else 1.0) * (n - 1) / n
            assert ms / 1e3 == pytest.approx(factor * nbytes / (bus * 1e9), rel=1e-3, abs=6e-7)
            slack = 0.0005 / ms  # time is printed to the microsecond
            assert alg == pytest.approx(nbytes / (ms / 1e3) / 1e9, rel=slack + 1e-3, abs=0.006)
            assert bus == pytest.approx(alg * factor, rel=2e-3, abs=0.006)
            assert 0.6 * link <= bus <= 0.9 * link + 0.005
        # one pass over the buckets (each gradient and parameter bucket once) fits in a step
        assert plan.seconds(c.extra["nccl_bus_gbs"]) < c.extra["step_time_mean"]
    assert found > 0


def test_init_logs_agree_with_the_config(runs: list[Run]) -> None:
    for run in each(runs):
        c = run.config
        texts = [str(r["text"]) for r in run.logs() if r["phase"] == "init"]
        joined = "\n".join(texts)
        assert "Setting OMP_NUM_THREADS" in joined
        assert f"Number of trainable parameters = {c.params:,}" in texts[-1]
        assert f"  Total optimization steps = {c.total_steps:,}" in texts
        assert f"  Num Epochs = {c.epochs:,}" in texts
        assert f"  Gradient Accumulation steps = {c.grad_accum}" in texts
        assert f"  Instantaneous batch size per device = {c.micro_batch:,}" in texts
        assert (
            f"  Total train batch size (w. parallel, distributed & accumulation) = "
            f"{c.global_batch:,}"
        ) in texts
        assert f"global_world_sizes={[c.gpus] * c.gpus_per_node}" in joined
        assert f"nranks {c.gpus} " in joined and f"nNodes {c.nodes} " in joined
        assert f'"num_hidden_layers": {c.layers},' in joined
        assert f'"vocab_size": {c.vocab}' in joined
        assert sum("NCCL INFO" in x for x in texts) < 80  # a few ranks only, never thousands
        init_end = (
            run.kind("step").column("t")[0].as_py()
            - run.kind("step").column("step_time")[0].as_py()
        )
        assert 15 <= init_end <= 120


def test_warning_share_and_levels(runs: list[Run]) -> None:
    total = warnings = 0
    for run in each(runs):
        levels = [r["level"] for r in run.logs()]
        assert set(levels) <= {"INFO", "WARNING", "ERROR"}
        total += len(levels)
        warnings += levels.count("WARNING")
    assert 0.02 < warnings / total < 0.12


def test_default_runs_last_ten_to_thirty_minutes(tmp_path: Path) -> None:
    for seed in (7, 8, 9):
        config = generate(GenerateOptions(seed=seed), tmp_path / f"{seed}.parquet")
        table = open_trace(tmp_path / f"{seed}.parquet").read_table()
        assert 9 * 60 <= table.column("t")[-1].as_py() <= 32 * 60, config.name


def test_loss_spikes_show_in_grad_norm_loss_and_logs(runs: list[Run]) -> None:
    found = 0
    for run in each(runs):
        c, s = run.config, run.kind("step")
        loss, gn = s.column("loss").to_numpy(), s.column("grad_norm").to_numpy()
        for row in run.logs():
            m = re.search(r"Loss spike at step (\d+): ([\d.]+) vs ([\d.]+) mean", str(row["text"]))
            if not m:
                continue
            found += 1
            k = int(m.group(1)) - 1  # index of the spiking step
            assert f"{loss[k]:.4f}" == m.group(2)
            assert loss[k] - loss[k - 10 : k].mean() > 0.12  # rises a few tenths
            assert f"{loss[k - 10 : k].mean():.4f}" == m.group(3)
            assert gn[k - 1] > c.grad_clip  # the grad norm jumped first
            assert loss[k + 60] < loss[k] - 0.1  # and it recovers
            clip = [r for r in run.logs() if f"at step {k} exceeds max_grad_norm" in str(r["text"])]
            assert len(clip) == 1 and clip[0]["level"] == "WARNING"
    assert found > 0
