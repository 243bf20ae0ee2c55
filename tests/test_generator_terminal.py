"""The engineer's terminal the generator writes around every job (issue 21, trace 2.5): the
prompt and the typed launch at t = 0, rank 0's node sampled at watch's interval from the
cluster's own samples, nvidia-smi's process list with the launcher's PIDs, W&B's start and end,
the converter at the shell with `ls -lh` and an upload of exactly the files the export wrote,
the open prompt at the end, and no line of llmsim's own.

Real Parquet files read back through the reader; one run per stack and launch shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from llmsim.generator import GenerateOptions, RunPlan, plan_run, write_trace
from llmsim.generator.phases.hub import LINES
from llmsim.generator.stacks.common.shell import keystrokes, ls_lines
from llmsim.generator.stacks.common.wandb import History, WandbRun, footer_lines, start_lines
from llmsim.trace import open_trace
from llmsim.units import ls_size

CASES = {
    "hf-1node": GenerateOptions(
        seed=21, stack="hf", model="Llama-3-8B", gpus=8, kind="finetune", duration=900
    ),
    "deepspeed-4nodes": GenerateOptions(
        seed=12, stack="hf-deepspeed", gpus=32, kind="finetune", duration=900, incidents="often"
    ),
    "megatron-64nodes": GenerateOptions(
        seed=13, stack="megatron", model="Llama-3-70B", gpus=512, duration=1200
    ),
    "megatron-1node": GenerateOptions(
        seed=214, stack="megatron", model="Llama-3.2-1B", gpus=8, duration=900
    ),
    "titan-1node": GenerateOptions(
        seed=15, stack="torchtitan", model="Llama-3-8B", gpus=8, duration=900
    ),
    "titan-8nodes": GenerateOptions(
        seed=16, stack="torchtitan", model="Llama-3-8B", gpus=64, duration=900, incidents="often"
    ),
}


@dataclass
class Run:
    plan: RunPlan
    rows: list[dict[str, Any]]

    def of(self, *kinds: str) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["kind"] in kinds]

    def shell(self, op: str) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["kind"] == "shell" and r["op"] == op]

    def typed(self) -> list[str]:
        """The command lines typed, in order (keys up to each Enter)."""
        out, line = [], ""
        for r in self.of("shell"):
            if r["op"] == "keys":
                line += r["text"]
            elif r["op"] == "enter":
                out.append(line)
                line = ""
            elif r["op"] == "prompt":
                line = ""
        return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    base = tmp_path_factory.mktemp("terminal")
    out = {}
    for name, options in CASES.items():
        plan = plan_run(options)
        path = base / f"{name}.parquet"
        write_trace(plan, path)
        trace = open_trace(path)  # every row validated by the reader
        out[name] = Run(plan, trace.read_table().to_pylist())
    return out


def test_a_prompt_at_t0_and_the_first_key_within_a_second(runs: dict[str, Run]) -> None:
    for run in runs.values():
        first = run.rows[0]
        assert first["t"] == 0.0 and first["kind"] == "shell" and first["op"] == "prompt"
        assert first["text"].startswith(f"[{run.plan.terminal.user}@")
        keys = run.shell("keys")[0]
        assert 0.0 < keys["t"] < 1.0


def test_each_stack_is_launched_its_real_way(runs: dict[str, Run]) -> None:
    for name, run in runs.items():
        c = run.plan.config
        typed = run.typed()
        outputs = [r["text"] for r in run.shell("output")]
        if c.nodes > 1:  # submitted from a login node, its output file followed
            assert typed[0].startswith("sbatch ") or "sbatch " in typed[0], name
            job = re.fullmatch(r"Submitted batch job (\d+)", outputs[0])
            assert job is not None, outputs[0]
            assert typed[1].startswith("tail -f ") and job.group(1) in typed[1]
            assert run.rows[0]["text"] != f"[{run.plan.terminal.user}@{c.hostnames[0]} "
            assert run.plan.terminal.login_host not in c.hostnames
            assert any(r["text"] == "^C" for r in run.shell("keys"))  # tail -f ends by Ctrl-C
        else:  # typed at the job's only node
            assert run.plan.terminal.login_host == c.hostnames[0]
            launcher = typed[0].split()[0]
            expected = {
                "hf": "torchrun",
                "hf-deepspeed": "deepspeed",
                "megatron": "bash",
                "torchtitan": "CONFIG_FILE=./torchtitan/models/llama3/train_configs/llama3_8b.toml",
            }[c.stack]
            assert launcher == expected, name
        if c.stack == "hf" and c.nodes == 1:  # what torchrun's agent prints it started
            assert f"--nproc-per-node {c.gpus_per_node} train.py" in typed[0]
        if c.stack == "torchtitan" and c.nodes == 1:  # run_train.sh's set -x comes first
            logs = [r["text"] for r in run.of("log")]
            assert logs[0] == f"+ NGPU={c.gpus_per_node}"


def test_the_node_is_sampled_every_two_seconds_from_start_to_end(runs: dict[str, Run]) -> None:
    for name, run in runs.items():
        c = run.plan.config
        node = run.of("node_telemetry")
        t = np.array([r["t"] for r in node])
        assert c.monitor_interval == 2.0
        assert t[0] == 0.0 and np.allclose(np.diff(t), 2.0), name
        assert t[-1] > run.rows[-1]["t"] - 2.0
        assert all(len(r["gpu_util"]) == c.gpus_per_node and r["rank"] == 0 for r in node)


def test_the_node_rows_are_the_cluster_rows_where_both_are_sampled(
    runs: dict[str, Run],
) -> None:
    for name, run in runs.items():
        per = run.plan.config.gpus_per_node
        cluster = {round(r["t"], 6): r for r in run.of("telemetry")}
        shared = 0
        for r in run.of("node_telemetry"):
            other = cluster.get(round(r["t"], 6))
            if other is None:
                continue
            shared += 1
            for col in ("gpu_util", "gpu_mem", "gpu_temp", "gpu_clock", "gpu_health"):
                assert r[col] == other[col][:per], (name, col, r["t"])
            # nvidia-smi's CSV keeps the fraction of a watt its table rounds away
            assert [round(p) for p in r["gpu_power"]] == other["gpu_power"][:per]
        assert shared >= len(cluster) // 2, name


def test_a_hung_collective_and_a_lost_gpu_show_on_the_monitor(runs: dict[str, Run]) -> None:
    run = runs["deepspeed-4nodes"]
    per = run.plan.config.gpus_per_node
    failures = [r for r in run.of("incident") if r["op"] == "rank_failure"]
    assert failures
    f = failures[0]
    during = [r for r in run.of("node_telemetry") if f["t"] + 5 < r["t"] < f["t"] + 60]
    assert during
    if f["rank"] < per:
        assert all(r["gpu_health"][f["rank"]] == 3 or r["gpu_util"][f["rank"]] == 0 for r in during)
    else:  # the others spin at 100 % in the collective the culprit never joins
        assert all(min(r["gpu_util"]) > 90 for r in during)


def test_processes_carry_the_launchers_pids_and_exit_before_the_prompt(
    runs: dict[str, Run],
) -> None:
    checked = 0
    for name, run in runs.items():
        procs = run.of("process")
        if run.plan.config.stack == "megatron":  # in the NGC container: nvidia-smi lists none
            assert procs == [], name
            continue
        starts = [r for r in procs if r["op"] == "start"]
        per = run.plan.config.gpus_per_node
        first = starts[:per]
        assert sorted(r["rank"] for r in first) == list(range(per))
        texts = " ".join(r["text"] or "" for r in run.of("log"))
        pids = [int(r["origin"]) for r in sorted(first, key=lambda r: r["rank"])]
        assert pids == list(range(pids[0], pids[0] + per))  # one torchrun's workers
        # rank 0's PID as the job's own lines print it (NCCL's host:pid:tid at NCCL_DEBUG=INFO;
        # at WARN a run that ends well may print no worker's PID at all)
        if run.plan.flags.nccl_debug == "INFO":
            assert re.search(rf"[:\s']{pids[0]}[:\s,\]]", texts), (name, pids[0])
            checked += 1
        exits = [r for r in procs if r["op"] == "exit"]
        assert len(exits) % per == 0 and exits
        after_job = next(r for r in run.shell("prompt") if r["t"] > starts[0]["t"])
        assert exits[-1]["t"] < after_job["t"]
    assert checked  # some run's PIDs were checked against its lines


def test_no_line_of_llmsims_own(runs: dict[str, Run]) -> None:
    for run in runs.values():
        assert not [r for r in run.of("log") if r["source"] == "tool"]


def test_ls_and_the_upload_list_exactly_the_exported_files(runs: dict[str, Run]) -> None:
    for name, run in runs.items():
        files = {r["path"]: r["size_bytes"] for r in run.of("shard", "file")}
        listing = [r["text"] for r in run.shell("output") if r["text"].startswith("-rw-r--r-- ")]
        assert len(listing) == len(files), name
        for line in listing:
            fields = line.split()
            assert ls_size(files[fields[-1]]) == fields[4]
        uploads = [r for r in run.of("progress") if r["op"] == "upload"]
        if uploads:
            ends = {r["text"].strip(): r["total"] for r in uploads if r["rank"] >= 2}
            weights = [s for n, s in files.items() if n.endswith(".safetensors")]
            if len(weights) > LINES:  # hf's reporter: LINES - 1 bars, then `[+ N files]`
                weights = [*weights[: LINES - 1], sum(weights[LINES - 1 :])]
            assert sorted(ends.values()) == sorted(weights), name
            assert uploads[-1]["done"] == uploads[-1]["total"]
            url = [r["text"] for r in run.shell("output") if r["text"].startswith("https://")]
            assert url and url[0].endswith("/tree/main/.")


def test_the_converter_is_the_stacks_own(runs: dict[str, Run]) -> None:
    tools = {
        "hf": "accelerate merge-weights ",
        "hf-deepspeed": "python outputs/",
        "megatron": "python ../Megatron-Bridge/examples/conversion/convert_checkpoints.py export",
        "torchtitan": "python ./scripts/checkpoint_conversion/convert_to_hf.py ",
    }
    for name, run in runs.items():
        c = run.plan.config
        typed = run.typed()
        export = next(r for r in run.of("phase") if r["phase"] == "export")
        before = [line for line in typed if line.startswith(tools[c.stack])]
        assert before, (name, typed)
        if c.stack == "hf-deepspeed":
            assert "zero_to_fp32.py" in before[0]
            bars = {r["text"] for r in run.of("progress") if r["op"] == "convert"}
            assert {"Loading checkpoint shards", "Saving checkpoint shards"} <= bars
        assert export["t"] > run.shell("enter")[len(typed) - 3]["t"] - 1e-9


def test_the_story_ends_with_the_summary_then_the_open_prompt(runs: dict[str, Run]) -> None:
    for run in runs.values():
        assert run.rows[-1]["kind"] == "shell" and run.rows[-1]["op"] == "prompt"
        summary = run.of("summary")
        assert len(summary) == 1
        job = [r for r in run.of("log") if r["t"] <= summary[0]["t"]]
        assert job and all(r["t"] <= summary[0]["t"] for r in run.of("shard", "file", "step"))


def test_wandb_where_the_run_logs_to_it_and_its_switch_in_the_args(
    runs: dict[str, Run],
) -> None:
    seen = 0
    for name, run in runs.items():
        texts = [r["text"] or "" for r in run.of("log")]
        on = run.plan.flags.wandb
        started = [t for t in texts if "Tracking run with wandb version 0.22.3" in t]
        footer = [t for t in texts if t.endswith("Run history:")]
        assert bool(started) == on and bool(footer) == on, name
        c = run.plan.config
        if c.stack in ("hf", "hf-deepspeed"):
            dump = " ".join(t for t in texts if "report_to=" in t)
            assert ("report_to=['wandb']" in dump) == on, name
        if on:
            seen += 1
            assert texts.index(started[0]) < texts.index(footer[0])
    assert seen >= 3  # the cases' seeds draw both


def test_keystrokes_type_the_command_in_bursts() -> None:
    rng = np.random.default_rng(1)
    command = "torchrun --nproc-per-node 8 train.py --output_dir ./outputs/x"
    bursts = keystrokes(command, rng)
    assert "".join(k for _, k in bursts) == command
    assert all(1 <= len(k) <= 8 for _, k in bursts)
    assert bursts[0][0] == 0.0 and all(0.04 <= d <= 1.3 for d, _ in bursts[1:])


def test_ls_lh_prints_as_gnu_ls() -> None:
    """The sizes of Llama-3.1-8B's shards as GNU ls 9.1 prints them (issue21-tools.md §4.5)."""
    files = [
        ("model-00001-of-00004.safetensors", 4976698672, 60.0),
        ("model-00004-of-00004.safetensors", 1168138808, 60.0),
        ("config.json", 855, 0.0),
        ("tokenizer.json", 9085657, 0.0),
    ]
    lines = ls_lines(files, "alice")
    assert lines[0] == "total 5.8G"
    assert lines[1] == "-rw-r--r-- 1 alice alice  855 {stamp:%b %e %H:%M} config.json"
    assert lines[2].startswith("-rw-r--r-- 1 alice alice 4.7G {stamp-60.000000:%b %e %H:%M} ")
    assert [line.split()[-1] for line in lines[1:]] == sorted(n for n, _, _ in files)
    assert [ls_size(n) for n in (1024, 24_000, 16 * 10**9, 10 * 2**30 - 1)] == [
        "1.0K",
        "24K",
        "15G",
        "10G",
    ]


def test_wandb_footer_follows_wandbs_rules() -> None:
    run = WandbRun(
        "alice", "acme-ml", "llama3-8b-sft", "sft-1", "k3x9q2ab", "/home/alice/x", "/home/alice/x"
    )
    h = History(ints=frozenset({"train/global_step"}))
    h.add("train/loss", [float(x) for x in np.linspace(2.0, 1.0, 125)])
    h.add("train/global_step", range(10, 1260, 10))
    h.add("eval/loss", [1.5, 1.3, 1.2])
    h.add("b/flat", [3.0] * 50)
    for k in range(9):
        h.add(f"z/{k}", [1.0, 2.0])
    h.singles["total_flos"] = 1.2641458323193856e18
    h.singles["lr"] = 6.25e-06
    lines = footer_lines(run, h, 120.0, np.random.default_rng(0), piped=False)
    assert lines[:2] == ["", "Run history:"]
    history = lines[2 : lines.index("", 2)]
    assert len(history) == 11 and history[-1].strip() == "+3 ..."  # 10 then the rest
    keys = [line.split()[0] for line in history[:-1]]
    assert keys == sorted(keys)
    width = max(len(k) for k in keys)
    assert all(
        line[:width].strip() == k and line[width] == " "
        for line, k in zip(history, keys, strict=False)
    )
    spark = dict(line.split() for line in history[:-1])
    assert len(spark["train/loss"]) == 40 and spark["train/loss"][0] == "█"
    assert spark["eval/loss"] == "█▃▁" and spark["b/flat"] == "▁" * 40
    summary = lines[lines.index("Run summary:") + 1 :]
    values = dict(line.split(None, 1) for line in summary[: summary.index("")])
    assert values["train/global_step"] == "1250" and values["eval/loss"] == "1.2"
    assert values["b/flat"] == "3.0"
    assert lines[-4] == "🚀 View run sft-1 at: https://wandb.ai/acme-ml/llama3-8b-sft/runs/k3x9q2ab"
    assert lines[-3] == "⭐️ View project at: https://wandb.ai/acme-ml/llama3-8b-sft"
    assert lines[-1] == ("Find logs at: ./wandb/run-{stamp-120.000000:%Y%m%d_%H%M%S}-k3x9q2ab/logs")
    start = start_lines(run)
    assert start[0] == (
        "Currently logged in as: alice (acme-ml) to https://api.wandb.ai. "
        "Use `wandb login --relogin` to force relogin"
    )
    assert start[2] == (
        "Run data is saved locally in /home/alice/x/wandb/run-{stamp:%Y%m%d_%H%M%S}-k3x9q2ab"
    )
