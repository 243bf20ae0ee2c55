"""A small but complete, schema-valid synthetic trace: every kind and phase, 16 GPUs on 2 nodes.

Tests use it while the generator is written in parallel, to inject hostile text, and to stage
what the screen must show: any cluster size, and a straggler episode on a chosen GPU (an
`incident` row, the GPU's health critical and its utilisation down, then recovered).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from llmsim.trace import RunConfig, TraceWriter, make_table
from llmsim.trace.schema import COLUMNS

GPUS = 16
EPOCHS = 2
STEPS_PER_EPOCH = 30
TOTAL_STEPS = EPOCHS * STEPS_PER_EPOCH
STEP_TIME = 1.0
TOKENS = 1_048_576
SHARDS = (4_976_698_672, 4_999_802_720, 4_915_916_176, 1_168_138_808)
FILES = (
    ("config.json", 654),
    ("generation_config.json", 177),
    ("tokenizer.json", 9_085_657),
    ("tokenizer_config.json", 50_977),
    ("special_tokens_map.json", 296),
    ("model.safetensors.index.json", 23_950),
)
NCCL_LONG = (
    "node-a01:1796:1796 [0] NCCL INFO Channel 00/24 : 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 "
    "via P2P/IPC/read and NET/IB/0/GDRDMA, comm 0x55d4c1a3b0f0 rank 0 nRanks 16 nNodes 2 "
    "localRanks 8 localRank 0 MNNVL 0 - Init COMPLETE, trees 0/-1/-1->1->-1 1/-1/-1->1->-1 "
    "p2p channels 32 p2p channels per peer 4 buffSize 4194304 - Init timings 0.812345s"
)


def config(**overrides: Any) -> RunConfig:
    """A valid run config for the synthetic run (fields may be overridden)."""
    base = RunConfig(
        name="synthetic-llama-1b",
        model="Llama-3.2-1B",
        hub_id="meta-llama/Llama-3.2-1B",
        family="llama",
        invented=False,
        kind="finetune",
        stack="hf",
        launcher="torchrun",
        incidents="rare",
        seed=7,
        generator_version="0.1.0",
        start_time=1_767_225_600.0,  # 2026-01-01 00:00:00 UTC
        params=1_235_814_400,
        layers=16,
        hidden=2048,
        heads=32,
        kv_heads=8,
        head_dim=64,
        ffn=8192,
        vocab=128_256,
        max_position_embeddings=131_072,
        tied_embeddings=True,
        qkv_bias=False,
        gpu="NVIDIA H100 80GB HBM3",
        gpu_short="H100",
        gpu_memory_mib=81_559,
        gpu_tdp_w=700,
        gpu_peak_tflops=989.0,
        gpu_max_clock_mhz=1980,
        gpus=GPUS,
        gpus_per_node=8,
        nodes=2,
        hostnames=("node-a01", "node-a02"),
        interconnect="InfiniBand NDR 400Gb/s",
        tp=2,
        pp=1,
        dp=8,
        strategy="fsdp",
        mem_weights_gib=2.3,
        mem_grads_gib=2.3,
        mem_optimizer_gib=9.2,
        mem_activations_gib=40.0,
        precision="bf16",
        seq_len=4096,
        micro_batch=4,
        grad_accum=8,
        global_batch=256,
        global_batch_tokens=TOKENS,
        epochs=EPOCHS,
        steps_per_epoch=STEPS_PER_EPOCH,
        total_steps=TOTAL_STEPS,
        resume_step=0,
        warmup_steps=5,
        lr_peak=2e-4,
        lr_min=2e-5,
        schedule="cosine",
        grad_clip=1.0,
        weight_decay=0.1,
        adam_beta1=0.9,
        adam_beta2=0.95,
        dataset="synthetic-instruct",
        dataset_tokens=TOKENS * STEPS_PER_EPOCH,
        log_interval=10,
        log_first_step=True,
        eval_interval=30,
        eval_after_loop=False,
        eval_batches=4,
        checkpoint_interval=30,
        checkpoint_dir="./outputs/synthetic-llama-1b",
        last_save_model_only=False,
        save_total_limit=2,
        telemetry_interval=5.0,
        patience_limit=5,
        torch_version="2.5.1",
        cuda_version="12.4",
        nccl_version="2.21.5",
        transformers_version="4.46.3",
        stack_version="1.1.1",
        output_dir="./outputs/synthetic-llama-1b",
        trainable_params=1_235_814_400,
        adapter="none",
        lora_rank=0,
        lora_alpha=0,
        metric_keys=(),
        eval_metric_keys=(),
        reward_min=0.0,
        reward_max=0.0,
        step_prefix="",
    )
    return replace(base, **overrides)


class _Rows:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.t = 0.0

    def add(self, kind: str, phase: str, dt: float = 0.0, **values: Any) -> None:
        self.t += dt
        self.rows.append({"t": self.t, "kind": kind, "phase": phase, **values})

    def log(
        self,
        phase: str,
        source: str,
        text: str,
        level: str = "INFO",
        dt: float = 0.1,
        origin: str | None = None,
    ) -> None:
        self.add("log", phase, dt, level=level, source=source, origin=origin, text=text)

    def progress(
        self, phase: str, op: str, label: str, total: int, unit: str, seconds: float
    ) -> None:
        for done in range(total + 1):
            dt = 0.0 if done == 0 else seconds / total
            self.add(
                "progress",
                phase,
                dt,
                op=op,
                text=label,
                done=done,
                total=total,
                unit=unit,
                elapsed=seconds * done / total,
            )


STRAGGLER_STEPS = range(20, 41)  # steps during which a straggler GPU holds the job back
IDLE_UTIL = 5.0  # utilisation of every GPU in the export phase's telemetry


def _telemetry(
    rows: _Rows,
    phase: str,
    step: int,
    epoch: int,
    busy: bool,
    sample: int,
    gpus: int,
    straggler: int | None = None,
) -> None:
    util = [(98.0 + (i % 3)) if busy else IDLE_UTIL for i in range(gpus)]
    temp = [52.0 + (i % 16) + (3.0 if busy else 0.0) for i in range(gpus)]
    power = [610.0 + 4 * (i % 16) if busy else 250.0 for i in range(gpus)]
    health = [0] * gpus
    if sample % 2 == 1:
        health[5] = 1  # a warm GPU...
        temp[5] = 84.0
    health[12] = 2 if sample >= 3 else 0  # ...and one that crosses the critical line
    if health[12] == 2:
        temp[12] = 91.0
    if straggler is not None and step in STRAGGLER_STEPS:
        health[straggler] = 2
        util[straggler] = 61.0
    rows.add(
        "telemetry",
        phase,
        0.0,
        step=step,
        epoch=epoch,
        gpu_util=util,
        gpu_mem=[71_000.0 + 10 * (i % 16) for i in range(gpus)],
        gpu_temp=temp,
        gpu_power=power,
        gpu_clock=[1980.0] * gpus,
        gpu_health=health,
    )


def build_rows(
    inject: str | None = None, gpus: int = GPUS, straggler: int | None = None
) -> list[dict[str, Any]]:
    """The synthetic run's rows in time order; `inject` is placed into every text column;
    `straggler`: the global rank of a GPU that straggles over STRAGGLER_STEPS."""
    r = _Rows()
    _init(r, inject)
    loss, sample = _train(r, gpus, straggler)
    shards = _export(r, inject, gpus, sample)
    _summary(r, loss, shards)
    return r.rows


def _init(r: _Rows, inject: str | None) -> None:
    """Launcher, NCCL and Trainer lines (with the injected text), the checkpoint-shard bar."""
    r.add("phase", "init", 0.0, text="Initialization")
    r.log(
        "init",
        "torchrun",
        "[default] Starting worker group",
        origin="2134401 torch/distributed/run.py:793",
    )
    r.log("init", "plain", "NCCL version 2.21.5+cuda12.4")
    r.log("init", "plain", NCCL_LONG)
    r.log("init", "hf", "Model config LlamaConfig {", origin="configuration_utils.py:733")
    r.log(
        "init", "hf", "  Number of trainable parameters = 1,235,814,400", origin="trainer.py:2528"
    )
    if inject is not None:
        r.log("init", "hf", inject, origin=inject)
        r.log("init", "hf-script", "after " + inject + " end", level="WARNING", origin="__main__")
    r.progress("init", "load_checkpoint", inject or "Loading checkpoint shards", 4, "shards", 4.0)
    r.log("init", "hf-script", "Dataset synthetic-instruct: 31,457,280 tokens", origin="__main__")


def _train(r: _Rows, gpus: int, straggler: int | None) -> tuple[float, int]:
    """Every step (telemetry every fifth, the straggler's incident) and each epoch's end;
    returns the last loss and the number of the last telemetry sample."""
    r.add("phase", "train", 0.5, text="Training")
    sample = 0
    incident: dict[str, Any] = {}
    _telemetry(r, "train", 0, 1, True, sample, gpus, straggler)
    loss = 2.4
    for step in range(1, TOTAL_STEPS + 1):
        epoch = (step - 1) // STEPS_PER_EPOCH + 1
        loss = 1.6 + 0.8 * math.exp(-step / 20) - (0.15 if epoch == 2 else 0.0)
        _step(r, step, epoch, loss)
        if straggler is not None and step == STRAGGLER_STEPS.start:
            label = f"Straggler on rank {straggler}"
            r.add("incident", "train", 0.0, op="straggler", text=label, step=step, rank=straggler)
            incident = r.rows[-1]
        if straggler is not None and step == STRAGGLER_STEPS.stop:
            incident["elapsed"] = r.t - incident["t"]  # the episode's length, pauses included
        if step % 5 == 0:
            sample += 1
            _telemetry(r, "train", step, epoch, True, sample, gpus, straggler)
        if step % STEPS_PER_EPOCH == 0:
            _epoch_end(r, step, epoch, loss)
    return loss, sample


def _step(r: _Rows, step: int, epoch: int, loss: float) -> None:
    """One optimizer step's row."""
    r.add(
        "step",
        "train",
        STEP_TIME,
        epoch=epoch,
        step=step,
        loss=loss,
        ppl=math.exp(loss),
        lr=2e-4 * min(1.0, step / 5),
        grad_norm=0.3 + 0.01 * (step % 7),
        tokens_per_s=TOKENS / STEP_TIME,
        step_time=STEP_TIME,
        mfu=0.451,
        elapsed=step * STEP_TIME,
        eta=(TOTAL_STEPS - step) * STEP_TIME,
        epoch_progress=round(step / STEPS_PER_EPOCH, 2),
        tokens=step * TOKENS,
        samples=step * 256,
        tokens_per_s_gpu=TOKENS / STEP_TIME / GPUS,
        tflops=446.0,
        mem_gib=61.42,
        mem_pct=77.57,
        loss_scale=1.0,
        skipped=0,
        nan_iters=0,
        done=(step - 1) % STEPS_PER_EPOCH + 1,
        total=STEPS_PER_EPOCH,
    )


def _epoch_end(r: _Rows, step: int, epoch: int, loss: float) -> None:
    """The monitor's warning (first epoch), the evaluation and the checkpoint."""
    if step == 30:
        r.log(
            "train",
            "tool",
            "GPU 5 temperature 84C above 83C threshold",
            "WARNING",
            0.0,
            origin="monitor",
        )
    r.add("phase", "eval", 0.1, text="Validation")
    r.progress("eval", "eval", "Evaluating", 4, "batches", 2.0)
    val = loss * 1.05
    r.add(
        "eval",
        "eval",
        0.1,
        epoch=epoch,
        step=step,
        loss=loss,
        ppl=math.exp(loss),
        val_loss=val,
        val_ppl=math.exp(val),
        patience=epoch - 1,
        patience_limit=5,
        elapsed=2.2,
    )
    r.add("phase", "checkpoint", 0.1, text="Checkpoint")
    r.progress("checkpoint", "checkpoint", "Saving checkpoint", 3, "B", 1.5)
    r.add(
        "checkpoint",
        "checkpoint",
        0.1,
        step=step,
        path=f"checkpoint-{step}",
        size_bytes=18_537_216_000,
        elapsed=1.6,
    )
    if step < TOTAL_STEPS:
        r.add("phase", "train", 0.1, text="Training")


def _export(r: _Rows, inject: str | None, gpus: int, sample: int) -> int:
    """The export's bars, shards and files (the injected text as config.json's name); returns
    the bytes of the shards."""
    r.add("phase", "export", 1.0, text="Export")
    _telemetry(r, "export", TOTAL_STEPS, EPOCHS, False, sample + 1, gpus)
    r.progress("export", "merge_weights", "Merging weights", 16, "layers", 2.0)
    r.progress("export", "optimize", "Optimizing for inference", 5, "tensors", 1.0)
    r.progress("export", "serialize", "Serializing to SafeTensors", 8, "tensors", 1.0)
    total = sum(SHARDS)
    written = 0
    r.add(
        "progress",
        "export",
        0.1,
        op="write_shards",
        text="Writing shards",
        done=0,
        total=total,
        unit="B",
        elapsed=0.0,
    )
    for i, size in enumerate(SHARDS, 1):
        written += size
        r.add(
            "progress",
            "export",
            0.5,
            op="write_shards",
            text="Writing shards",
            done=written,
            total=total,
            unit="B",
            elapsed=0.5 * i,
        )
        name = f"model-{i:05d}-of-{len(SHARDS):05d}.safetensors"
        r.add("shard", "export", 0.0, path=name, size_bytes=size, done=i, total=len(SHARDS))
    for name, size in FILES:
        r.add(
            "file",
            "export",
            0.05,
            path=inject or name if name == "config.json" else name,
            size_bytes=size,
        )
    return total


def _summary(r: _Rows, loss: float, total: int) -> None:
    """The summary row, last (`total`: the bytes of the shards)."""
    r.add("phase", "summary", 0.5, text="Summary")
    r.add(
        "summary",
        "summary",
        0.0,
        elapsed=r.t,
        epoch=EPOCHS,
        step=TOTAL_STEPS,
        loss=loss,
        ppl=math.exp(loss),
        avg_gpu_util=98.9,
        peak_mem_mib=71_150.0,
        path="./outputs/synthetic-llama-1b/final/",
        size_bytes=total + sum(size for _, size in FILES),
        restarts=0,
        redone=0,
        lost_s=0.0,
    )


# --- the engineer's terminal around the job (trace format 2.4) -------------------------------

LOGIN = "login-01"
PROMPT = "jdoe@login-01:~/llm$ "
LAUNCH = "torchrun --nnodes 2 --nproc-per-node 8 --rdzv-endpoint node-a01:29500 train.py"
UPLOAD = "huggingface-cli upload jdoe/llama-1b-sft ./outputs/synthetic-llama-1b/final ."
MONITOR_INTERVAL = 1.0
PIDS = tuple(str(4_172_301 + i) for i in range(8))
TERMINAL_CONFIG: dict[str, Any] = {
    "login_host": LOGIN,
    "tmux_session": "train",
    "monitor_interval": MONITOR_INTERVAL,
    "driver_version": "570.133.20",
    "driver_cuda_version": "12.8",
}
WANDB_LINES = (
    "",
    "Run history:",
    "         train/loss █▆▄▃▂▂▁▁",
    "Run summary:",
    "         train/loss 1.4823",
    "🚀 View run sft-1b at: https://wandb.ai/jdoe/llama-sft/runs/a1b2c3d4",
    "Find logs at: ./wandb/run-20260101_000000-a1b2c3d4/logs",
)


def _type(rows: list[dict[str, Any]], t: float, command: str, window: str) -> float:
    """A command typed in bursts of a few keys, then Enter; the time after it."""
    for i in range(0, len(command), 5):
        t += 0.15
        rows.append(
            {"t": t, "kind": "shell", "phase": "init", "op": "keys", "text": command[i : i + 5]}
        )
    t += 0.3
    rows.append({"t": t, "kind": "shell", "phase": "init", "op": "enter", "origin": window})
    return t


def terminal_rows(rows: list[dict[str, Any]], gpus_per_node: int = 8) -> list[dict[str, Any]]:
    """`rows` inside an engineer's terminal: the prompt and the typed launch first, node 0's
    GPUs sampled every MONITOR_INTERVAL, the workers in nvidia-smi's process list, wandb's
    closing lines, the prompt back, an upload with a bar per file, the prompt again."""
    shift = 3.0  # the job's rows start once the command is typed
    out: list[dict[str, Any]] = [
        {
            "t": 0.0,
            "kind": "shell",
            "phase": "init",
            "op": "prompt",
            "text": PROMPT,
            "origin": "bash",
        }
    ]
    _type(out, 0.2, LAUNCH, "python")
    job = [{**row, "t": row["t"] + shift} for row in rows if row["kind"] != "summary"]
    summary = [{**row, "t": row["t"] + shift} for row in rows if row["kind"] == "summary"]
    start = shift + 0.5
    for i in range(gpus_per_node):
        out.append(
            {
                "t": start,
                "kind": "process",
                "phase": "init",
                "op": "start",
                "rank": i,
                "origin": PIDS[i],
                "text": "/usr/bin/python",
            }
        )
    train_end = max(r["t"] for r in job if r["kind"] == "step")
    t = train_end + 0.5
    for line in WANDB_LINES:
        t += 0.05
        out.append(
            {
                "t": t,
                "kind": "log",
                "phase": "summary",
                "level": "INFO",
                "source": "wandb",
                "text": line,
            }
        )
    t += 0.2
    for i in range(gpus_per_node):
        out.append({"t": t, "kind": "process", "phase": "summary", "op": "exit", "rank": i})
    out.append(
        {
            "t": t + 0.1,
            "kind": "shell",
            "phase": "summary",
            "op": "prompt",
            "text": PROMPT,
            "origin": "bash",
        }
    )
    t = _type(out, t + 1.0, UPLOAD, "python")
    for i, size in enumerate(SHARDS, 1):
        name = f"model-{i:05d}-of-{len(SHARDS):05d}.safetensors"
        for k in range(5):
            t += 0.4
            out.append(
                {
                    "t": t,
                    "kind": "progress",
                    "phase": "summary",
                    "op": "upload",
                    "text": name,
                    "done": size * k // 4,
                    "total": size,
                    "unit": "B",
                    "elapsed": 0.4 * k,
                }
            )
    out.append(
        {
            "t": t + 0.2,
            "kind": "shell",
            "phase": "summary",
            "op": "output",
            "source": "plain",
            "text": "https://huggingface.co/jdoe/llama-1b-sft/tree/main/.",
        }
    )
    out.append(
        {
            "t": t + 0.3,
            "kind": "shell",
            "phase": "summary",
            "op": "prompt",
            "text": PROMPT,
            "origin": "bash",
        }
    )
    last = t + 0.3
    samples = [r for r in job if r["kind"] == "telemetry"]
    k = 0
    node = []
    tick = 0.0
    while tick <= max(last, job[-1]["t"]):
        while k + 1 < len(samples) and samples[k + 1]["t"] <= tick:
            k += 1
        src = samples[k]
        wobble = (int(tick) % 5) * 1.5  # the power draw a 1 s monitor sees move
        node.append(
            {
                "t": tick,
                "kind": "node_telemetry",
                "phase": src["phase"],
                "rank": 0,
                "step": src["step"],
                "epoch": src["epoch"],
                **{
                    c: list(src[c][:gpus_per_node])
                    for c in ("gpu_util", "gpu_mem", "gpu_temp", "gpu_clock", "gpu_health")
                },
                "gpu_power": [p + wobble for p in src["gpu_power"][:gpus_per_node]],
            }
        )
        tick += MONITOR_INTERVAL
    merged = sorted([*out, *job, *node], key=lambda r: r["t"])  # stable: ties keep this order
    end = max(r["t"] for r in merged)
    return merged + [{**row, "t": max(row["t"], end)} for row in summary]


def cluster(nodes: int, prefix: str = "node-a") -> dict[str, Any]:
    """Config overrides for a cluster of `nodes` nodes of 8 GPUs (hostnames node-a01...)."""
    hosts = tuple(f"{prefix}{i:02d}" for i in range(1, nodes + 1))
    gpus = 8 * nodes
    return {"gpus": gpus, "nodes": nodes, "hostnames": hosts, "tp": 8, "pp": 1, "dp": nodes}


def write_trace(
    path: Path,
    inject: str | None = None,
    straggler: int | None = None,
    terminal: bool = False,
    **config_overrides: Any,
) -> Path:
    """Write the synthetic trace to `path` and return it; `terminal`: with the engineer's
    terminal around the job (2.4's shell, node_telemetry and process rows, TERMINAL_CONFIG)."""
    rows = build_rows(inject, config_overrides.get("gpus", GPUS), straggler)
    if terminal:
        rows = terminal_rows(rows)
        config_overrides = {**TERMINAL_CONFIG, **config_overrides}
    columns = {name: [row.get(name) for row in rows] for name in COLUMNS}
    columns = {k: v for k, v in columns.items() if any(x is not None for x in v)}
    cfg = config(**config_overrides)
    with TraceWriter(path, cfg) as writer:
        writer.write(make_table(len(rows), columns))
    return path
