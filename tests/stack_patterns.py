"""Every line each stack may print, as patterns built from the real format strings.

Sources, per group (versions as llmsim's eras, docs/stacks.md):
- transformers 4.57.1: utils/logging.py `enable_explicit_format` ("[%(levelname)s|%(filename)s:
  %(lineno)s] %(asctime)s >> %(message)s"), the example scripts' basicConfig ("%(asctime)s -
  %(levelname)s - %(name)s - %(message)s", datefmt "%m/%d/%Y %H:%M:%S"), trainer.py's
  `Running training`/`Running Evaluation` blocks, the logged dicts (ProgressCallback.on_log),
  trainer_pt_utils.log_metrics, TrainingArguments.__str__, PretrainedConfig.__repr__;
- DeepSpeed 0.17.5: utils/logging.py ("[%(asctime)s] [%(levelname)s] [%(filename)s:%(lineno)d:
  %(funcName)s] %(message)s"), runtime/config.py `print` (the engine configuration dump);
- torch 2.8/2.9 Python warnings as warnings.showwarning prints them (`path:line: Category:
  message` and the stripped source line): distributed_c10d.py barrier (2.8: 4807),
  fully_sharded_data_parallel.py set_state_dict_type (2.8: 678);
- bash's `set -x` trace of torchtitan's run_train.sh (`+ cmd`);
- Megatron-LM core_v0.15.0: training/training.py `training_log` and
  `evaluate_and_print_results`, training/arguments.py `_print_args`, training/initialize.py,
  training/checkpointing.py, core/timers.py, core/utils.py (straggler report), and the records
  megatron.core logs in Python's default format;
- torchtitan v0.2.0: tools/logging.py ("[titan] %(asctime)s - %(name)s - %(levelname)s -
  %(message)s") behind run_train.sh's `--tee 3` (`[rank0]:`);
- torch 2.8/2.9 elastic agent (glog prefix `{L}%m%d %H:%M:%S.uuu000 {pid} {path}:{line}]`),
  NCCL 2.27 (`{host}:{pid}:{tid} [{dev}] NCCL INFO ...`), and the classic layout's frame (bars,
  the summary box, the success line);
- wandb 0.22.3's start and end lines (WANDB);
- TRL 0.24.0 (TRL): accelerate 1.11.0 commands/launch.py:1203-1208 (the defaults warning),
  datasets' map bars with the trainers' descriptions (sft_trainer.py:917/947/1045,
  dpo_trainer.py:652/657/664), PEFT 0.17.1 peft_model.py:836-851 (`trainable params: ...`), the
  trainers' logged dicts (transformers ProgressCallback, TRL's `log` overrides), vLLM 0.10.2's
  logger (logger.py:25-27) and weight_utils.py's `_BAR_FORMAT`, trl/scripts/*.py's last prints,
  accelerate's frames of a failed multi-GPU launch (accelerate_cli.py:50, launch.py:1222/1226/853);
- verl 0.6.0 (VERL): the example script's xtrace, main_ppo.py:65 `ray init kwargs`, Ray's driver
  logger (`%(asctime)s\t%(levelname)s %(filename)s:%(lineno)s -- %(message)s`), every actor line
  behind Ray's `(TaskRunner pid=N) ` / `(WorkerDict pid=N) ` prefix (the console logger's
  `step:N - k:v` lines among them: utils/logger/aggregate_logger.py:26-31), tqdm's
  `Training Progress` bar (ray_trainer.py:1003);
- a lost rank (INCIDENTS): PyTorch ProcessGroupNCCL's watchdog messages and the `c10::DistBackendError` abort
  (c10 glog prefix `[L%m%d %H:%M:%S.nnnnnnnnn file.cpp:line]`), torch.distributed.elastic's
  `ChildFailedError` (errors/__init__.py `_MSG_FORMAT_TEMPLATE`, `_FAILURE_FORMAT_TEMPLATE`) and
  run.py's traceback, Slurm's srun/slurmstepd abort lines.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from llmsim.player.dialects import Line
from llmsim.player.views.renderer import Renderer, RenderOptions
from llmsim.trace import RunConfig, open_trace

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
    r"elastic/agent/server/(api|local_elastic_agent)\.py|elastic/multiprocessing/api\.py|"
    r"elastic/multiprocessing/errors/__init__\.py):\d+\] .*",
    r"(\[rank0\]:)?[\w-]+:\d+:\d+ \[\d\] NCCL INFO .*",
    # NCCL 2.27 init.cc showVersion at NCCL_DEBUG=WARN: rank 0, VERSION level, no host prefix
    r"(\[rank0\]:)?NCCL version 2\.27\.[35]\+cuda12\.9",
    # ProcessGroupNCCL's destructor when destroy_process_group() was never called (2.8: 1538,
    # 2.9: 1524), TORCH_WARN_ONCE's "Warning: ... (function operator())"
    r"\[rank\d+\]:\[W\d{4} \d\d:\d\d:\d\d\.\d{9} ProcessGroupNCCL\.cpp:(1538|1524)\] Warning: "
    r"WARNING: destroy_process_group\(\) was not called before program exit, which can leak "
    r"resources\. For more info, please see https://pytorch\.org/docs/stable/distributed\.html"
    r"#shutdown \(function operator\(\)\)",
    rf"\[{SECS}\] INFO +export +\| Saved: .*",  # the classic layout's, from shard and file rows
    # a finished tqdm bar: `{desc}: {percentage:3.0f}%|{bar}| {n}/{total} [{elapsed}<{left}, ...]`
    r"[\w .-]+: +\d+%\|[█▏▎▍▌▋▊▉ ]*\| [\d.,]+ ?\w*/[\d.,]+ ?\w* \[[\d:]+<[\d:]+.*\]",
    r"[╭╮╰╯│├┤┬┴┼─━┃┏┓┗┛┣┫┳┻╋].*",  # the summary box
    r" +Training summary",
    r"✔ Training completed successfully!",
)

# --- W&B 0.22.3 (wandb_login.py:159-168, wandb_run.py:3672-3965, printer.py:414-424): its
# start and end lines where a run logs to it, `wandb: ` on every line (behind torchrun's
# `[rank0]:` for torchtitan) ------------------------------------------------------------------
W: Final = r"(\[rank0\]:)?wandb: "
WANDB: Final = _all(
    rf"{W}Currently logged in as: [\w-]+( \([\w-]+\))? to https://api\.wandb\.ai\. Use "
    r"`wandb login --relogin` to force relogin",
    rf"{W}Tracking run with wandb version 0\.22\.3",
    rf"{W}Run data is saved locally in /[\w/.-]+/wandb/run-\d{{8}}_\d{{6}}-[a-z0-9]{{8}}",
    rf"{W}Run `wandb offline` to turn off syncing\.",
    rf"{W}Syncing run [\w.-]+",
    rf"{W}⭐️ View project at:? https://wandb\.ai/[\w-]+/[\w.-]+",
    rf"{W}🚀 View run (at|[\w.-]+ at:) https://wandb\.ai/[\w-]+/[\w.-]+/runs/[a-z0-9]{{8}}",
    rf"{W}(updating run metadata|uploading output\.log; uploading wandb-summary\.json; "
    r"uploading config\.yaml)",
    rf"{W}(Run (history|summary):)?",
    rf"{W} *[\w/ ()%.-]+ [▁▂▃▄▅▆▇█]+",  # a history row: the key right-aligned, its sparkline
    rf"{W} *[\w/ ()%.-]+ -?[\d.]+(e[+-]\d+)?",  # a summary row
    rf"{W} *\+\d+ \.\.\.",
    rf"{W}Synced \d+ W&B file\(s\), \d+ media file\(s\), \d+ artifact file\(s\) and \d+ "
    r"other file\(s\)",
    rf"{W}Find logs at: [\w/.-]+/wandb/run-\d{{8}}_\d{{6}}-[a-z0-9]{{8}}/logs",
)

# --- a lost rank: the kernel, NCCL's watchdog, the abort and the launcher's report ----------
HEX: Final = r"0x[0-9a-f]+"
PG: Final = r"PG ID \d+ PG GUID \d+(\(default_pg\))?"
WORK: Final = (
    r"WorkNCCL\(SeqNum=\d+, OpType=(ALLREDUCE|_ALLGATHER_BASE|_REDUCE_SCATTER_BASE), "
    r"NumelIn=\d+, NumelOut=\d+, Timeout\(ms\)=\d+\) ran for \d+ milliseconds before timing out\."
)
C10: Final = r"\[rank\d+\]:\[E\d{4} \d\d:\d\d:\d\d\.\d{9} ProcessGroupNCCL\.cpp:\d+\] "
INCIDENTS: Final = _all(
    rf"{C10}\[Rank \d+\] Watchdog caught collective operation timeout: {WORK}",
    rf"{C10}\[{PG} Rank \d+\]  failure detected by watchdog at work sequence id: \d+ PG status: "
    r"last enqueued work: \d+, last completed work: \d+",
    rf"{C10}Stack trace of the failed collective not found, potentially because FlightRecorder "
    r"is disabled\. You can enable it by setting TORCH_NCCL_TRACE_BUFFER_SIZE to a non-zero value\.",
    rf"{C10}Stack trace of the failed collective: ",
    r"(\[rank\d+\]:)?#\d+ \w+ from /usr/local/lib/python3\.12/dist-packages/torch/[\w/]+\.py:\d+",
    rf"{C10}\[{PG} Rank \d+\] First PG on this rank to signal dumping\.",
    rf"{C10}\[{PG} Rank \d+\] ProcessGroupNCCL preparing to dump debug info\. Include stack "
    r"trace: 1",
    rf"{C10}\[{PG} Rank \d+\] Process group watchdog thread terminated with exception: "
    rf"\[Rank \d+\] Watchdog caught collective operation timeout: {WORK}",
    rf"{C10}\[Rank \d+\] Some NCCL operations have failed or timed out\. Due to the asynchronous "
    r"nature of CUDA kernels, subsequent GPU operations might run on corrupted/incomplete data\.",
    rf"{C10}\[Rank \d+\] To avoid data inconsistency, we are taking the entire process down\.",
    r"terminate called after throwing an instance of 'c10::DistBackendError'",
    rf"  what\(\):  \[{PG} Rank \d+\] Process group watchdog thread terminated with exception: "
    rf"\[Rank \d+\] Watchdog caught collective operation timeout: {WORK}",
    r"Exception raised from (checkTimeout|run) at /pytorch/torch/csrc/distributed/"
    r"c10d/ProcessGroupNCCL\.cpp:\d+ \(most recent call first\):",
    rf"frame #\d: [^()]+(\(.*\))? \+ {HEX} \({HEX} in /[\w/.+-]+\.so(\.\d+)?\)",
    # torchrun's traceback and ChildFailedError (errors/__init__.py)
    r"Traceback \(most recent call last\):",
    r'  File "/usr/local/(bin/torchrun|lib/python3\.12/dist-packages/torch/distributed/'
    r'[\w/]+\.py)", line \d+, in (<module>|wrapper|main|run|__call__|launch_agent)',
    r"    (sys\.exit\(main\(\)\)|return f\(\*args, \*\*kwargs\)|run\(args\)|elastic_launch\(|"
    r"return launch_agent\(self\._config, self\._entrypoint, list\(args\)\)|"
    r"raise ChildFailedError\()",
    r" +\^+",
    r"torch\.distributed\.elastic\.multiprocessing\.errors\.ChildFailedError: ",
    r"=+|-+",
    r"[\w.]+ FAILED",
    r"Failures:|  <NO_OTHER_FAILURES>|Root Cause \(first observed failure\):|\[\d+\]:",
    r"  time      : \d{4}-\d\d-\d\d_\d\d:\d\d:\d\d",
    r"  host      : [\w-]+",
    r"  rank      : \d+ \(local_rank: \d+\)",
    r"  exitcode  : -\d+ \(pid: \d+\)",
    r"  error_file: <N/A>",
    r"  traceback : Signal \d+ \(SIG(ABRT|TERM|KILL)\) received by PID \d+",
    # Slurm
    r"srun: error: [\w-]+: tasks? [\d,-]+: Aborted \(core dumped\)",
    r"srun: Job step aborted: Waiting up to 32 seconds for job step to finish\.",
    r"srun: error: Timed out waiting for job step to complete",
    r"slurmstepd: error: \*\*\* STEP \d+\.0 ON [\w-]+ CANCELLED AT "
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d \*\*\*",
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
    # JSON bodies (configs; DeepSpeed's ScientificNotationEncoder ends items with ", ")
    r' *("[\w.]+": ?.*|[{}\[\]](, ?)?|"[\w.]+",?|[\d.e+-]+,?)',
    r"\*\*\*\*\* (Running Evaluation|train metrics) \*\*\*\*\*",
    r"  \w+ +=\s+\S+",
    r"Training completed\. Do not forget to share your model on huggingface\.co/models =\)",
    r"(Running tokenizer on dataset|Grouping texts in chunks of \d+) \(num_proc=\d+\): "
    r"100%\|█{10}\| \d+/\d+ \[[\d:]+<00:00, [\d.]+ examples/s\]",
)
TORCH_PY: Final = r"/usr/local/lib/python3\.12/dist-packages/torch/distributed/"
FSDP_WARNING: Final = _all(
    rf"{TORCH_PY}fsdp/fully_sharded_data_parallel\.py:678: FutureWarning: FSDP\.state_dict_type\(\) "
    r"and FSDP\.set_state_dict_type\(\) are being deprecated\. Please use APIs, get_state_dict\(\) "
    r"and set_state_dict\(\), which can support different parallelisms, FSDP1, FSDP2, DDP\. API "
    r"doc: https://pytorch\.org/docs/stable/distributed\.checkpoint\.html#torch\.distributed\."
    r"checkpoint\.state_dict\.get_state_dict \.Tutorial: https://pytorch\.org/tutorials/recipes/"
    r"distributed_checkpoint_recipe\.html \.",
    r"  warnings\.warn\(",
    rf"{TORCH_PY}distributed_c10d\.py:4807: UserWarning: No device id is provided via "
    r"`init_process_group` or `barrier `\. Using the current device set by the user\. ",
    r"  warnings\.warn\(  # warn only once",
)
DEEPSPEED: Final = _all(rf"\[{MILLIS}\] \[(INFO|WARNING|ERROR)\] \[\w+\.py:\d+:\w+\] .*")

# --- Megatron-LM ---------------------------------------------------------------------------
MEGATRON: Final = _all(
    rf" \[{SECS}\] iteration +\d+/ *\d+ \| consumed samples: +\d+ \| elapsed time per "
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
    # validate_args (arguments.py, core_v0.15.0: 618-620, 623, 747-748)
    r"WARNING: Setting args\.overlap_p2p_comm and args\.align_param_gather to False since "
    r"non-interleaved schedule does not support overlapping p2p communication and aligned "
    r"param AG",
    r"Number of virtual stages per pipeline stage: None",
    r"accumulate and all-reduce gradients in fp32 for bfloat16 data type\.",
    r"-+ (end of )?arguments -+",
    r"  \w{1,47} \.+ .*",
    r"  \w{48,}  .*",  # _print_args: no dots from 48 characters on
    # global_vars.py:236 _set_one_logger (the last rank)
    r"WARNING: one_logger package is required to enable e2e metrics tracking\. please go to "
    r"https://confluence\.nvidia\.com/display/MLWFO/Package\+Repositories for details to "
    r"install it",
    # theoretical_memory_usage.py (137-176, 348-365)
    r"Number of parameters in transformer block in billions:  ?\d+\.\d\d",
    r"Number of parameters in embedding layers in billions: \d+\.\d\d",
    r"Total number of parameters in billions: \d+\.\d\d",
    r"Number of parameters in (most loaded|other) shards? in billions: \d+\.\d{4}",
    r"compute_activation_memory(_without_sp| with SP)",
    r"Activation memory footprint per transformer layer( \(precise, without SP\))?: "
    r"\d+\.\d MB",
    r"Number of in-flight microbatches: \d+",
    r"Theoretical memory footprints: weight and optimizer=\d+\.\d\d MB, activation=\d+\.\d\d "
    r"MB, total=\d+\.\d\d MB",
    # checkpointing.py 496-497, 1412, 1603
    r"Storing distributed optimizer sharded state of type dp_reshardable",
    r"sharded_state_dict metadata loaded from the checkpoint: \{'distrib_optim_sharding_type': "
    r"'dp_reshardable', 'singleton_local_shards': False, 'chained_optim_avoid_prefix': True\}",
    r" checkpoint version 3\.0",
    # training.py evaluate(verbose=True), 2545/2549
    r"Evaluating on \d+ samples",
    r"Evaluating iter \d+/\d+",
    r"> building HuggingFaceTokenizer tokenizer \.\.\.",
    r" > padded vocab \(size: \d+\) with \d+ dummy tokens \(new size: \d+\)",
    r"> initializing torch distributed \.\.\.",
    r"> setting tensorboard \.\.\.",  # global_vars.py: --tensorboard-dir, on the last rank
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
            ("MnDRtt", "ms"),
            ("MxDRtt", "ms"),
            ("MnEtpt", "TF"),
        )
    )
    + r"\| MxEtpt/Rnk: [\d.]+TF/\d+",
    r"INFO:megatron\.core\.utils:\^\^\^\^ (Bottom|Top   ) \d+ Ranks with (lowest |highest) "
    r"Etpt\(TF\):( [\d.]+/\d+,)+",
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
TITAN: Final = _all(
    rf"\[rank0\]:\[titan\] {MILLIS} - root - (INFO|WARNING) - .*",
    # run_train.sh's `set -ex` (bash 5.2's xtrace of the script), multinode_trainer.slurm's echo
    r"\+ (NGPU=\d+|export LOG_RANK=0|LOG_RANK=0|CONFIG_FILE=\./torchtitan/models/llama3/"
    r"train_configs/llama3_\d+b\.toml|TRAIN_FILE=torchtitan\.train|TORCHFT_LIGHTHOUSE=http://"
    r"localhost:29510|PYTORCH_ALLOC_CONF=expandable_segments:True|torchrun --nproc_per_node=\d+ "
    r"--rdzv_backend c10d --rdzv_endpoint=localhost:0 --local-ranks-filter 0 --role rank --tee 3 "
    r"-m torchtitan\.train --job\.config_file \S+( --[\w.]+( \S+)?)*)",
    r"Node IP: [\d.]+",
)

# --- TRL (SFT with PEFT, DPO, GRPO with vLLM colocated) -----------------------------------
_TRL_KEY: Final = r"'[\w/]+': " + NUM
TRL: Final = _all(
    r"The following values were not passed to `accelerate launch` and had defaults used "
    r"instead:",
    r" {8}`--(num_processes|num_machines|mixed_precision|dynamo_backend)` was set to a value of "
    r"`'?\w+'?`",
    r"To avoid this warning pass in values for each of the problematic parameters or run "
    r"`accelerate config`\.",
    r"(Converting (train|eval) dataset to ChatML|Tokenizing (train|eval) dataset|Packing (train|eval)"
    r" dataset|Extracting prompt in (train|eval) dataset|Applying chat template to (train|eval) "
    r"dataset): 100%\|█{10}\| \d+/\d+ \[[\d:]+<00:00, [\d.]+ examples/s\]",
    r"trainable params: [\d,]+ \|\| all params: [\d,]+ \|\| trainable%: \d+\.\d{4}",
    rf"\{{'loss': {NUM}, 'grad_norm': {NUM}, 'learning_rate': {NUM}, ({_TRL_KEY}, )*'epoch': "
    rf"{NUM}\}}",
    rf"\{{'eval_loss': {NUM}, 'eval_runtime': {NUM}, 'eval_samples_per_second': {NUM}, "
    rf"'eval_steps_per_second': {NUM}, ({_TRL_KEY}, )*'epoch': {NUM}\}}",
    rf"\{{'train_runtime': {NUM}, 'train_samples_per_second': {NUM}, "
    rf"'train_steps_per_second': {NUM}, 'train_loss': {NUM}, 'epoch': {NUM}\}}",
    r"(INFO|WARNING) \d\d-\d\d \d\d:\d\d:\d\d \[[\w.]+\.py:\d+\] .*",
    r"Loading safetensors checkpoint shards: +\d+% Completed \| \d+/\d+ \[[\d:]+<([\d:]+|\?), "
    r"( *[\d.]+|\?)it/s\]",
    r"Capturing CUDA graphs \(mixed prefill-decode, PIECEWISE\): 100%\|█{10}\| \d+/\d+ "
    r"\[[\d:]+<00:00, [\d.]+it/s\]",
    r"✅ Training completed\.",
    r"💾 Model saved to \S+\.",
    r'  File "/usr/local/(bin/accelerate|lib/python3\.12/dist-packages/accelerate/commands/'
    r'(accelerate_cli|launch)\.py)", line \d+, in (<module>|main|launch_command|multi_gpu_launcher)',
    r"    (args\.func\(args\)|multi_gpu_launcher\(args\)|distrib_run\.run\(args\))",
)

# --- verl (GRPO on Ray) ---------------------------------------------------------------------
VERL: Final = _all(
    r"\+ python3 -m verl\.trainer\.main_ppo algorithm\.adv_estimator=grpo .*",
    r"ray init kwargs: \{'num_cpus': None, 'runtime_env': \{'env_vars': \{.*\}, "
    r"'working_dir': None\}\}",
    rf"{MILLIS} INFO worker\.py:\d+ -- (Started a local Ray instance\. View the dashboard at "
    r"[\d.]+:8265 |Connecting to existing Ray cluster at address: [\d.]+:6379\.\.\.|Connected to "
    r"Ray cluster\. View the dashboard at [\d.]+:8265 )",
    r"\((TaskRunner|WorkerDict) pid=\d+\) .*",
    r"Training Progress: +\d+%\|[█▏▎▍▌▋▊▉ ]{10}\| \d+/\d+ \[[\d:]+<([\d:]+|\?), "
    r"([\d.]+s/it|[\d.]+it/s|\?it/s)\]",
)

# A LoRA run that keeps its adapters saves them from its own script (phases/export_adapter.py):
# the classic layout's lines, which the tmux layout does not draw.
ADAPTER_EXPORT: Final = _all(
    rf"\[{SECS}\] INFO +export +\| (Saving the Q?LoRA adapter of|Export complete:) .*",
)

ALLOWED: Final[dict[str, Patterns]] = {
    "hf": SHARED + WANDB + INCIDENTS + HF + FSDP_WARNING,
    "hf-deepspeed": SHARED + WANDB + INCIDENTS + HF + DEEPSPEED,
    "megatron": SHARED + WANDB + INCIDENTS + MEGATRON,
    "torchtitan": SHARED + WANDB + INCIDENTS + TITAN,
    "trl": SHARED + WANDB + INCIDENTS + TRL + ADAPTER_EXPORT,
    "verl": SHARED + WANDB + VERL,
}
# Lines only that stack prints: a line of one of these in another stack's run is a tell.
EXCLUSIVE: Final[dict[str, Patterns]] = {
    "hf": FSDP_WARNING[:1],
    "hf-deepspeed": DEEPSPEED,
    "megatron": tuple(
        p for p in MEGATRON if p.pattern.startswith((" \\[", " validation", "using world", "(INFO"))
    ),
    "torchtitan": TITAN,
    "trl": tuple(p for p in TRL if p.pattern.startswith(("trainable", "(INFO", "✅", "💾"))),
    "verl": tuple(p for p in VERL if p.pattern.startswith(("\\((Task", "\\+ python3"))),
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


def _text(line: Line) -> str:
    return "".join(text for text, _ in (*line.prefix, *line.body))


def rendered(path: Path) -> tuple[RunConfig, list[str]]:
    """Every line the player prints for the run, as its renderer draws them (UTC stamps, no
    colour, sanitised): the stack's lines through its dialect and the player's frame (kept bars,
    `Saved:` lines, the summary box), which the patterns know as shared by every stack."""
    trace = open_trace(path)
    renderer = Renderer(trace.config, RenderOptions(ascii=False, utc=True))
    lines: list[str] = []
    for ev in trace.events():
        lines += [_text(line) for line in renderer.feed(ev)]
    return trace.config, lines
