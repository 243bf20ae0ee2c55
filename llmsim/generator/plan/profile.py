"""StackProfile: what differs between training stacks, as the plan and the phases ask it.

The plan defines this interface; one profile per stack implements it
(generator/stacks/<name>/profile.py), holding the stack's facts as data and
its rules as small methods: which runs it takes, how it lays a model out and shards its states,
how it counts FLOPs, when it logs, evaluates and saves, how it names checkpoints, its software
era, launchers and launch environment, its timeouts. The rest of the generator asks the profile
and never compares stack names. What the stack prints lives beside the profile, in its
StackRun (generator/stacks/common/run.py); the registry (generator/stacks/registry.py) maps a
name to both.

A rule that returns None has no opinion of its own: the plan then uses its common rule (the
log interval of a stack that sets none, the window-based save interval, ...).

It imports only the catalogue and the plan's value types (a layout), never the plan's logic
nor the stacks: the plan sits below them (the import contract of pyproject.toml).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

from llmsim.generator.catalog.architecture import ModelSpec, param_count, six_n
from llmsim.generator.catalog.datasets import Corpus
from llmsim.generator.catalog.exportform import SAVE_PRETRAINED, ExportForm
from llmsim.generator.catalog.software import Era
from llmsim.generator.plan.layout import Layout, Recompute, Sharding
from llmsim.generator.plan.postspec import PostSpec, PostStyle
from llmsim.trace.vocab import Launcher, RunKind, Stack

MERGED_INFO_MAX: Final = 64  # ranks whose merged output may carry NCCL's INFO set-up
# NCCL_DEBUG of a launch: INFO prints every process's communicator set-up, WARN only rank 0's
# bare `NCCL version` line (NCCL 2.27 src/init.cc showVersion, src/debug.cc)
NcclDebug = Literal["INFO", "WARN"]


@dataclass(frozen=True, kw_only=True)
class Benchmark:
    """A published throughput figure and the layout it was measured with. A stack's own figures
    calibrate the step-time model (plan/throughput.py; scripts/throughput prints them beside
    ours, docs/realism.md carries the table); a `ceiling` is another implementation's figure
    the stack stays below (PyTorch-native FSDP above the HF Trainer)."""

    label: str
    model: str  # a catalogue model, or a GPT of Megatron's table with `gpt` set
    gpu: str  # a catalogue GPU type
    gpus: int
    tp: int = 1
    pp: int = 1
    micro_batch: int
    global_batch: int  # sequences per step
    seq_len: int
    recompute: Recompute
    compiled: bool = False
    tokens_per_gpu: float | None = None  # published tok/s per GPU
    mfu: float | None = None  # published MFU, with the stack's FLOP formula
    source: str  # file and tag (or page) it comes from
    gpt: tuple[int, int, int] | None = None  # (hidden, layers, heads): MHA, 4h MLP, 131k vocab
    ceiling: bool = False


@dataclass(frozen=True, kw_only=True)
class StackProfile:
    """One training stack's facts and rules. Subclasses override the rules that differ (and
    may give fields defaults of their own: the fields are keyword-only)."""

    name: Stack
    era: Era  # the software set its runs use: versions, release date, launchers
    weight: float  # its share of drawn runs
    entrypoint: str  # what the launcher runs: a script or a module (torchrun's launch configs)
    modes: tuple[tuple[int, Recompute], ...]  # (ZeRO stage, recompute) pairs its runs use
    # checkpoints, as format patterns: one checkpoint's folder, and where the folders go
    checkpoint_pattern: str  # a format with {step}, as the stack names a checkpoint
    checkpoints_under: str  # a format with {output_dir}, as --save or --output_dir says
    # --- memory and speed
    fragmentation: tuple[float, float] = (0.05, 0.12)  # allocator's reserved / allocated - 1
    selective_share: float = 0.95  # activations kept under selective recomputation
    selective_extra: float | None = None  # forward share recomputed (None: the common 5 %)
    logit_bytes: float = 10.0  # per token and vocabulary entry on the last stage
    # Seconds its unfused (memory-bound) kernels take per second of matmuls on an H100: 0 for
    # Megatron's Transformer Engine kernels (the reference), more for eager PyTorch modelling
    # code; `compiled_overhead` the same under torch.compile (None: its runs never compile).
    eager_overhead: float = 0.0
    compiled_overhead: float | None = None
    tp_overlap: float = 0.0  # share of its tensor-parallel collectives hidden behind GEMMs
    benchmarks: tuple[Benchmark, ...] = ()  # published figures it is calibrated against
    eval_global_batch: bool = False  # an evaluation iteration runs a whole global batch
    # --- what a pretraining run of this stack is
    continued_pretraining: bool = False  # a short continued-pretraining stage, not a schedule
    corpora: tuple[str, ...] | None = None  # corpora it can read (short names; None: any)
    # --- cadences: which steps log, evaluate and save
    logs_first_step: bool = True  # a step line at step 1 besides every log interval
    evaluates_first_step: bool = False  # a validation pass after step 1
    evaluates_after_loop: bool = False  # one more validation after the loop, at the last step
    saves_before_eval: bool = False  # at a step that does both, the save comes first
    last_save_model_only: bool = False  # the last step saves the model only (no optimizer)
    window_evals: int = 3  # evaluations a pretraining window is sized for
    min_eval_batches: int = 5  # fewest batches of an evaluation pass
    # --- how numbers print
    loss_decimals: int = 4  # decimals of the printed training loss
    val_float32: bool = False  # validation loss printed as the float of a float32 tensor
    window_mean_loss: bool = True  # a printed loss is its log window's mean (else the step's)
    export_source_pattern: str = "{path}"  # what the export converts, as its first line says
    export_form: ExportForm = SAVE_PRETRAINED  # the files its converter writes (issue 21)
    # --- launch and timings
    startup_extra_s: float = 0.0  # start-up work beyond the common (compiling helpers)
    first_step_compile_s: tuple[float, float] | None = None  # compilation in the first step
    compile_chance: float = 0.0  # share of runs that torch.compile their blocks
    straggler_report_chance: float = 0.0  # share of multi-node runs that log stragglers
    # The job's collective timeout (seconds) as its config sets it: torchtitan's
    # comm.init_timeout_seconds (train.py lowers it to train_timeout_seconds only after step 1
    # of a job that starts from scratch; these jobs resume), Megatron's
    # --distributed-timeout-minutes 5, the HF scripts' --ddp_timeout 300.
    collective_timeout_s: int = 300
    rank0_only: bool = False  # only rank 0's lines reach the console shown
    # torchrun's launch: its --role (the agent's `[role]` and, with --tee, the workers'
    # `[{role}{local_rank}]:`), the --max-restarts values its launches use, a fixed --rdzv_id
    agent_role: str = "default"
    torchrun_restarts: tuple[int, ...] = (0, 3)
    rdzv_id: str | None = None
    rdzv_by_ip: bool = False  # the launch names the rendezvous host by its address
    # --- post-training (lora, dpo, grpo)
    post_style: PostStyle | None = None  # how it runs RL jobs (None: it runs none)
    logs_after_pauses: bool = False  # a step's line follows that step's validation and save
    # A lost rank's job is relaunched from its last checkpoint (False: the runs shown here
    # keep their ranks: verl's crash through Ray is not modelled, docs/stacks.md)
    rank_failures: bool = True

    # --- which runs it takes

    def refusal(self, kind: RunKind, spec: ModelSpec) -> str | None:
        """Why this stack would not run `spec` as a `kind` run (one line), or None."""
        return None

    def seq_lens(self, kind: RunKind) -> tuple[int, ...]:
        """Sequence lengths its runs of this kind use (the model's limit applies)."""
        return (4096, 8192) if kind == "pretrain" else (2048, 4096)

    # --- layout, memory and FLOPs

    def splits(self, spec: ModelSpec, gpus: int) -> list[tuple[int, int]]:
        """(tp, pp) pairs it would use for this model and GPU count, smallest first."""
        return [(1, 1)]

    def modes_for(self, spec: ModelSpec) -> tuple[tuple[int, Recompute], ...]:
        """The (ZeRO stage, recompute) pairs its runs of `spec` use (all of `modes` by default)."""
        return self.modes

    def sharding(self, layout: Layout) -> Sharding:
        """How the training states of `layout` are sharded over the data-parallel ranks."""
        return "fsdp"

    def rank_params(self, spec: ModelSpec, layout: Layout, stage: int) -> int:
        """Parameters of the replica slice a rank of this pipeline stage works on."""
        return param_count(spec) // layout.tp

    def kernel_overhead(self, compiled: bool) -> float:
        """Seconds in unfused kernels per second of matmuls on an H100 (plan/throughput.py)."""
        if compiled and self.compiled_overhead is not None:
            return self.compiled_overhead
        return self.eager_overhead

    def flops_per_token(self, spec: ModelSpec, seq_len: int, tp: int) -> float:
        """The model FLOPs per token it prints its TFLOP/s and MFU with (6N by default)."""
        return six_n(spec)

    def strategy(self, layout: Layout) -> str:
        """How `llmsim info` and the docs name a multi-GPU layout."""
        return f"data parallel over {layout.dp} ranks"

    # --- post-training

    def metric_keys(
        self, kind: RunKind, post: PostSpec | None, rng: np.random.Generator
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The keys its step and eval lines print besides the trace's common columns
        (config.metric_keys, eval_metric_keys), in print order; `rng` for orders a run draws."""
        return (), ()

    def step_prefix(self, rng: np.random.Generator) -> str:
        """What its step lines start with (a process prefix some launchers add; `rng` for the
        process id a run draws)."""
        return ""

    # --- schedule and cadence

    def log_interval(self, step_s: float) -> int | None:
        """How often it prints its step line for steps of `step_s` seconds (None: the common
        rule, a line every ~12 seconds)."""
        return None

    def save_interval(self, log: int, step_s: float, rng: np.random.Generator) -> int | None:
        """Its pretraining runs' save (= evaluation) interval, drawn (None: sized by the
        window, evaluations every third of it and saves every half)."""
        return None

    def typed_cadences(
        self, log: int, every_eval: int, every_save: int, total: int
    ) -> tuple[int, int, int]:
        """(logging, evaluation, save) intervals as the stack's users type them, from the ones
        the common rule sized for the run (the default keeps those)."""
        return log, every_eval, every_save

    def align_window(
        self, resume: int, window: int, every: int, log: int, fixed: bool, rng: np.random.Generator
    ) -> tuple[int, int]:
        """(resume step, window) of a pretraining trace, moved to the stack's boundaries."""
        return resume, window

    def reads(self, corpus: Corpus) -> bool:
        """Whether its pretraining runs can read `corpus`."""
        return self.corpora is None or corpus.short in self.corpora

    def evaluates(self, steps: np.ndarray, interval: int, total: int) -> np.ndarray:
        """Which of `steps` end with a validation pass."""
        every: np.ndarray = steps % interval == 0
        if self.evaluates_first_step:
            every |= steps == 1
        if self.evaluates_after_loop:
            every |= steps == total
        return every

    def saves_first(self, step: int, total: int) -> bool:
        """Whether the save comes before the evaluation at `step` (the save after the loop
        precedes the evaluation after it)."""
        return self.saves_before_eval or (self.evaluates_after_loop and step == total)

    def model_only_save(self, step: int, total: int) -> bool:
        """Whether the save at `step` holds the model only (bf16), not the training state."""
        return self.last_save_model_only and step == total

    # --- checkpoints

    def checkpoint_name(self, step: int) -> str:
        """The folder of the checkpoint of `step`, as the stack names it."""
        return self.checkpoint_pattern.format(step=step)

    def checkpoint_dir(self, output_dir: str) -> str:
        """The folder its checkpoints go into."""
        return self.checkpoints_under.format(output_dir=output_dir)

    def checkpoint_path(self, output_dir: str, step: int) -> str:
        """The checkpoint of `step`: its folder in the checkpoint folder."""
        return f"{self.checkpoint_dir(output_dir)}/{self.checkpoint_name(step)}"

    def export_source(self, output_dir: str, step: int, layout: Layout) -> str:
        """The checkpoint the export converts, as its first line names it."""
        path = self.checkpoint_path(output_dir, step)
        return self.export_source_pattern.format(path=path, step=step, zero=layout.zero_stage)

    # --- launch

    def launchers(self, gpus: int) -> tuple[Launcher, ...]:
        """Launchers a job of `gpus` GPUs may use."""
        return self.era.launchers

    def launch_env(self, nodes: int) -> Mapping[str, str]:
        """Environment variables its launch recipe sets that change what the job prints."""
        return {}

    def merged_output(self, gpus: int, launcher: Launcher) -> bool:
        """Whether the console shows every rank's output merged (srun runs one task per GPU
        and collects their stdout), not only node 0's workers (torchrun, launch.py)."""
        return launcher == "srun"

    def nccl_debug_levels(self, gpus: int, launcher: Launcher) -> tuple[NcclDebug, ...]:
        """NCCL_DEBUG values its launches use (one is drawn per run). INFO makes every process
        print its communicator set-up: not where more than MERGED_INFO_MAX ranks' output is
        merged (nobody runs that: sixty lines from each of hundreds of ranks)."""
        if self.merged_output(gpus, launcher) and gpus > MERGED_INFO_MAX:
            return ("WARN",)
        return ("INFO", "WARN")

    def agent_info(self, nodes: int) -> bool:
        """Whether torchrun's agent logs at INFO (LOGLEVEL=INFO in the launch environment)."""
        return self.launch_env(nodes).get("LOGLEVEL") == "INFO"
