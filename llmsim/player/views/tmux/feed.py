"""Feeds one run to the tmux layout's session (views.tmux.screen.TmuxScreen).

`TmuxRenderer` is the scheduler's renderer for the tmux layout: the job's lines go into the
session's pane with colour only where the stack colours them (style names in `REAL_STYLES`),
nothing of llmsim's own (`tool` lines, the summary box, the export bars) is drawn, and HF's
tqdm bars are drawn as tqdm draws them; telemetry feeds the monitor and the cluster window;
incidents and the run's time decide the glances at the cluster. Traces without shell rows
(before 2.4) get a prompt before the job and back after it. Only formatting: every figure is
the trace's.
"""

from __future__ import annotations

from typing import Final

from llmsim.player.dialects import Line
from llmsim.player.views.renderer import Renderer, RenderOptions
from llmsim.player.views.segments import Row
from llmsim.player.views.tmux import nvsmi
from llmsim.player.views.tmux.screen import (
    SHELL_NAME,
    TMUX_SESSION,
    Cluster,
    TmuxScreen,
)
from llmsim.player.views.tmux.tqdm import Meter
from llmsim.sanitize import clean_name
from llmsim.trace import Event, RunConfig

# Styles a stack really prints (torchtitan's metrics line, wandb's name): every other style a
# dialect uses belongs to the classic layout and is dropped in the job's pane.
REAL_STYLES: Final = frozenset(
    {
        "titan_red",
        "titan_green",
        "titan_orange",
        "titan_turquoise",
        "titan_blue",
        "titan_cyan",
        "titan_magenta",
        "wandb",
    }
)
CLUSTER_GPUS: Final = 64  # from this many GPUs on, window 1 sweeps the whole cluster
GLANCE: Final = 12.0  # trace seconds the cluster window stays up for a glance
GLANCE_EVERY: Final = 300.0  # trace seconds between routine glances at the cluster window
# A driver for traces that do not name theirs (before 2.4): the R570 branch, which is what
# CUDA 12.8, the runs' toolkit, needs (nvidia-smi then says CUDA Version 12.8).
DRIVER: Final = "570.133.20"
PROCESS_NAME: Final = "/usr/bin/python"
XET_SUMMARY_BARS: Final = 2  # hf-xet's `Processing Files` and `New Data Upload` bars (speed)


def job_row(line: Line) -> Row:
    """A dialect line as the job's bytes: one row, colour only where the stack colours."""
    return tuple(
        (text, style if style in REAL_STYLES else None)
        for text, style in (*line.prefix, *line.body)
        if text
    )


class TmuxRenderer:
    """Feeds one run to a TmuxScreen; the scheduler's renderer for the tmux layout."""

    def __init__(self, config: RunConfig, options: RenderOptions, screen: TmuxScreen) -> None:
        self.config = config
        self.screen = screen
        self.lines_of = Renderer(config, options)  # formats the lines, stack by stack
        self.finished = False
        dialect = self.lines_of.dialect
        self._hf = dialect.training_bar  # tqdm's bars and tqdm.write: the HF Trainer's
        self._kept = dialect.kept_bars  # the bars of its own it leaves on screen (loading)
        self._shell = config.login_host is not None  # the trace types its own commands
        self._node_rows = config.monitor_interval is not None
        self._started = False
        self._last_step = False  # the final step was seen (the Trainer's bar closes next)
        self._next_glance = GLANCE_EVERY
        self._glance_until = -1.0
        self._shown = False  # a frame has been drawn (the scheduler may skip to a start point)
        self._procs: dict[int, nvsmi.Process] = {}
        self._host0 = clean_name(config.hostnames[0]) if config.hostnames else "localhost"
        screen.session = clean_name(config.tmux_session or TMUX_SESSION)
        screen.title = clean_name(config.login_host) if config.login_host else self._host0
        screen.has_cluster = config.gpus >= CLUSTER_GPUS
        screen.cluster = Cluster(
            hosts=tuple(clean_name(h) for h in config.hostnames),
            per_node=max(1, config.gpus_per_node),
            interval=config.telemetry_interval,
            login=screen.title,
            serial=screen.cluster.serial,  # the count goes on across runs (a cache key)
        )
        screen.monitor.interval = config.monitor_interval or config.telemetry_interval
        screen.monitor.host = self._host0
        screen.monitor.device = nvsmi.Device(
            clean_name(config.gpu),
            config.gpu_memory_mib,
            config.gpu_tdp_w,
            clean_name(config.driver_version or DRIVER),
            clean_name(config.driver_cuda_version or config.cuda_version),
        )
        screen.monitor.procs = ()
        screen.window = 0
        screen.changed()

    # --- the Renderer interface the scheduler uses

    @property
    def base(self) -> float:
        """The unix time the run's t = 0 is stamped as (the scheduler sets it)."""
        return self.lines_of.base

    @base.setter
    def base(self, value: float) -> None:
        self.lines_of.base = value

    @property
    def version(self) -> int:
        """Changes whenever the screen may."""
        return self.screen.version

    def region(self, cols: int, rows: int) -> list[Row]:
        """The whole screen."""
        if not self._shown:
            self._opened()
        return self.screen.region(cols, rows)

    def cursor(self, cols: int, rows: int) -> tuple[int, int] | None:
        """The terminal's cursor (the job pane's)."""
        return self.screen.cursor(cols, rows)

    def feed(self, ev: Event) -> list[Line]:
        """Update the session with one event; nothing is printed above a region."""
        self.update(ev)
        return self.lines(ev)

    def prints(self, ev: Event) -> bool:
        """True if the event writes to the job's pane."""
        kind = ev.kind
        if kind == "log":
            return ev.source != "tool"
        if kind == "step":
            return self.lines_of.prints(ev)
        return kind in ("eval", "checkpoint", "shell")

    # --- state

    def update(self, ev: Event) -> None:
        """Everything but the job's printed lines: bars, monitor, windows, clock. The screen's
        version changes only when what it shows does (an idle-time limit counts on it)."""
        s = self.screen
        before = s.signature()
        s.clock = self.base + ev.t
        if not self._started:
            self._start()
        kind = ev.kind
        if kind == "telemetry":
            self._telemetry(ev)
        elif kind == "node_telemetry":
            self._node(ev)
        elif kind == "step":
            self._step(ev)
        elif kind == "progress":
            self._progress(ev)
        elif kind == "phase":
            self._phase(ev)
        elif kind == "incident":
            self._incident(ev)
        elif kind == "process":
            self._process(ev)
        elif kind == "summary":
            self.finished = True
            self._job_ended()
        elif kind == "shell":
            self._foreground(ev)
        self._glance(ev.t)
        if s.signature() != before:
            s.changed()

    def lines(self, ev: Event) -> list[Line]:
        """Write what the event prints into the job's pane (returns no lines: the pane has them)."""
        kind = ev.kind
        pane = self.screen.pane
        if kind == "shell":
            self._shell_row(ev)
        elif kind == "log" and ev.source != "tool":
            for line in self.lines_of.lines(ev):
                row = job_row(line)
                if self._hf and pane.bars and row and row[0][0].startswith("{'"):
                    self._write(row)  # the Trainer logs its dicts with tqdm.write
                else:
                    pane.print(row)
        elif kind in ("step", "eval"):
            for line in self.lines_of.lines(ev):
                self._write(job_row(line)) if self._hf else pane.print(job_row(line))
        elif kind == "checkpoint":
            for line in self.lines_of.lines(ev):
                pane.print(job_row(line))
        return []

    def _opened(self) -> None:
        """The first frame: a glance at the cluster that an incident started while the
        scheduler skipped to a start point is over, so the screen opens on the job's window."""
        self._shown = True
        if self.screen.window != 0:
            self._glance_until = -1.0
            self.screen.window = 0
            self.screen.changed()

    def _write(self, row: Row) -> None:
        pane = self.screen.pane
        pane.write(row)
        if self._last_step and pane.bars:
            pane.close_bar(0, leave=True)  # on_train_end follows the last on_log

    def _start(self) -> None:
        self._started = True
        if not self._shell:
            pane = self.screen.pane
            if not pane.at_prompt:
                pane.type(((self._prompt(), None),))
            pane.enter()  # the command that started the job is not in traces before 2.4
            self.screen.job_name = _job_name(self.config.launcher)

    def _prompt(self) -> str:
        return f"root@{self._host0}:/workspace# "

    def _job_ended(self) -> None:
        """The job's process exited: tqdm's bars are left as they were, the prompt is back."""
        if self._shell:
            return
        pane = self.screen.pane
        while pane.bars:
            pane.close_bar(pane.bars - 1, leave=True)
        if not pane.at_prompt:
            pane.type(((self._prompt(), None),))
        self.screen.job_name = SHELL_NAME

    def _phase(self, ev: Event) -> None:
        if ev.phase == "train" and self._hf and not self.screen.pane.bars and not self._last_step:
            c = self.config
            self.screen.pane.bar(0, Meter(c.resume_step, c.total_steps, 0.0))
        elif ev.phase == "export":
            self._job_ended()

    def _step(self, ev: Event) -> None:
        step, total = ev.step or 0, self.config.total_steps
        self._last_step = step >= total
        if not self._hf:
            return
        left = total - step
        eta = ev.eta
        per = eta / left if eta and left > 0 else ev.step_time
        meter = Meter(step, total, ev.elapsed or 0.0, remaining=eta, seconds_per_unit=per or None)
        self.screen.pane.bar(0, meter)

    def _progress(self, ev: Event) -> None:
        pane = self.screen.pane
        done, total = ev.done or 0, ev.total or 0
        op = ev.op
        if op == "upload" and ev.rank is not None:  # hf-xet's bars, each on its line
            meter = Meter(
                done,
                total,
                ev.elapsed or 0.0,
                clean_name(ev.text or ""),
                "B",
                True,
                xet=True,
                speed=ev.rank < XET_SUMMARY_BARS,
            )
            pane.bar(ev.rank, meter)  # the reporter closes them all at its end
            return
        if op == "upload":
            meter = Meter(done, total, ev.elapsed or 0.0, clean_name(ev.text or ""), "B", True)
            position = 0
            leave = True
        elif op == "convert" or op in self._kept:  # a converter's at the shell, or a kept one
            meter = Meter(done, total, ev.elapsed or 0.0, clean_name(ev.text or ""))
            position, leave = 0, True
        elif self._hf and op == "eval" and pane.bars:
            meter = Meter(done, total, ev.elapsed or 0.0)
            position, leave = 1, False
        else:
            return
        if done >= total:
            pane.bar(position, meter)
            pane.close_bar(position, leave)
        else:
            pane.bar(position, meter)

    def _telemetry(self, ev: Event) -> None:
        s = self.screen
        s.cluster.ev, s.cluster.when = ev, self.base + ev.t
        s.cluster.serial += 1
        if self._node_rows:
            return
        per = max(1, self.config.gpus_per_node)
        s.monitor.sample = _slice(ev, 0, per)
        s.monitor.when = self.base + ev.t
        s.monitor.serial += 1

    def _node(self, ev: Event) -> None:
        s = self.screen
        s.monitor.sample = _slice(ev, 0, len(ev.gpu_util or ()))
        s.monitor.when = self.base + ev.t
        s.monitor.serial += 1

    def _process(self, ev: Event) -> None:
        gpu = (ev.rank or 0) % max(1, self.config.gpus_per_node)
        if ev.op == "exit":
            self._procs.pop(gpu, None)
        else:
            pid = clean_name(ev.origin or "")
            self._procs[gpu] = nvsmi.Process(gpu, pid, clean_name(ev.text or PROCESS_NAME))
        self.screen.monitor.procs = tuple(self._procs[g] for g in sorted(self._procs))

    def _incident(self, ev: Event) -> None:
        per = max(1, self.config.gpus_per_node)
        if self.screen.has_cluster and ev.rank is not None and ev.rank // per != 0:
            self._glance_until = ev.t + GLANCE

    def _glance(self, t: float) -> None:
        s = self.screen
        if not s.has_cluster:
            return
        if t >= self._next_glance and self.config.gpus >= CLUSTER_GPUS:
            self._glance_until = max(self._glance_until, t + GLANCE)
            self._next_glance = t + GLANCE_EVERY
        want = 1 if t < self._glance_until else 0
        if want != s.window:
            s.window = want

    def _foreground(self, ev: Event) -> None:
        """The window's name follows the shell's foreground command: state, not a printed
        line, so a start point past the launch (`--start-at train`) still names the job."""
        if ev.op == "prompt":
            self.screen.job_name = clean_name(ev.origin or SHELL_NAME)
        elif ev.op == "enter" and ev.origin:
            self.screen.job_name = clean_name(ev.origin)

    def _shell_row(self, ev: Event) -> None:
        pane = self.screen.pane
        while pane.bars:  # the tool at the shell has ended: tqdm leaves its bars (leave=True)
            pane.close_bar(0, leave=True)
        text = clean_name(ev.text or "") if ev.op != "output" else None
        if ev.op == "prompt":
            if pane.at_prompt:  # a prompt after a prompt: Enter on an empty line
                pane.enter()
            pane.type(((text or "", None),))
        elif ev.op == "keys":
            pane.type(((text or "", None),))
        elif ev.op == "enter":
            pane.enter()
        elif ev.op == "output":
            line = self.lines_of.lines(ev._replace(kind="log"))
            for one in line:
                pane.print(job_row(one))


def _job_name(launcher: str) -> str:
    """What tmux names the window while the job runs: the foreground process's argv[0]
    (names.c parse_window_name): srun, or the Python interpreter behind a console script."""
    return "srun" if launcher == "srun" else "python"


def _slice(ev: Event, lo: int, hi: int) -> nvsmi.GpuSample:
    """GPUs lo..hi-1 of a sample, every list as long as the longest (a list the row lacks
    reads as zeros: nvidia-smi has a value for every field)."""
    lists = [ev.gpu_util, ev.gpu_mem, ev.gpu_temp, ev.gpu_power]
    parts: list[list[float]] = [list((values or ())[lo:hi]) for values in lists]
    health = [int(h) for h in (ev.gpu_health or ())[lo:hi]]
    n = max(len(health), *(len(p) for p in parts))
    util, mem, temp, power = (p + [0.0] * (n - len(p)) for p in parts)
    return nvsmi.GpuSample(util, mem, temp, power, health + [0] * (n - len(health)))
