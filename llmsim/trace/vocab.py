"""The vocabularies of the trace: every closed set of names a trace may hold, in one place.

Each vocabulary is a `Literal` type (used as the type of config fields, Event fields, renderer
dispatch keys and palette names) and the tuple of its values (used by the reader to validate
columns and by the CLI to list choices). Nothing else in llmsim spells these names out as a set.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final, Literal, get_args

# What a row is (the `kind` column).
Kind = Literal[
    "phase",  # a chapter of the run starts (cast marker)
    "log",  # one line of text, printed with the prefix of its `source` format
    "progress",  # a long operation advanced (tqdm-like bar)
    "step",  # one optimizer step
    "telemetry",  # one nvidia-smi-like sample of every GPU
    "eval",  # a validation result
    "checkpoint",  # a checkpoint finished saving
    "shard",  # an export weight shard was written
    "file",  # an export companion file was written
    "incident",  # something went wrong (or recovered): spike, straggler, failure, restart...
    "summary",  # the last row: the run's totals
    # added in 2.4 (the engineer's terminal around the job; docs/trace-format.md):
    "shell",  # the login shell: a prompt, keys typed at it, Enter, a command's output line
    "node_telemetry",  # one sample of the monitored node's GPUs, at the monitor's interval
    "process",  # a process started or ended on a GPU of the monitored node (nvidia-smi's list)
]
KINDS: Final[tuple[Kind, ...]] = get_args(Kind)

# The part of the run a row belongs to (the `phase` column).
Phase = Literal["init", "train", "eval", "checkpoint", "export", "summary"]
PHASES: Final[tuple[Phase, ...]] = get_args(Phase)

Level = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LEVELS: Final[tuple[Level, ...]] = get_args(Level)

# How a `log` row's prefix is drawn (the `source` column). The stamp is always the player's
# (playback clock); `origin` fills the logger-location slot; a non-null `rank` adds torchrun's
# `--tee` prefix `[rank{rank}]:` in front of everything. docs/trace-format.md has each template.
LogFormat = Literal[
    "plain",  # the text as it is: NCCL INFO lines, tqdm.write'd dicts, print() output
    "hf",  # transformers explicit format: [LEVEL|origin] %Y-%m-%d %H:%M:%S,mmm >> text
    "hf-script",  # example scripts' logging: %m/%d/%Y %H:%M:%S - LEVEL - origin - text
    "torchrun",  # glog: Lmmdd HH:MM:SS.uuuuuu origin] text   (origin = "pid path:line")
    "c10",  # PyTorch C++: [Lmmdd HH:MM:SS.nnnnnnnnn origin] text   (origin = "file.cpp:line")
    "deepspeed",  # [%Y-%m-%d %H:%M:%S,mmm] [LEVEL] [origin] text   (origin = "file.py:line:func")
    "megatron-ts",  # [%Y-%m-%d %H:%M:%S.ffffff] text (leading spaces of text stay in front)
    "megatron-dated",  # text + %Y-%m-%d %H:%M:%S + " "   ("[after ...] datetime: " lines)
    "titan",  # [titan] %Y-%m-%d %H:%M:%S,mmm - origin - LEVEL - text   (origin = "root")
    "pylog",  # Python's default basicConfig: LEVEL:origin:text
    "inline-stamp",  # text with the playback stamp where it holds `{stamp}`, in the strftime
    #                  pattern that `origin` holds (slurmstepd's CANCELLED AT, torchrun's table)
    "pylog-stamped",  # the same with a stamp opening the message: LEVEL:origin:[%Y-%m-%d %H:%M:%S] text
    "tool",  # the run's own tooling (export script, cluster monitor):
    #          [%Y-%m-%d %H:%M:%S] LEVEL   origin     | text
    "wandb",  # wandb's terminal lines: `wandb: ` (the name blue and bold) then text (2.4)
    "vllm",  # vLLM's logger: LEVEL %m-%d %H:%M:%S [origin] text   (origin = "file.py:line")
    "ray",  # a Ray actor's line as the driver prints it: (origin) text   (origin = "Name pid=N")
    "ray-pylog",  # ... of Python's logging in verl's format: (origin) LEVEL:%Y-%m-%d %H:%M:%S,mmm:text
    "ray-driver",  # Ray's own logger on the driver: %Y-%m-%d %H:%M:%S,mmm<TAB>LEVEL origin -- text
]
LOG_FORMATS: Final[tuple[LogFormat, ...]] = get_args(LogFormat)

# Long operations (the `op` column of `progress` rows).
Op = Literal[
    "load_checkpoint",  # loading weights or a training checkpoint (shards)
    "init_weights",  # initialising a model from scratch
    "eval",  # the evaluation loop
    "checkpoint",  # writing a training checkpoint
    "merge_weights",  # export: gathering the sharded checkpoint
    "optimize",  # export: preparing for inference
    "serialize",  # export: converting to SafeTensors
    "write_shards",  # export: writing the weight files
    "upload",  # a tool at the shell uploads a file (hf upload's bars; 2.4; `rank`: the bar's line, 2.5)
    "convert",  # a converter at the shell (its own tqdm bar, left on screen; 2.5)
]
OPS: Final[tuple[Op, ...]] = get_args(Op)
# The export tool's own operations (its bars stay in the log, as tqdm's leave=True does).
EXPORT_OPS: Final[frozenset[Op]] = frozenset(
    {"merge_weights", "optimize", "serialize", "write_shards"}
)

# Bars of the tools the engineer runs at the shell (2.4, 2.5): drawn by the tmux layout only.
SHELL_TOOL_OPS: Final[frozenset[Op]] = frozenset({"upload", "convert"})

# Units of `done`/`total`.
Unit = Literal["shards", "layers", "tensors", "batches", "samples", "steps", "B", "files"]
UNITS: Final[tuple[Unit, ...]] = get_args(Unit)

# The software stack that trained the run (config.stack).
Stack = Literal["hf", "hf-deepspeed", "megatron", "torchtitan", "trl", "verl"]
STACKS: Final[tuple[Stack, ...]] = get_args(Stack)
STACK_NAMES: Final[dict[Stack, str]] = {
    "hf": "Hugging Face Trainer + Accelerate/FSDP",
    "hf-deepspeed": "Hugging Face Trainer + DeepSpeed ZeRO",
    "megatron": "Megatron-LM",
    "torchtitan": "torchtitan",
    "trl": "TRL (SFT with PEFT LoRA/QLoRA, DPO, GRPO with vLLM) + Accelerate",
    "verl": "verl (GRPO on Ray, vLLM rollout, FSDP training)",
}

# How the job was launched (config.launcher).
Launcher = Literal["torchrun", "deepspeed", "srun", "accelerate", "ray"]
LAUNCHERS: Final[tuple[Launcher, ...]] = get_args(Launcher)

# pretrain and finetune train every weight; lora (LoRA/QLoRA adapters on a frozen base), dpo
# (preference optimisation against a reference model) and grpo (reinforcement learning with
# generated completions and verifiable rewards) are post-training.
RunKind = Literal["pretrain", "finetune", "lora", "dpo", "grpo"]
RUN_KINDS: Final[tuple[RunKind, ...]] = get_args(RunKind)
POST_TRAINING: Final[frozenset[RunKind]] = frozenset({"lora", "dpo", "grpo"})
# Adapters a run trains (config.adapter): none (every weight), LoRA on a bf16 base, LoRA on a
# 4-bit NF4 base (QLoRA).
Adapter = Literal["none", "lora", "qlora"]
ADAPTERS: Final[tuple[Adapter, ...]] = get_args(Adapter)

Precision = Literal["bf16", "fp16"]
PRECISIONS: Final[tuple[Precision, ...]] = get_args(Precision)

# How often incidents happen (config.incidents, `generate --incidents`).
IncidentRate = Literal["none", "rare", "often"]
INCIDENT_RATES: Final[tuple[IncidentRate, ...]] = get_args(IncidentRate)

# What went wrong (the `op` column of `incident` rows).
IncidentKind = Literal[
    "loss_spike",  # grad norm then loss jump, recovering over tens of steps
    "straggler",  # one GPU or node slows every synchronous step
    "thermal",  # one GPU throttles its clocks
    "rank_failure",  # a GPU falls off the bus or a rank hangs: the job dies
    "restart",  # the launcher restarts the workers from the last checkpoint
    "dataloader_stall",  # a slow step waiting for data
    "ecc",  # ECC error count rising on one GPU
    "checkpoint_retry",  # a checkpoint write failed once and was retried
    "overflow",  # fp16 gradient overflow: step skipped, loss scale halved
]
INCIDENT_KINDS: Final[tuple[IncidentKind, ...]] = get_args(IncidentKind)

# What a `shell` row does (its `op` column; 2.4).
ShellOp = Literal[
    "prompt",  # the shell prints its prompt (`text`); the line stays open for typing
    "keys",  # keys typed at the prompt, echoed (`text`: the characters of this burst)
    "enter",  # Enter: the open line ends; `origin`: the command tmux now names the window by
    "output",  # a line a command at the shell printed (not the job's): `text`, `source`...
]
SHELL_OPS: Final[tuple[ShellOp, ...]] = get_args(ShellOp)

# What a `process` row says (its `op` column; 2.4).
ProcessOp = Literal["start", "exit"]
PROCESS_OPS: Final[tuple[ProcessOp, ...]] = get_args(ProcessOp)


class Health(IntEnum):
    """GPU health codes in `gpu_health`, decided by the generator from the same sample."""

    OK = 0
    WARN = 1  # a figure crossed its warning threshold (hot, slow, ECC errors...)
    CRIT = 2  # critical (thermal throttling, a straggler holding back the job)
    LOST = 3  # fell off the bus / not responding: no readings


HEALTH_CODES: Final[tuple[int, ...]] = tuple(int(h) for h in Health)
