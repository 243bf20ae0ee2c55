"""The run configuration stored as JSON in a trace's file metadata (key `llmsim.config`).

It holds what the player needs to lay a run out and what a reader of the trace wants to know
(model, cluster, stack, batch, schedule, cadences). The generator's private numbers (speeds,
bandwidths, memory budget, incident schedule) stay in its own plan and never reach the trace.
Unknown keys from a newer minor version are ignored.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any, Final

from llmsim.errors import one_line
from llmsim.trace.errors import TraceError
from llmsim.trace.upgrade import upgrade_config
from llmsim.trace.vocab import (
    ADAPTERS,
    INCIDENT_RATES,
    LAUNCHERS,
    PRECISIONS,
    RUN_KINDS,
    STACKS,
    Adapter,
    IncidentRate,
    Launcher,
    Precision,
    RunKind,
    Stack,
)

MAX_GPUS: Final = 65_536
MAX_STEPS: Final = 50_000_000
MAX_CONFIG_TEXT: Final = 1_000  # characters of any one string in the config (names, hosts...)
MAX_INT: Final = 10**15
MAX_INT_DIGITS: Final = 20  # a config integer is parsed only if it has at most this many digits
MAX_BRACKETS: Final = 64  # the config is a flat object with three lists: refuse deep nesting unread

# Keys a trace may leave out (added in a minor version; None when absent).
OPTIONAL_KEYS: Final = frozenset(
    {"login_host", "tmux_session", "monitor_interval", "driver_version", "driver_cuda_version"}
)
# Config fields whose values come from a vocabulary (llmsim.trace.vocab).
_CHOICES: Final[dict[str, tuple[str, ...]]] = {
    "kind": RUN_KINDS,
    "stack": STACKS,
    "launcher": LAUNCHERS,
    "precision": PRECISIONS,
    "incidents": INCIDENT_RATES,
    "adapter": ADAPTERS,
}


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one simulated training run. See docs/trace-format.md."""

    # identity
    name: str  # run name, also the output folder: ./outputs/<name>/
    model: str  # display name, e.g. "Llama-3-8B"
    hub_id: str  # e.g. "meta-llama/Meta-Llama-3-8B" ("" for invented models)
    family: str  # architecture family, e.g. "llama"
    invented: bool  # True for the catalogue's made-up models
    kind: RunKind
    stack: Stack  # the one software stack that trains the run and prints its lines
    launcher: Launcher
    incidents: IncidentRate  # how often things were allowed to go wrong
    seed: int
    generator_version: str
    start_time: float  # unix seconds (UTC) of t = 0; casts print times from it
    # architecture
    params: int
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    vocab: int
    max_position_embeddings: int
    tied_embeddings: bool
    qkv_bias: bool
    # cluster
    gpu: str  # e.g. "NVIDIA H100 80GB HBM3"
    gpu_short: str  # e.g. "H100"
    gpu_memory_mib: int
    gpu_tdp_w: int
    gpu_peak_tflops: float  # dense bf16
    gpu_max_clock_mhz: int
    gpus: int
    gpus_per_node: int
    nodes: int
    hostnames: tuple[str, ...]
    interconnect: str
    # parallelism and memory (per GPU, rank 0, GiB)
    tp: int
    pp: int
    dp: int
    strategy: str  # how the init logs and `info` name the layout
    mem_weights_gib: float
    mem_grads_gib: float
    mem_optimizer_gib: float
    mem_activations_gib: float
    # batch and schedule
    precision: Precision
    seq_len: int
    micro_batch: int
    grad_accum: int
    global_batch: int  # sequences per optimizer step
    global_batch_tokens: int
    epochs: int
    steps_per_epoch: int
    total_steps: int  # the schedule's last step (the run ends and exports there)
    resume_step: int  # the trace starts after this step (0: from the first step)
    warmup_steps: int
    lr_peak: float
    lr_min: float
    schedule: str
    grad_clip: float
    weight_decay: float
    adam_beta1: float
    adam_beta2: float
    dataset: str
    dataset_tokens: int
    # cadence
    log_interval: int  # the stack prints a step line every this many steps
    log_first_step: bool  # ... and after step 1 (2.3)
    eval_interval: int  # validation every this many steps (and at each epoch end)
    eval_after_loop: bool  # one more validation after the loop, at total_steps (2.3)
    eval_batches: int
    checkpoint_interval: int
    checkpoint_dir: str  # the folder checkpoints go into; a checkpoint row's path is in it (2.3)
    last_save_model_only: bool  # the save at total_steps holds the model only (2.3)
    save_total_limit: int
    telemetry_interval: float  # seconds between telemetry samples
    patience_limit: int
    # software
    torch_version: str
    cuda_version: str
    nccl_version: str
    transformers_version: str
    stack_version: str  # the stack's own version: DeepSpeed, Megatron core, torchtitan, accelerate
    output_dir: str  # "./outputs/<name>"
    # post-training (2.5)
    trainable_params: int  # what the optimizer updates: `params`, or the LoRA adapters' count
    adapter: Adapter  # none (every weight trains), lora (bf16 base), qlora (4-bit NF4 base)
    lora_rank: int  # r of the adapters (0 without)
    lora_alpha: int  # lora_alpha (0 without)
    metric_keys: tuple[str, ...]  # the stack's keys a step row's `metrics` holds, in order
    eval_metric_keys: tuple[str, ...]  # ... and an eval row's
    reward_min: float  # the lowest total reward the run's reward functions can give
    reward_max: float  # ... and the highest (both 0 for runs without rewards)
    step_prefix: str  # what the stack's step lines start with (verl: its Ray actor's prefix)
    # Optional (2.4): the engineer's terminal around the job. Absent (None) in older traces;
    # left out of the JSON when None, so a trace without them is written as before.
    login_host: str | None = None  # host of the tmux session and its shell (the `shell` rows)
    tmux_session: str | None = None  # the tmux session's name ("0" when tmux named it)
    monitor_interval: float | None = None  # seconds between node_telemetry rows (watch -n)
    driver_version: str | None = None  # NVIDIA driver as nvidia-smi prints it: 570.133.20
    driver_cuda_version: str | None = None  # nvidia-smi's `CUDA Version` (the driver's): 12.8

    def node_of(self, rank: int) -> int:
        """The node (index into `hostnames`) global rank `rank` runs on."""
        return rank // self.gpus_per_node

    def local_rank(self, rank: int) -> int:
        """Global rank `rank`'s GPU on its node (its LOCAL_RANK, cudaDev)."""
        return rank % self.gpus_per_node

    def to_json(self) -> str:
        """Serialise to the JSON stored in the trace metadata (keys sorted: deterministic)."""
        data = dataclasses.asdict(self)
        data["hostnames"] = list(self.hostnames)
        data["metric_keys"] = list(self.metric_keys)
        data["eval_metric_keys"] = list(self.eval_metric_keys)
        for name in OPTIONAL_KEYS:
            if data[name] is None:
                del data[name]
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes, minor: int | None = None) -> RunConfig:
        """Parse and check the metadata JSON of a trace of minor version `minor` (None: this
        version); raise TraceError on anything malformed. A config of an older minor version
        gets the keys it left implicit (llmsim.trace.upgrade).

        Bounded before it is parsed: nesting (a flat object holds a handful of brackets) and
        the digits of every number are limited, so no input reaches Python's recursion or
        big-integer limits.
        """
        raw = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
        if raw.count(b"[") + raw.count(b"{") > MAX_BRACKETS:
            raise TraceError("run config is nested too deeply")
        try:
            data = json.loads(raw, parse_int=_parse_int, parse_constant=_no_constant)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise TraceError(f"run config is not valid JSON ({one_line(exc, 120)})") from None
        if not isinstance(data, dict):
            raise TraceError("run config is not a JSON object")
        if minor is not None:
            data = upgrade_config(data, minor)
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                if f.name in OPTIONAL_KEYS:
                    continue
                raise TraceError(f"run config lacks the key {f.name!r}")
            typ = str(f.type)
            if f.name in OPTIONAL_KEYS:
                if data[f.name] is None:
                    continue
                typ = typ.removesuffix(" | None")
            kwargs[f.name] = _check_value(f.name, typ, data[f.name])
        config = cls(**kwargs)
        config.check()
        return config

    def check(self) -> None:
        """Raise TraceError where the config contradicts itself or is beyond any real run."""
        if self.gpus != self.nodes * self.gpus_per_node:
            raise TraceError(f"run config: gpus {self.gpus} != nodes x gpus_per_node")
        if not 1 <= self.gpus <= MAX_GPUS:
            raise TraceError(f"run config: {self.gpus} GPUs is beyond {MAX_GPUS:,}")
        if len(self.hostnames) != self.nodes:
            raise TraceError("run config: hostnames do not match the node count")
        if self.tp * self.pp * self.dp != self.gpus:
            raise TraceError("run config: tp x pp x dp does not equal the GPU count")
        if not 1 <= self.total_steps <= MAX_STEPS:
            raise TraceError(f"run config: total_steps {self.total_steps} out of range")
        if not 0 <= self.resume_step < self.total_steps:
            raise TraceError("run config: resume_step must be below total_steps")
        if self.epochs < 1 or self.steps_per_epoch < 1 or self.log_interval < 1:
            raise TraceError("run config: epochs, steps_per_epoch and log_interval must be >= 1")
        if self.eval_interval < 1 or self.checkpoint_interval < 1:
            raise TraceError("run config: eval_interval and checkpoint_interval must be >= 1")
        if not self.telemetry_interval > 0:
            raise TraceError("run config: telemetry_interval must be > 0")
        if not 1 <= self.trainable_params <= self.params + self.trainable_params:
            raise TraceError("run config: trainable_params must be >= 1")
        if self.adapter == "none" and self.lora_rank:
            raise TraceError("run config: lora_rank without an adapter")
        if self.reward_min > self.reward_max:
            raise TraceError("run config: reward_min is above reward_max")
        if self.monitor_interval is not None and not self.monitor_interval > 0:
            raise TraceError("run config: monitor_interval must be > 0")


def _parse_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"a number with {len(digits)} digits")
    return int(digits)


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _check_value(name: str, typ: str, value: Any) -> Any:
    choices = _CHOICES.get(name)
    if choices is not None:
        if not isinstance(value, str) or value not in choices:
            raise TraceError(f"run config key {name!r} must be one of {', '.join(choices)}")
        return value
    if typ == "str":
        if not isinstance(value, str):
            raise TraceError(f"run config key {name!r} is not a string")
        if len(value) > MAX_CONFIG_TEXT:
            raise TraceError(f"run config key {name!r} is over {MAX_CONFIG_TEXT:,} characters")
        return value
    if typ == "bool":
        if not isinstance(value, bool):
            raise TraceError(f"run config key {name!r} is not a boolean")
        return value
    if typ == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise TraceError(f"run config key {name!r} is not an integer")
        if value < 0 or value > MAX_INT:
            raise TraceError(f"run config key {name!r} is out of range ({value})")
        return value
    if typ == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TraceError(f"run config key {name!r} is not a number")
        if not math.isfinite(value) or abs(value) > 1e15:
            raise TraceError(f"run config key {name!r} is out of range")
        return float(value)
    if typ.startswith("tuple"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TraceError(f"run config key {name!r} is not a list of strings")
        if any(len(v) > MAX_CONFIG_TEXT for v in value):
            raise TraceError(f"run config key {name!r} holds a string over {MAX_CONFIG_TEXT:,}")
        return tuple(value)
    raise TraceError(f"run config key {name!r} has an unsupported type")  # pragma: no cover
