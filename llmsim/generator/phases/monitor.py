"""The cluster monitor's lines (the run's own tooling, `tool` format): a GPU that runs hot or
slow, named with the numbers of the telemetry sample that shows it, and its recovery; a lost
GPU's kernel messages as the monitor forwards them, a hung rank's idle GPU, and the requeue.

Sources of the kernel lines: the NVIDIA driver (5xx) log, `NVRM: Xid (PCI:0000:bb:00): 79,
pid='<unknown>', name=<unknown>, GPU has fallen off the bus.`, then `NVRM: GPU 0000:bb:00.0:
GPU has fallen off the bus.` and, on drivers with GPU recovery actions, Xid 154 naming the
reboot it needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Final

import numpy as np
import numpy.typing as npt

from llmsim.generator.phases.telemetry import Samples
from llmsim.generator.plan.incidents import Failure
from llmsim.generator.plan.runplan import RunPlan
from llmsim.generator.rows import Rows
from llmsim.generator.stacks.context import MONITOR, Context, gpu_name


def episode_lines(
    plan: RunPlan,
    hosts: Sequence[str],
    s: Samples,
    steps: npt.NDArray[np.int64],
    t_end: npt.NDArray[np.float64],
) -> Rows:
    """A warning at the first sample inside each episode that shows it, a note at the first
    one after it."""
    rows = Rows()
    if len(s.t) == 0:
        return rows
    name = partial(gpu_name, hosts, plan.config)
    hot = plan.choice.gpu.max_operating_c  # nvidia-smi's `GPU Max Operating Temp`
    for e in plan.episodes:
        if e.last_step < steps[0] or e.slow_from > steps[-1]:
            continue
        col = e.gpu
        a = int(np.searchsorted(steps, max(e.slow_from, int(steps[0]))))
        b = int(np.searchsorted(steps, min(e.last_step, int(steps[-1]))))
        inside = np.flatnonzero((s.t >= t_end[a] - 1e-9) & (s.t <= t_end[b]))
        others = np.delete(s.clock[:, :], col, axis=1) if s.clock.shape[1] > 1 else s.clock
        if e.slow_from >= steps[0] and len(inside):
            i = _alert_sample(e.kind, s, col, inside, (hot, plan.config.gpu_max_clock_mhz))
            # beside the job's other GPUs, or a lone GPU's own maximum
            if s.clock.shape[1] > 1:
                ref = f"others {float(np.median(others[i])):.0f} MHz"
            else:
                ref = f"max {plan.config.gpu_max_clock_mhz:.0f} MHz"
            if e.kind == "thermal":
                text = (
                    f"GPU temperature high: {name(col)} at {s.temp[i, col]:.0f}°C, "
                    f"SM clock {s.clock[i, col]:.0f} MHz ({ref}), "
                    f"{s.power[i, col]:.0f} W"
                )
            else:
                text = (
                    f"Slow GPU: {name(col)} SM clock {s.clock[i, col]:.0f} MHz "
                    f"({ref}), {s.util[i, col]:.0f}% utilization; the job's "
                    f"step time is up {100 * e.slowdown:.0f}%"
                )
            rows.log(float(s.t[i]), "train", "WARNING", "tool", MONITOR, text)
        if e.last_step <= steps[-1]:
            after = np.flatnonzero(s.t > t_end[b] + 1.0)
            cool = after[s.temp[after, col] <= hot - COOLED_C] if e.kind == "thermal" else after
            after = cool if len(cool) else after  # a hot GPU: once it has cooled down
            if len(after):
                i = int(after[0])
                rows.log(
                    float(s.t[i]),
                    s.phase[i],
                    "INFO",
                    "tool",
                    MONITOR,
                    f"{name(col)} back to normal: {s.temp[i, col]:.0f}°C, "
                    f"SM clock {s.clock[i, col]:.0f} MHz",
                )
    return rows


# How far the GPU must stand out from the job's other GPUs before the monitor alerts; a thermal
# alert also needs the GPU above its maximum operating temperature (nvidia-smi -q: 85 C on A100,
# 87 C on H100; the driver slows it at 89 C).
ALERT_HEAT_C: Final = 8.0
ALERT_CLOCK_MHZ: Final = 30.0
COOLED_C: Final = 12.0  # a hot GPU is back to normal this far below the alert temperature


def _alert_sample(
    kind: str,
    s: Samples,
    col: int,
    inside: npt.NDArray[np.intp],
    limits: tuple[float, float],
) -> int:
    """The first sample inside the episode where the GPU stands out (from its maximum operating
    temperature up, with its clock lowered, and hotter than the others for thermal throttling;
    a lower clock for a straggler), else the one where it stands out most: a monitor alerts on
    what it reads, so its line must show the symptom. `limits`: (the alert temperature, the
    GPU's maximum clock, which a lone GPU's lowered clock is set beside)."""
    hot, top = limits
    gpus = np.arange(s.clock.shape[1])
    rest = np.delete(gpus, col) if len(gpus) > 1 else gpus
    if kind == "thermal":
        # a GPU whose job stalls (a slow batch, a save) keeps its heat a while at full clock:
        # the alert waits for a sample that shows both
        clocks = np.median(s.clock[np.ix_(inside, rest)], axis=1) if len(gpus) > 1 else top
        shows = (s.temp[inside, col] >= hot) & (s.clock[inside, col] < clocks)
        score = s.temp[inside, col] - np.median(s.temp[np.ix_(inside, rest)], axis=1)
        score = np.where(shows, score, -np.inf)
        limit = ALERT_HEAT_C
    else:
        score = np.median(s.clock[np.ix_(inside, rest)], axis=1) - s.clock[inside, col]
        limit = ALERT_CLOCK_MHZ
    over = np.flatnonzero(score >= limit)
    return int(inside[over[0]] if len(over) else inside[int(np.argmax(score))])


def _pci(ctx: Context, gpu: int) -> str:
    bus = ctx.plan.choice.gpu.bus_ids[ctx.config.local_rank(gpu)]
    return f"0000:{int(bus, 16) >> 12:02x}:00"


def xid(ctx: Context, gpu: int) -> None:
    """The node's kernel messages as the cluster monitor forwards them."""
    log = ctx.logger("train", "tool", MONITOR)
    host = ctx.host_of(gpu)
    pci = _pci(ctx, gpu)
    log.line(
        "ERROR",
        f"{host} kernel: NVRM: Xid (PCI:{pci}): 79, pid='<unknown>', name=<unknown>, "
        "GPU has fallen off the bus.",
    )
    log.line("ERROR", f"{host} kernel: NVRM: GPU {pci}.0: GPU has fallen off the bus.")
    log.line(
        "ERROR",
        f"{host} kernel: NVRM: Xid (PCI:{pci}): 154, GPU recovery action changed from 0x0 "
        "(None) to 0x2 (Node Reboot Required)",
        dt=0.002,
    )


def stuck(ctx: Context, gpu: int, seconds: float) -> None:
    """The monitor noticing a GPU idle while its job's other GPUs are busy (a hung rank)."""
    ctx.logger("train", "tool", MONITOR).warning(
        f"{ctx.gpu_name(gpu)}: 0% utilization for {seconds:.0f} s while the job's other "
        "GPUs report 100%; rank may be hung"
    )


def requeued(
    ctx: Context, failure: Failure, new_host: str | None, lost: str | None, at: float
) -> None:
    """The monitor's account of the relaunch: the node drained, the job requeued at `at` (on a
    replacement node when a GPU was lost). torchrun's own restarts need no account."""
    if failure.relaunch == "elastic":
        return
    log = ctx.logger("train", "tool", MONITOR)
    if new_host is not None and lost is not None:
        gpu = ctx.config.local_rank(failure.gpu)
        log.warning(f"{lost} drained (Xid 79 on GPU {gpu}): excluded from the job", dt=2.0)
    ctx.clock.t = max(ctx.clock.t, at - float(ctx.rng.uniform(1.0, 4.0)))
    where = f" with {new_host} in place of {lost}" if new_host else ""
    resumes = (
        f"it resumes from the checkpoint of step {failure.checkpoint}"
        if failure.checkpoint
        else "no checkpoint yet: it starts over from step 1"
    )
    log.info(f"job requeued{where}; {resumes} ({failure.redone} steps to redo)")
