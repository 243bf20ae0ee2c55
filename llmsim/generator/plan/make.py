"""Options -> RunPlan: every number of a run decided before a single row is written.

`plan_run` reads as the list of its steps: resolve the open choices, lay the model out on the
cluster, time its parts, size the schedule to the wanted duration, plan the episodes and the
loss curve, and write down the config the trace will carry. The plan is frozen; the phases only
read it (with their own seeded random streams for noise).
"""

from __future__ import annotations

import math
import secrets
from dataclasses import replace
from typing import Final

import numpy as np

from llmsim.generator.catalog.architecture import param_count
from llmsim.generator.catalog.datasets import PREFERENCE_SETS, PROMPT_SETS, PROMPT_TESTS, SFT_SETS
from llmsim.generator.catalog.gpus import GPUS
from llmsim.generator.catalog.software import DAY, Era
from llmsim.generator.options import DurationTooShort, GenerateOptions, GeneratorError
from llmsim.generator.plan import postcost, posttrain
from llmsim.generator.plan import schedule as sched
from llmsim.generator.plan.adapters import safetensors_bytes
from llmsim.generator.plan.choice import Choice
from llmsim.generator.plan.choose import Profiles, choose, draw_gpu_count
from llmsim.generator.plan.config import make_config
from llmsim.generator.plan.duration import fitted
from llmsim.generator.plan.episodes import (
    Episode,
    Pace,
    plan_slowdowns,
    plan_spikes,
    spike_somewhere,
)
from llmsim.generator.plan.fit import Fit, Luck, fit, fit_or_explain, seq_len_for, target_tokens
from llmsim.generator.plan.incidents import (
    FAILURE_SHARE,
    Incidents,
    Outline,
    RunShape,
    outline,
    overhead_s,
    plan_incidents,
)
from llmsim.generator.plan.layout import GPUS_PER_NODE, MAX_GPUS, node_shape
from llmsim.generator.plan.loss import LossModel, LossShape, Spike, chinchilla
from llmsim.generator.plan.profile import StackProfile
from llmsim.generator.plan.runplan import Flags, RunPlan, Timings
from llmsim.generator.plan.terminal import Terminal, draw_terminal
from llmsim.generator.plan.timing import (
    Io,
    checkpoint_bytes,
    checkpoint_seconds,
    draw_io,
    eval_batch_seconds,
    export_seconds,
    hub_load_seconds,
    load_seconds,
)
from llmsim.trace.config import MAX_STEPS, RunConfig
from llmsim.trace.vocab import Launcher

RNG_PLAN: Final = 0  # sub-stream of the plan; phases use their own keys (build.py)
RNG_INCIDENTS: Final = 11  # failures and transient faults (their own stream: the rest stays put)
RNG_RESTARTS: Final = 12
RNG_COMPILE: Final = 13  # whether the job torch.compiles (before the fit: it changes the speed)
RNG_TERMINAL: Final = 17  # the engineer's terminal (plan/terminal.py): its own stream
RNG_NCCL_DEBUG: Final = 21  # NCCL_DEBUG of the launch (its own stream: the rest stays put)
MAX_SEED: Final = 2**63 - 1
MIN_DURATION: Final = 60.0
MAX_DURATION: Final = 400 * DAY
DEFAULT_DURATION: Final = (600.0, 1800.0)
DURATION_TOLERANCE: Final = 0.25  # with the steps fixed, the duration may miss by this share
CLOSING_S: Final = 8.0
LONG_STEP: Final = 6.0  # seconds: longer steps make a dull trace, when a smaller batch is fine
LONG_STEP_BIG: Final = 50.0  # models over 100B
MIN_BATCH_TOKENS: Final = {
    "pretrain": 2**19,
    "finetune": 2**16,
    "lora": 2**12,
    "dpo": 2**14,
    "grpo": 2**16,
}
# Longer steps than LONG_STEP that post-training runs show as they are: a QLoRA step on one
# workstation card, an RL step that generates before it trains.
LONG_STEP_POST: Final = {"lora": 15.0, "dpo": 15.0, "grpo": 75.0}
DRAWN_STEP_MAX_RL: Final = 120.0
SMALL_JOB_BATCH_TOKENS: Final = 2**17  # a job on one node may go down to this to stay watchable
FEW_STEPS: Final = 3 * sched.MIN_WINDOW  # a short run still shows this many steps
REDRAWS: Final = 40  # model draws tried on a fixed GPU count before giving up
DRAWN_STEP_MAX: Final = 30.0  # a drawn cluster with slower steps gives way to a bigger one
# Pretraining-token ratio (tokens / parameters) of a base checkpoint whose budget is not
# published (Mistral's; invented labs'), by family.
BASE_TOKENS_PER_PARAM: Final = {"llama": 1500.0, "qwen2": 2500.0, "mistral": 1000.0}
PATIENCE_LIMITS: Final = (3, 5, 10, 20, 50, 100)  # early_stopping_patience values people type


def plan_run(options: GenerateOptions, profiles: Profiles) -> RunPlan:
    """Decide the whole run on one of `profiles` (the stacks' registry, which
    llmsim.generator.plan_run passes); GeneratorError (one line) when the options cannot be met.

    An asked duration always plans when the options left open allow a run that fits it
    (plan/duration.py: a smaller model, a fine-tune); otherwise the refusal names the shortest
    duration that plans and the pinned option to drop.
    A model and GPU count that no full fine-tune holds (an 8B on one GPU), with the kind left
    open, plan a LoRA or QLoRA run: what anyone would run there.
    """
    options = replace(options, seed=_seed(options.seed))
    return fitted(options, lambda asked: _plan(asked, profiles), profiles)


def _plan(options: GenerateOptions, profiles: Profiles) -> RunPlan:
    """plan_run for options as they are."""
    seed = _seed(options.seed)
    rng = np.random.default_rng([seed, RNG_PLAN])
    wanted = _duration(options, rng)
    choice, gpus, laid = _lay_out(options, profiles, rng, seed)
    try:
        return _planned(options, choice, gpus, laid, seed, wanted, rng)
    except DurationTooShort as short:
        short.params = param_count(choice.model)  # the planner tries smaller ones
        raise


def _planned(
    options: GenerateOptions,
    choice: Choice,
    gpus: int,
    laid: Fit,
    seed: int,
    duration: float,
    rng: np.random.Generator,
) -> RunPlan:
    """The rest of _plan, once the run is laid out."""
    io = draw_io(node_shape(gpus)[0], rng)
    timings = _timings(choice, laid, io, rng)
    irng = np.random.default_rng([seed, RNG_INCIDENTS])
    outlines = outline(options.incidents, choice.profile.collective_timeout_s, gpus, irng)
    if not choice.profile.rank_failures:
        outlines = ()
    schedule, laid, timings, outlines = _schedule_around(
        options, choice, gpus, laid, io, timings, duration, outlines, rng
    )
    flags = _restarts(_flags(choice, gpus, rng), choice.profile, seed)
    flags = _nccl_debug(flags, choice, gpus, seed)
    th = laid.throughput
    pace = Pace(
        first=schedule.resume_step + 1,
        last=schedule.total_steps,
        log=schedule.log_interval,
        step_s=th.step_s,
        compute_share=th.pure_s / th.step_s,
        slowdown_c=choice.gpu.slowdown_c,
    )
    episodes = plan_slowdowns(options.incidents, gpus, pace, rng)
    spikes = plan_spikes(options.incidents, schedule.resume_step + 1, schedule.total_steps, rng)
    incidents = _incidents(options, choice, outlines, gpus, laid, schedule, duration, flags, irng)
    episodes, spikes = _outside_redo(incidents, episodes, spikes)
    if options.incidents == "often" and not spikes:  # a demo run shows one
        spans = incidents.redo_spans()
        spikes = spike_somewhere(schedule.resume_step + 1, schedule.total_steps, spans, irng)
    loss = _loss_shape(choice, laid, schedule, spikes, rng)
    era = choice.profile.era
    config = make_config(
        options,
        seed,
        choice,
        gpus,
        laid,
        schedule,
        era,
        flags.launcher,
        _start(options, era, rng),
        rng,
    )
    config = replace(config, patience_limit=_patience(choice.profile, schedule, loss, seed))
    terminal = draw_terminal(seed, config.nodes, config.hostnames, RNG_TERMINAL)
    config = _with_terminal(config, terminal)
    flags = replace(flags, wandb=terminal.wandb)
    return RunPlan(
        config,
        choice,
        laid,
        io,
        schedule,
        timings,
        loss,
        episodes,
        incidents,
        flags,
        _estimate_bytes(config, laid, timings),
        terminal,
    )


def _with_terminal(config: RunConfig, terminal: Terminal) -> RunConfig:
    """The config with what the player shows of the terminal (trace 2.4's optional keys)."""
    out = replace(
        config,
        login_host=terminal.login_host,
        tmux_session=terminal.tmux_session,
        monitor_interval=terminal.monitor_interval,
        driver_version=terminal.driver,
        driver_cuda_version=terminal.driver_cuda,
    )
    out.check()
    return out


def _seed(seed: int | None) -> int:
    if seed is None:
        return secrets.randbelow(2**31)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise GeneratorError(f"--seed must be an integer from 0 to {MAX_SEED}, not {seed!r}")
    return seed


def _duration(options: GenerateOptions, rng: np.random.Generator) -> float:
    if options.duration is None:
        return float(rng.uniform(*DEFAULT_DURATION))
    if not MIN_DURATION <= options.duration <= MAX_DURATION:
        raise GeneratorError(
            f"--duration must be from {MIN_DURATION:.0f} s to {MAX_DURATION / DAY:.0f} days, "
            f"not {options.duration:g} s"
        )
    return float(options.duration)


def _compiled(choice: Choice, seed: int) -> Choice:
    """The choice with the job's torch.compile decided (its own stream: the rest stays put)."""
    chance = choice.profile.compile_chance
    if chance <= 0:
        return choice
    rng = np.random.default_rng([seed, RNG_COMPILE])
    return replace(choice, compiled=bool(rng.random() < chance))


def _lay_out(
    options: GenerateOptions, profiles: Profiles, rng: np.random.Generator, seed: int
) -> tuple[Choice, int, Fit]:
    """The choice, its GPU count and its layout.

    With the GPU count fixed and the model open, models that do not fit are drawn again; with
    the count open, other GPU types are tried when none was asked for.
    """
    if options.gpus is None:
        return _lay_out_drawn(options, profiles, rng, seed)
    for attempt in range(REDRAWS):
        choice = _compiled(choose(options, profiles, rng), seed)
        seq = seq_len_for(choice, rng)
        tokens = _target(choice, rng, seq)
        luck = Luck.draw(choice.profile, rng)
        try:
            laid = fit_or_explain(choice, options.gpus, seq, tokens, luck)
        except GeneratorError as err:
            if options.model is not None and options.kind is None:
                return _lighter(options, profiles, rng, seed, err)
            if options.model is not None or attempt == REDRAWS - 1:
                raise
            continue
        choice = _pinned(choice, laid)
        return choice, options.gpus, _watchable(choice, options.gpus, laid)
    raise AssertionError("unreachable")  # pragma: no cover


def _lighter(
    options: GenerateOptions,
    profiles: Profiles,
    rng: np.random.Generator,
    seed: int,
    err: GeneratorError,
) -> tuple[Choice, int, Fit]:
    """The model on these GPUs as a LoRA/QLoRA run, when the kind drawn does not hold it; the
    first refusal `err` when no LoRA run holds it either (or no stack asked for runs one)."""
    try:
        return _lay_out(replace(options, kind="lora"), profiles, rng, seed)
    except GeneratorError:
        raise err from None


def _pinned(choice: Choice, laid: Fit) -> Choice:
    """The choice with the adapter its fit settled on: refits keep it."""
    if choice.post is None:
        return choice
    return replace(choice, post=replace(choice.post, adapters=(laid.layout.adapter,)))


def _lay_out_drawn(
    options: GenerateOptions, profiles: Profiles, rng: np.random.Generator, seed: int
) -> tuple[Choice, int, Fit]:
    choice = _compiled(choose(options, profiles, rng), seed)
    seq = seq_len_for(choice, rng)
    tokens = _target(choice, rng, seq)
    luck = Luck.draw(choice.profile, rng)
    others = [g for g in GPUS if g != choice.gpu and (g.cluster or choice.post is not None)]
    types = [choice.gpu] if options.gpu_type else [choice.gpu, *others]
    most = DRAWN_STEP_MAX_RL if choice.kind == "grpo" else DRAWN_STEP_MAX
    # what fits but is slow (a bigger cluster may do better): the first drawn, unless a bigger one
    # gets through the schedule sooner
    fallback: tuple[float, tuple[Choice, int, Fit]] | None = None
    for gpu in types:
        trial = replace(choice, gpu=gpu)
        counts = (
            posttrain.gpu_counts(trial, rng)
            if trial.post is not None
            else draw_gpu_count(choice.model, rng)
        )
        for gpus in counts:
            if not gpu.cluster and gpus > GPUS_PER_NODE:
                continue
            found = fit(trial, gpus, seq, tokens, luck)
            if found is None:
                continue
            trial = _pinned(trial, found)
            laid = _watchable(trial, gpus, found)
            days = _season_days(trial, laid)
            if days <= sched.SEASON_DAYS and (laid.throughput.step_s <= most or options.gpu_type):
                return trial, gpus, laid
            late = max(days, sched.SEASON_DAYS)
            if fallback is None or late < fallback[0]:
                fallback = (late, (trial, gpus, laid))
    if fallback is not None:
        return fallback[1]
    raise GeneratorError(
        f"{choice.model.name} does not fit on any {choice.gpu.short} cluster of up to "
        f"{MAX_GPUS} GPUs with {choice.stack}"
    )


def _target(choice: Choice, rng: np.random.Generator, seq_len: int) -> int:
    """Tokens per step the run is drawn with, never under its schedule's floor."""
    floor = sched.schedule_batch_floor(choice.model, choice.profile, choice.kind)
    tokens = target_tokens(choice, rng, seq_len)
    return tokens if tokens >= floor else 2 ** math.ceil(math.log2(floor))


def _season_days(choice: Choice, laid: Fit) -> float:
    """Days the cluster takes for the run's whole pretraining schedule (its published budget,
    or 20 tokens per parameter; 0 for other runs): a lab sizes a drawn cluster to the run, so
    it gets through within sched.SEASON_DAYS where one of up to MAX_GPUS can."""
    if choice.kind != "pretrain" or choice.profile.continued_pretraining:
        return 0.0
    return sched.least_tokens(choice.model) / laid.throughput.tokens_per_s / DAY


def _batch_floor(choice: Choice, gpus: int) -> float:
    """Fewest tokens per step a run of this kind configures when it must shrink its batch
    (one node may go lower to stay watchable); a pretraining schedule still counts its budget
    in steps a trace can hold."""
    floor = float(MIN_BATCH_TOKENS[choice.kind])
    if gpus <= GPUS_PER_NODE:
        floor = min(floor, SMALL_JOB_BATCH_TOKENS)
    least = sched.schedule_batch_floor(choice.model, choice.profile, choice.kind)
    return max(floor, least * sched.SCHEDULE_STEPS_MAX / (0.9 * MAX_STEPS))


def _watchable(choice: Choice, gpus: int, laid: Fit) -> Fit:
    """Halve the batch while steps are longer than a watchable run shows (and batches allow)."""
    long = LONG_STEP_BIG if param_count(choice.model) > 100e9 else LONG_STEP
    long = LONG_STEP_POST.get(choice.kind, long)
    floor = _batch_floor(choice, gpus)
    while laid.throughput.step_s > long:
        tokens = laid.global_batch * laid.seq_len // 2
        if tokens < floor:
            break
        smaller = fit(choice, gpus, laid.seq_len, tokens, laid.luck)
        if smaller is None or smaller.global_batch >= laid.global_batch:
            break
        laid = smaller
    return laid


def _timings(choice: Choice, laid: Fit, io: Io, rng: np.random.Generator) -> Timings:
    spec, profile = choice.model, choice.profile
    size = _checkpoint_size(choice, laid)
    from_hub = choice.kind != "pretrain"  # every fine-tune starts from the Hub's weights
    load = hub_load_seconds(spec, io) if from_hub else load_seconds(size, io)
    if laid.layout.adapter == "qlora":  # bitsandbytes quantises each shard as it loads
        load *= float(rng.uniform(1.6, 2.4))
    nodes = node_shape(laid.layout.dp * laid.layout.tp * laid.layout.pp)[0]
    startup = float(rng.uniform(15.0, 35.0)) + 0.02 * nodes + profile.startup_extra_s
    step = laid.throughput.step_s
    compiles = profile.first_step_compile_s
    compile_s = float(rng.uniform(*compiles)) if compiles is not None and choice.compiled else 0.0
    first = compile_s + step * float(rng.uniform(0.6, 2.0))
    eval_batch = eval_batch_seconds(laid, profile)
    if choice.post is not None and choice.post.rollout is not None:  # a validation generates
        tests = PROMPT_TESTS.get(choice.post.dataset or "", 500)
        eval_batch = postcost.validation_s(choice, gpus_of(laid), tests)
    return Timings(
        init_s=startup + load,
        load_s=load,
        eval_batch_s=eval_batch,
        checkpoint_s=checkpoint_seconds(size, io),
        export_s=_export_s(choice, laid, io),
        first_step_extra_s=first,
    )


def _export_s(choice: Choice, laid: Fit, io: Io) -> float:
    """The export: a LoRA run that keeps its adapters writes only them (and small files)."""
    post = choice.post
    if (
        post is not None
        and post.lora is not None
        and laid.layout.adapter != "none"
        and not post.merge
    ):
        return safetensors_bytes(choice.model, post.lora) / 1.5e9 + 2.0
    return export_seconds(choice.model, io)


def _checkpoint_size(choice: Choice, laid: Fit) -> int:
    """A training checkpoint's bytes: the adapters and their optimizer state, or the model's."""
    if choice.post is not None and choice.post.lora is not None and laid.layout.adapter != "none":
        return postcost.adapter_checkpoint_bytes(choice.model, choice.post.lora)
    return checkpoint_bytes(choice.model, choice.profile.sharding(laid.layout))


def _costs(timings: Timings, laid: Fit) -> sched.Costs:
    fixed = timings.init_s + timings.export_s + CLOSING_S + timings.first_step_extra_s
    return sched.Costs(fixed, laid.throughput.step_s, timings.eval_batch_s, timings.checkpoint_s)


def _schedule(
    options: GenerateOptions,
    choice: Choice,
    gpus: int,
    laid: Fit,
    io: Io,
    timings: Timings,
    duration: float,
    rng: np.random.Generator,
) -> tuple[sched.Schedule, Fit, Timings]:
    """Size the schedule; with both steps and a duration given, fit the batch to the duration."""
    steps = options.steps_per_epoch
    epochs = _epochs(options, choice, rng)
    if steps is not None and options.duration is not None:
        laid, timings = _batch_for(choice, gpus, laid, io, timings, duration, steps * epochs, rng)
    if options.duration is not None and steps is None:
        laid, timings = _short_for(choice, gpus, laid, io, timings, duration, rng)
    costs = _costs(timings, laid)
    if options.duration is None:  # a drawn duration stretches to what the run needs at least
        need = costs.fixed_s + 3 * sched.MIN_WINDOW * costs.step_s + 2 * costs.checkpoint_s
        duration = max(duration, need * float(rng.uniform(1.1, 1.4)))
    if choice.kind == "pretrain":
        return (
            sched.pretrain(choice.model, choice.profile, laid, costs, duration, steps, rng),
            laid,
            timings,
        )
    spe = steps
    post = _post_data(choice)
    return (
        sched.finetune(choice.model, choice.profile, laid, costs, duration, epochs, spe, rng, post),
        laid,
        timings,
    )


def _post_data(choice: Choice) -> sched.PostData | None:
    """What a post-training run's schedule reads (None: a full fine-tune's SFT sets)."""
    post = choice.post
    if post is None:
        return None
    if choice.kind == "lora":
        return sched.PostData(SFT_SETS, 0, post.lr)
    table = PREFERENCE_SETS if choice.kind == "dpo" else PROMPT_SETS
    sets = tuple(d for d in table if d.hub_id == post.dataset) or table
    if post.rollout is None:
        return sched.PostData(sets, 1, post.lr)
    style = choice.profile.post_style
    every = style.test_freq if style is not None else 0
    constant = style is not None and style.old_log_prob  # verl's optimizer: a constant lr
    return sched.PostData(
        sets, post.rollout.generations, post.lr, every, eval_batches=1, constant_lr=constant
    )


def gpus_of(laid: Fit) -> int:
    """The GPUs of a laid-out run."""
    lay = laid.layout
    return lay.dp * lay.tp * lay.pp


def _epochs(options: GenerateOptions, choice: Choice, rng: np.random.Generator) -> int:
    if choice.kind == "grpo" and options.epochs is None:
        return 1  # an RL run goes through (part of) its prompts once in a trace
    if choice.kind == "pretrain":
        if options.epochs not in (None, 1):
            raise GeneratorError(
                "a pretraining trace is one pass over its data: use --epochs 1 (or leave it out)"
            )
        return 1
    drawn = int(rng.integers(2, 5))
    if choice.post is not None:  # adapters and preferences: mostly one or two passes
        drawn = int(rng.choice((1, 1, 2, 3)))
    if options.duration is not None:  # a short run has room for fewer passes
        drawn = min(drawn, 1 + int(options.duration > 300) + int(options.duration > 900))
    epochs = options.epochs if options.epochs is not None else drawn
    if not 1 <= epochs <= 1000:
        raise GeneratorError(f"--epochs must be from 1 to 1000, not {epochs}")
    return epochs


def _batch_for(
    choice: Choice,
    gpus: int,
    laid: Fit,
    io: Io,
    timings: Timings,
    duration: float,
    steps: int,
    rng: np.random.Generator,
) -> tuple[Fit, Timings]:
    """Refit the batch so `steps` steps fill `duration`, or say why they cannot."""
    costs = _costs(timings, laid)
    want = (duration - costs.fixed_s) / (steps * 1.08)
    if want <= 0:
        raise sched.too_short(duration, costs, min(12.0, duration / 40.0))
    tokens = laid.global_batch * laid.seq_len * want / laid.throughput.step_s
    refit = fit(choice, gpus, laid.seq_len, int(tokens), laid.luck, exact=True) or laid
    got = refit.throughput.step_s
    if abs(got - want) / want > DURATION_TOLERANCE:
        raise GeneratorError(
            f"--duration {duration:.0f} s cannot be met with {steps:,} steps: a step of this "
            f"run takes {got:.2f} s at the nearest batch it can use (it would need {want:.2f} s)"
        )
    return refit, _timings(choice, refit, io, rng)


def _short_for(
    choice: Choice,
    gpus: int,
    laid: Fit,
    io: Io,
    timings: Timings,
    duration: float,
    rng: np.random.Generator,
) -> tuple[Fit, Timings]:
    """A smaller batch when the wanted duration leaves room for too few steps."""
    costs = _costs(timings, laid)
    room = (duration - costs.fixed_s) / (FEW_STEPS * laid.throughput.step_s)
    if room >= 1.0 or room <= 0.0:
        return laid, timings
    tokens = int(max(laid.global_batch * laid.seq_len * room, _batch_floor(choice, gpus)))
    if tokens < 2 * laid.seq_len * laid.layout.dp or tokens >= laid.global_batch * laid.seq_len:
        return laid, timings
    smaller = fit(choice, gpus, laid.seq_len, tokens, laid.luck, exact=True)
    if smaller is None or smaller.throughput.step_s >= laid.throughput.step_s:
        return laid, timings
    return smaller, _timings(choice, smaller, io, rng)


def _flags(choice: Choice, gpus: int, rng: np.random.Generator) -> Flags:
    profile = choice.profile
    launchers = profile.launchers(gpus)
    launcher: Launcher = launchers[int(rng.integers(0, len(launchers)))]
    return Flags(
        launcher=launcher,
        compile=choice.compiled,
        log_straggler=profile.straggler_report_chance > 0
        and gpus > GPUS_PER_NODE
        and bool(rng.random() < profile.straggler_report_chance),
        gc_freq=int(rng.choice((50, 100))),
        max_restarts=0,  # set from the incident stream (plan_run)
    )


def _restarts(flags: Flags, profile: StackProfile, seed: int) -> Flags:
    """--max-restarts of a job whose workers torchrun's agent starts (its own random stream)."""
    if flags.launcher != "torchrun":
        return flags
    rng = np.random.default_rng([seed, RNG_RESTARTS])
    choices = profile.torchrun_restarts
    return replace(flags, max_restarts=choices[int(rng.integers(0, 2)) % len(choices)])


def _nccl_debug(flags: Flags, choice: Choice, gpus: int, seed: int) -> Flags:
    """NCCL_DEBUG of the launch, among the values the stack's launches use."""
    levels = choice.profile.nccl_debug_levels(gpus, flags.launcher)
    rng = np.random.default_rng([seed, RNG_NCCL_DEBUG])
    return replace(flags, nccl_debug=levels[int(rng.integers(0, len(levels)))])


def _schedule_around(
    options: GenerateOptions,
    choice: Choice,
    gpus: int,
    laid: Fit,
    io: Io,
    timings: Timings,
    duration: float,
    outlines: tuple[Outline, ...],
    rng: np.random.Generator,
) -> tuple[sched.Schedule, Fit, Timings, tuple[Outline, ...]]:
    """The schedule, and the failures it has room for.

    A drawn duration grows by what the failures cost (the run is as long as its plan needs);
    an asked one is kept: the schedule is sized for what is left once the failures have their
    share, and when that leaves too little (or asks the impossible) the run goes without them.
    """
    if outlines and options.duration is None:
        return (*_schedule(options, choice, gpus, laid, io, timings, duration, rng), outlines)
    if outlines:
        cost = overhead_s(outlines, timings.init_s, duration)
        if cost <= FAILURE_SHARE[options.incidents] * duration:
            state = rng.bit_generator.state
            try:
                out = _schedule(options, choice, gpus, laid, io, timings, duration - cost, rng)
                return (*out, outlines)
            except GeneratorError:
                rng.bit_generator.state = state
    return (*_schedule(options, choice, gpus, laid, io, timings, duration, rng), ())


def _incidents(
    options: GenerateOptions,
    choice: Choice,
    outlines: tuple[Outline, ...],
    gpus: int,
    laid: Fit,
    schedule: sched.Schedule,
    duration: float,
    flags: Flags,
    rng: np.random.Generator,
) -> Incidents:
    """Failures placed in the schedule and transient faults (the incidents' own stream)."""
    shape = RunShape(
        gpus=gpus,
        nodes=node_shape(gpus)[0],
        first=schedule.resume_step + 1,
        last=schedule.total_steps,
        resume=schedule.resume_step,
        checkpoint_interval=schedule.checkpoint_interval,
        log_interval=schedule.log_interval,
        step_s=laid.throughput.step_s,
        duration=duration,
        elastic=flags.max_restarts > 0,
        ecc=choice.gpu.ecc,
        shared_fs=choice.gpu.cluster,
    )
    return plan_incidents(options.incidents, outlines, shape, rng)


def _outside_redo(
    incidents: Incidents, episodes: tuple[Episode, ...], spikes: tuple[Spike, ...]
) -> tuple[tuple[Episode, ...], tuple[Spike, ...]]:
    """Episodes and spikes that stay clear of the steps a failure makes the job redo."""
    spans = incidents.redo_spans()

    def clear(a: int, b: int) -> bool:
        return not any(a <= hi + 1 and lo - 1 <= b for lo, hi in spans)

    kept = tuple(e for e in episodes if clear(e.first_step, e.last_step))
    return kept, tuple(s for s in spikes if clear(s.step, s.step + s.recover))


def _loss_shape(
    choice: Choice,
    laid: Fit,
    schedule: sched.Schedule,
    spikes: tuple[Spike, ...],
    rng: np.random.Generator,
) -> LossShape:
    spec, n = choice.model, float(param_count(choice.model))
    gbt = float(laid.global_batch * laid.seq_len)
    sigma = float(np.clip(0.022 / math.sqrt(max(gbt / 4e6, 0.05)), 0.008, 0.03))
    sigma *= float(rng.uniform(0.85, 1.15))
    finetune = choice.kind != "pretrain"
    scratch = not finetune and not choice.profile.continued_pretraining
    if scratch:
        start, floor, tau = math.log(spec.vocab_size) + float(rng.uniform(0.05, 0.3)), 0.0, 120.0
    elif finetune:
        start = float(rng.uniform(1.5, 2.5))
        floor, tau = (
            start * float(rng.uniform(0.55, 0.72)),
            max(5.0, 0.35 * schedule.steps_per_epoch),
        )
    else:
        seen = spec.published_tokens or BASE_TOKENS_PER_PARAM.get(spec.family, 1000.0) * n
        base = float(chinchilla(n, seen))
        floor = base + float(rng.uniform(0.03, 0.12))  # the new data is a little harder
        start, tau = floor + float(rng.uniform(0.08, 0.3)), max(20.0, 0.1 * schedule.total_steps)
    return LossShape(
        kind="scratch" if scratch else "finetune" if finetune else "continued",
        params=n,
        tokens_per_step=gbt,
        vocab=spec.vocab_size,
        steps_per_epoch=schedule.steps_per_epoch,
        epochs=schedule.epochs,
        start=start,
        floor=floor,
        tau=tau,
        ft_drop=floor * float(rng.uniform(0.06, 0.12)),
        val_gap=float(rng.uniform(0.025, 0.06)) if finetune else float(rng.uniform(-0.02, 0.025)),
        val_follow=float(rng.uniform(0.35, 0.6)),
        val_creep=float(rng.uniform(0.01, 0.04)) if finetune else 0.0,
        sigma=sigma,
        gn_floor=float(rng.uniform(0.15, 0.32)),
        gn_early=float(rng.uniform(3.0, 7.0) if scratch else rng.uniform(0.8, 2.0)),
        gn_decay=float(max(8.0, 0.6 * schedule.warmup_steps)),
        spikes=spikes,
    )


def _patience(profile: StackProfile, schedule: sched.Schedule, loss: LossShape, seed: int) -> int:
    """The early-stopping patience its config sets: a value people type (3, 5, 10, ...) at
    least two above the longest run of evaluations without a new best the plan foresees, so
    the counter never sits one short of stopping a run that does not stop."""
    first, total, every = schedule.resume_step + 1, schedule.total_steps, schedule.eval_interval
    # the steps an evaluation can follow (its interval's multiples, the first and the last),
    # not every step of a window that may hold millions
    multiples = np.arange(-(-first // every) * every, total + 1, every, dtype=np.int64)
    steps = np.unique(np.concatenate([multiples, [1, total]]))
    steps = steps[steps >= first]
    evals = steps[profile.evaluates(steps, every, total)].astype(np.float64)
    decimals = None if profile.val_float32 else profile.loss_decimals
    peak = LossModel(loss, seed).patience_peak(evals, decimals)
    return next(p for p in PATIENCE_LIMITS if p >= peak + 2 or p == PATIENCE_LIMITS[-1])


def _start(options: GenerateOptions, era: Era, rng: np.random.Generator) -> float:
    if options.start_time is not None:
        if not 0 <= options.start_time <= 1e12:
            raise GeneratorError(f"--start-time {options.start_time} is not a plausible unix time")
        return float(options.start_time)
    return (
        era.released
        + float(rng.uniform(10.0, 200.0)) * DAY
        + int(rng.integers(0, 86400_000)) / 1000
    )


def _estimate_bytes(config: RunConfig, laid: Fit, timings: Timings) -> int:
    """Rough size of the trace file: telemetry dominates (per GPU per sample, compressed)."""
    steps = config.total_steps - config.resume_step
    run_s = timings.init_s + timings.export_s + steps * laid.throughput.step_s
    samples = run_s / config.telemetry_interval
    return int(samples * config.gpus * 9 + steps * 90 + 200_000)
