"""The tmux layout's session: the terminal an engineer keeps open, kept across runs.

`TmuxScreen` is that terminal: window 0 holds the job's pane (a shell,
then the job's output byte for byte) and a pane running `watch` on nvidia-smi for the node
where rank 0 runs; clusters of 64 GPUs and more get window 1, a `watch` of a pdsh sweep of
every node, which the screen switches to for a glance now and then (an incident away from
rank 0's node, and every few minutes). tmux's status line is at the bottom unless the player
itself runs inside tmux. `region(cols, rows)` draws the whole screen from the state: pure.
views.tmux.feed.TmuxRenderer feeds it one run after another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from llmsim.player.views.segments import Row
from llmsim.player.views.tmux import chrome, nvsmi, sweep
from llmsim.player.views.tmux.cells import fit
from llmsim.player.views.tmux.pane import JobPane
from llmsim.trace import Event

SHELL_NAME: Final = "bash"  # the window's name at the prompt (pane_current_command)
MONITOR_NAME: Final = "watch"
TMUX_SESSION: Final = "0"  # what tmux names an unnamed first session
TITLED_ROWS: Final = 30  # a shorter terminal runs `watch -t`: the monitor's title row goes


@dataclass(frozen=True)
class TmuxOptions:
    """How the session is drawn: tmux's status line (not inside a real tmux), glyphs, clock."""

    status: bool = True
    ascii: bool = False
    utc: bool = True


@dataclass
class Monitor:
    """What window 0's second pane watches: one node's latest sample."""

    sample: nvsmi.GpuSample | None = None
    serial: int = 0  # counts the samples taken (a cache key that object ids cannot be)
    when: float = 0.0  # unix time of the sample
    host: str = ""
    interval: float = 2.0
    device: nvsmi.Device | None = None
    procs: tuple[nvsmi.Process, ...] = ()


@dataclass
class Cluster:
    """What window 1 watches: the latest sample of every GPU."""

    ev: Event | None = None
    serial: int = 0  # counts the samples taken
    when: float = 0.0
    hosts: tuple[str, ...] = ()
    per_node: int = 8
    interval: float = 10.0
    login: str = ""


class TmuxScreen:
    """The tmux session of a show: one terminal, kept from run to run."""

    def __init__(self, options: TmuxOptions) -> None:
        self.options = options
        self.pane = JobPane(options.ascii)
        self.monitor = Monitor()
        self.cluster = Cluster()
        self.has_cluster = False
        self.window = 0
        self.job_name = SHELL_NAME
        self.session = TMUX_SESSION
        self.title = ""
        self.clock = 0.0  # unix time the status line shows
        self._version = 0
        self._cache: dict[str, tuple[object, list[str]]] = {}

    @property
    def version(self) -> int:
        """Changes whenever the screen may."""
        return self._version + self.pane.version

    def changed(self) -> None:
        """Something the screen shows changed (outside the pane)."""
        self._version += 1

    def signature(self) -> tuple[object, ...]:
        """What the screen shows outside the job's pane, in a form cheap to compare."""
        m, c = self.monitor, self.cluster
        return (
            self.window,
            self.job_name,
            int(self.clock // 60),  # the status line shows minutes
            m.serial,
            m.when,
            m.procs,
            c.serial if self.window == 1 else None,
            self.session,
            self.title,
        )

    # --- drawing

    def layout(self, cols: int, rows: int) -> chrome.Geometry:
        """The panes' geometry for a terminal of this size."""
        return chrome.geometry(cols, rows, self.options.status, self._monitor_rows(rows))

    def _monitor_rows(self, rows: int) -> int:
        """Rows the monitor takes below the job: the CSV header and a row per GPU, and
        watch's title and blank row unless the terminal is short (`watch -t`)."""
        gpus = len(self.monitor.sample.util) if self.monitor.sample else 8
        return (2 if rows >= TITLED_ROWS else 0) + 1 + gpus

    def region(self, cols: int, rows: int) -> list[Row]:
        """The whole screen: `rows` rows of exactly `cols` cells."""
        g = self.layout(cols, rows)
        if self.window == 1 and self.has_cluster:
            body = [fit(((line, None),), cols) for line in self._sweep(g.window)]
            body += [fit((), cols)] * (g.window.h - len(body))
        elif g.split == "beside":
            job, _ = self.pane.rows(g.job.w, g.job.h)
            mon = self._monitor(g.monitor)
            body = []
            for r in range(g.window.h):
                left = fit(job[r] if r < len(job) else (), g.job.w)
                right = fit(((mon[r], None),) if r < len(mon) else (), g.monitor.w)
                body.append((*left, *chrome.border(g, r, self.options.ascii), *right))
        else:
            job, _ = self.pane.rows(g.job.w, g.job.h)
            body = [fit(job[r] if r < len(job) else (), cols) for r in range(g.job.h)]
            if g.monitor.h:
                body.append(chrome.border(g, g.job.h, self.options.ascii))
                mon = self._monitor(g.monitor)
                body += [
                    fit(((mon[r], None),) if r < len(mon) else (), cols) for r in range(g.monitor.h)
                ]
        if g.status:
            body.append(chrome.status_line(self._status(), cols))
        return body[:rows]

    def cursor(self, cols: int, rows: int) -> tuple[int, int] | None:
        """Where the terminal's cursor is (the job pane's), or None when it is hidden."""
        if self.window == 1 and self.has_cluster:
            return None
        g = self.layout(cols, rows)
        _, at = self.pane.rows(g.job.w, g.job.h)
        return g.job.y + at.row, g.job.x + at.col

    def _status(self) -> chrome.Status:
        names = (self.job_name, MONITOR_NAME) if self.has_cluster else (self.job_name,)
        last = 1 - self.window if self.has_cluster else None
        return chrome.Status(
            self.session, names, self.window, last, self.title, self.clock, self.options.utc
        )

    def _monitor(self, rect: chrome.Rect) -> list[str]:
        m = self.monitor
        key = (
            m.serial,
            m.when if m.sample is not None else self.clock,
            rect.w,
            rect.h,
            m.host,
            m.procs,
        )
        hit = self._cache.get("monitor")
        if hit is not None and hit[0] == key:
            return hit[1]
        stamp = nvsmi.ctime(m.when if m.sample is not None else self.clock, self.options.utc)
        rows: list[str]
        if m.sample is None or m.device is None:
            rows = nvsmi.watch("nvidia-smi", m.interval, m.host, stamp, [], rect.w, rect.h)
        elif rect.w >= chrome.MONITOR_COLS and rect.h >= 2 + 8 + 4 * len(m.sample.util):
            out = nvsmi.table(m.sample, m.device, stamp, m.procs)
            rows = nvsmi.watch("nvidia-smi", m.interval, m.host, stamp, out, rect.w, rect.h)
        else:
            # Too short for the table's GPUs: the query form, without watch's title when the
            # pane cannot spare its two rows.
            out = nvsmi.csv(m.sample)
            if rect.h >= len(out) + 2:
                rows = nvsmi.watch(
                    nvsmi.csv_command(), m.interval, m.host, stamp, out, rect.w, rect.h
                )
            else:
                rows = [line[: rect.w] for line in out[: rect.h]]
        self._cache["monitor"] = (key, rows)
        return rows

    def _sweep(self, rect: chrome.Rect) -> list[str]:
        c = self.cluster
        key = (c.serial, rect.w, rect.h)
        hit = self._cache.get("sweep")
        if hit is not None and hit[0] == key:
            return hit[1]
        stamp = nvsmi.ctime(c.when, self.options.utc)
        out = sweep.sweep(c.ev, c.hosts, c.per_node, rect.h) if c.ev is not None else []
        rows = nvsmi.watch(sweep.command(c.hosts), c.interval, c.login, stamp, out, rect.w, rect.h)
        self._cache["sweep"] = (key, rows)
        return rows
