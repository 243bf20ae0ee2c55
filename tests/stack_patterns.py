"""Every line each stack may print, as patterns built from the real format strings.

Sources, per group (versions as llmsim's eras, docs/stacks.md):
- transformers 4.57.1: utils/logging.py `enable_explicit_format` ("[%(levelname)s|%(filename)s:
  %(lineno)s] %(asctime)s >> %(message)s"), the example scripts' basicConfig ("%(asctime)s -
  %(levelname)s - %(name)s - %(message)s", datefmt "%m/%d/%Y %H:%M:%S"), trainer.py's
  `Running training`/`Running Evaluation` blocks, the logged dicts (ProgressCallback.on_log),
  trainer_pt_utils.log_metrics, TrainingArguments.__str__, PretrainedConfig.__repr__;
- DeepSpeed 0.18.0: utils/logging.py ("[%(asctime)s] [%(levelname)s] [%(filename)s:%(lineno)d:
  %(funcName)s] %(message)s"), runtime/config.py `print` (the engine configuration dump);
- Megatron-LM core_v0.15.0: training/training.py `training_log` and
  `evaluate_and_print_results`, training/arguments.py `_print_args`, training/initialize.py,
  training/checkpointing.py, core/timers.py, core/utils.py (straggler report), and the records
  megatron.core logs in Python's default format;
- torchtitan v0.2.0: tools/logging.py ("[titan] %(asctime)s - %(name)s - %(levelname)s -
  %(message)s") behind run_train.sh's `--tee 3` (`[rank0]:`);
- torch 2.8/2.9 elastic agent (glog prefix `{L}%m%d %H:%M:%S.uuu000 {pid} {path}:{line}]`),
  NCCL 2.27 (`{host}:{pid}:{tid} [{dev}] NCCL INFO ...`), and the run's own tooling and the
  player's frame (bars, Saved lines, the summary box, the success line).
"""

from __future__ import annotations

import re
from typing import Final

Patterns = tuple[re.Pattern[str], ...]

MILLIS: Final = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
SECS: Final = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
US_DATE: Final = r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d"
NUM: Final = r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?"
E6: Final = r"\d\.\d{6}E[+-]\d\d"


def _all(*patterns: str) -> Patterns:
    return tuple(re.compile(p) for p in patterns)


# --- shared by every stack (launcher, NCCL, the run's tooling, the player's frame) ---------
SHARED: Final = _all(
    r"",
    r"[IWE]\d{4} \d\d:\d\d:\d\d\.\d{3}000 \d+ torch/distributed/(run\.py|launcher/api\.py|"
    r"elastic/agent/server/(api|local_elastic_agent)\.py|elastic/multiprocessing/api\.py):\d+\] .*",
    r"(\[rank0\]:)?[\w-]+:\d+:\d+ \[\d\] NCCL INFO .*",
    rf"\[{SECS}\] (INFO|WARNING) +(export|monitor) +\| .*",
    r"[\w .-]+ +\d+%\|[█▏▎▍▌▋▊▉ ]*\| [\d.,]+ ?\w*/[\d.,]+ ?\w* \[[\d:]+<[\d:]+.*\]",
    r"[╭╮╰╯│├┤┬┴┼─━┃┏┓┗┛┣┫┳┻╋].*",  # the summary box
    r" +Training summary",
    r"✔ Training completed successfully!",
)

# --- Hugging Face Trainer (both HF stacks) -------------------------------------------------
HF: Final = _all(
    rf"\[(INFO|WARNING)\|[\w/]+\.py:\d+\] {MILLIS} >> .*",
    rf"{US_DATE} - (INFO|WARNING) - [\w.]+ - .*",
    rf"\{{'loss': {NUM}, 'grad_norm': {NUM}, 'learning_rate': {NUM}, 'epoch': {NUM}\}}",
    rf"\{{'eval_loss': {NUM}, 'eval_runtime': {NUM}, 'eval_samples_per_second': {NUM}, "
    rf"'eval_steps_per_second': {NUM}, 'epoch': {NUM}\}}",
    rf"\{{'train_runtime': {NUM}, 'train_samples_per_second': {NUM}, "
    rf"'train_steps_per_second': {NUM}, 'train_loss': {NUM}, 'epoch': {NUM}\}}",
    r"[_a-z0-9]+=.*,",  # TrainingArguments(...) body
    r"\)",
    r' *("[\w.]+": ?.*|[{}\[\]],?|"[\w.]+",?|[\d.e+-]+,?)',  # JSON bodies (configs)
    r"\*\*\*\*\* (Running Evaluation|train metrics) \*\*\*\*\*",
    r"  \w+ +=\s+\S+",
    r"Training completed\. Do not forget to share your model on huggingface\.co/models =\)",
    r"(Running tokenizer on dataset|Grouping texts in chunks of \d+) \(num_proc=\d+\): "
    r"100%\|█{10}\| \d+/\d+ \[[\d:]+<00:00, [\d.]+ examples/s\]",
)
DEEPSPEED: Final = _all(rf"\[{MILLIS}\] \[(INFO|WARNING)\] \[\w+\.py:\d+:\w+\] .*")
ACCELERATE: Final = _all(rf"{US_DATE} - INFO - accelerate\.utils\.fsdp_utils - .*")

# --- Megatron-LM ---------------------------------------------------------------------------
MEGATRON: Final = _all(
    rf" \[{SECS}\] iteration +\d+/ +\d+ \| consumed samples: +\d+ \| elapsed time per "
    rf"iteration \(ms\): [\d.]+ \| throughput per GPU \(TFLOP/s/GPU\): [\d.]+ \| learning "
    rf"rate: {E6} \| global batch size: +\d+ \| lm loss: {E6} \| loss scale: 1\.0 \| grad "
    r"norm: [\d.]+ \| number of skipped iterations: +\d+ \| number of nan iterations: +\d+ \|",
    r"-+",
    # training.py: f' validation loss at {prefix} | ', prefix 'iteration N' in the loop and
    # 'iteration N on validation set' after it
    rf" validation loss at iteration \d+( on validation set)? \| lm loss value: {E6} \| "
    rf"lm loss PPL: {E6} \| ",
    r"using world size: \d+, data-parallel size: \d+, context-parallel size: 1, hierarchical "
    r"context-parallel sizes: None, tensor-model-parallel size: \d+, pipeline-model-parallel "
    r"size: \d+",
    r"using torch\.bfloat16 for parameters \.\.\.",
    r"-+ (end of )?arguments -+",
    r"  \w+ \.+ .*",
    r"setting number of microbatches to constant \d+",
    r"> building HuggingFaceTokenizer tokenizer \.\.\.",
    r" > padded vocab \(size: \d+\) with \d+ dummy tokens \(new size: \d+\)",
    r"> initializing torch distributed \.\.\.",
    r"> initialized (tensor|pipeline) model parallel with size \d+",
    r"> setting random seeds to \d+ \.\.\.",
    r"> compiling (dataset index builder|and loading fused kernels) \.\.\.",
    r"make: (Entering|Leaving) directory '.*'|make: Nothing to be done for 'default'\.",
    r">>> done with (dataset index builder|compiling and loading fused kernels)\. "
    r"Compilation time: [\d.]+ seconds",
    r"time to initialize megatron \(seconds\): [\d.]+",
    rf"\[[\w ,]+\] datetime: {SECS} ",
    r"building GPT model \.\.\.",
    r" > number of parameters on \(tensor, pipeline\) model parallel rank \(\d+, \d+\): \d+",
    r"(INFO|WARNING):megatron\.core\.(?!utils:)[\w.]+:.*",
    # StragglerDetector.report (core/utils.py): f"{now} | MnRtt/Rnk: ..." then the extremes;
    # _ValueWithRank prints f"{value:.2f}{unit}/{rank}" (power_draw is mW, labelled W)
    r"INFO:megatron\.core\.utils:\["
    + SECS
    + r"\] "
    + r"".join(
        rf"\| {k}/Rnk: [\d.]+{u}/\d+ "
        for k, u in (
            ("MnRtt", "ms"),
            ("MxRtt", "ms"),
            ("MnPwr", "W"),
            ("MxPwr", "W"),
            ("MnTmp", "C"),
            ("MxTmp", "C"),
            ("MnUtl", "%"),
            ("MxUtl", "%"),
            ("MnClk", "MHz"),
            ("MxClk", "MHz"),
            ("MnDRtt", "us"),
            ("MxDRtt", "us"),
            ("MnEtpt", "TF"),
        )
    )
    + r"\| MxEtpt/Rnk: [\d.]+TF/\d+",
    r"INFO:megatron\.core\.utils:\^\^\^\^ (Bottom|Top   ) \d+ Ranks with (lowest |highest) "
    r"Etpt\(TF\):( [\d.]+TF/\d+,)+",
    r"Params for bucket \d+ \(\d+ elements, \d+ padded size\):",
    r"\s+module\.[\w.]+",
    r" loading distributed checkpoint from \S+ at iteration \d+",
    r"  successfully loaded checkpoint from \S+ \[ t \d+/\d+, p \d+/\d+ \] at iteration \d+",
    r"\(min, max\) time across ranks \(ms\):",
    r"    [\w/-]+ \.+: \([\d.]+, [\d.]+\)",
    r"> building train, validation, and test datasets( for GPT)? \.\.\.",
    r" > datasets target sizes \(minimum size\):",
    r"    (train|validation|test): +\d+",
    r"> finished creating GPT datasets \.\.\.",
    r"done with setup \.\.\.",
    r"training \.\.\.",
    r"Overwriting rerun_state_machine\.current_iteration from \d+ to \d+\.\.\.",
    r"saving checkpoint at iteration +\d+ to \S+ in torch_dist format",
    r"  successfully saved checkpoint from iteration +\d+ to \S+ \[ t \d+/\d+, p \d+/\d+ \]",
    r"\[Rank \d+\] \(after \d+ iterations\) memory \(MB\) \| allocated: [\d.]+ \| max "
    r"allocated: [\d.]+ \| reserved: [\d.]+ \| max reserved: [\d.]+",
)

# --- torchtitan ----------------------------------------------------------------------------
TITAN: Final = _all(rf"\[rank0\]:\[titan\] {MILLIS} - root - (INFO|WARNING) - .*")

ALLOWED: Final[dict[str, Patterns]] = {
    "hf": SHARED + HF + ACCELERATE,
    "hf-deepspeed": SHARED + HF + DEEPSPEED,
    "megatron": SHARED + MEGATRON,
    "torchtitan": SHARED + TITAN,
}
# Lines only that stack prints: a line of one of these in another stack's run is a tell.
EXCLUSIVE: Final[dict[str, Patterns]] = {
    "hf": ACCELERATE,
    "hf-deepspeed": DEEPSPEED,
    "megatron": tuple(
        p for p in MEGATRON if p.pattern.startswith((" \\[", " validation", "using world", "(INFO"))
    ),
    "torchtitan": TITAN,
}
HF_FAMILY: Final = (HF[0], HF[1], HF[2])  # both HF stacks print these, nobody else


def unmatched(stack: str, lines: list[str]) -> list[str]:
    """Lines no allowed pattern of the stack matches."""
    allowed = ALLOWED[stack]
    return [ln for ln in lines if not any(p.fullmatch(ln) for p in allowed)]


def foreign(stack: str, lines: list[str]) -> list[str]:
    """Lines that match another stack's exclusive patterns."""
    others = [p for s, ps in EXCLUSIVE.items() if s != stack for p in ps]
    if stack not in ("hf", "hf-deepspeed"):
        others += HF_FAMILY
    return [ln for ln in lines if any(p.fullmatch(ln) for p in others)]
