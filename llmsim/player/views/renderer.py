"""The renderer: one run's state, fed event by event; log lines and the live region out.

`update(ev)` changes the state, `lines(ev)` formats what an event prints (styled, sanitised
dialect lines), `feed(ev)` does both; `region(cols, rows)` lays the live region out for a
terminal of that size. No clock, no I/O, no randomness: the same events give the same rows,
which is what makes a cast byte-for-byte a live terminal's output. `base` is the unix time the
run's t = 0 is stamped as; the scheduler may set it before the first line is formatted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from llmsim.player.dialects import Dialect, Line, Stamps, dialect_for, log_line, tool_prefix
from llmsim.player.views import bars, chart, fmt, grid, layout
from llmsim.player.views.palette import glyphs
from llmsim.player.views.segments import Row, Segment
from llmsim.player.views.summary import summary_box
from llmsim.sanitize import clean, clean_job, clean_name
from llmsim.trace import Event, RunConfig, prints_step
from llmsim.trace.vocab import EXPORT_OPS, SHELL_TOOL_OPS

# Progress operations whose finished bar stays in the log (tqdm leave=True): the export tool's
# own bars, and a checkpoint load only where the stack's own code draws a tqdm bar for it
# (transformers' "Loading checkpoint shards"). Other bars live in the region only: Megatron,
# torchtitan and DeepSpeed print no bar, and the eval/checkpoint result rows say it all.
OP_LABELS: Final = {
    "load_checkpoint": "Loading checkpoint shards",
    "init_weights": "Initializing weights",
    "eval": "Evaluating",
    "checkpoint": "Saving checkpoint",
    "merge_weights": "Merging weights",
    "optimize": "Optimizing for inference",
    "serialize": "Serializing to SafeTensors",
    "write_shards": "Writing shards",
}
# Operations in progress kept at once (a real run has one or two; a trace with thousands of
# unfinished ones must not make every frame longer: the region shows a handful anyway).
MAX_OPEN_OPS: Final = 32
INCIDENT_FOCUS: Final = 120.0  # seconds a node stays in view after an incident of unknown length
TRANSITION: Final = "Starting new training run..."


@dataclass(frozen=True)
class RenderOptions:
    """How to render: the glyph set and the time zone of log stamps."""

    ascii: bool = False
    utc: bool = True  # stamps in UTC (deterministic, for casts and tests) or local time
    # The job's lines as it printed them (plain and tmux layouts): whole, tabs kept. The classic
    # layout word-wraps them and shows a tab as a space.
    verbatim: bool = False
    color: bool = True  # colour on: GPU cells by colour; off: by shade (classic's grid)
    tmux_status: bool = True  # tmux layout: draw tmux's status line (not inside a real tmux)


def _clean_line(line: Line, verbatim: bool = False) -> Line:
    scrub = clean_job if verbatim else clean
    return Line(
        tuple((scrub(t), s) for t, s in line.prefix), tuple((scrub(t), s) for t, s in line.body)
    )


def text_line(*segments: Segment) -> Line:
    """A line without a prefix (it wraps with no indent)."""
    return Line((), segments)


class Renderer:
    """Turns one trace's events into log lines and live-region rows. Pure and deterministic."""

    def __init__(self, config: RunConfig, options: RenderOptions | None = None) -> None:
        self.config = config
        self.options = options or RenderOptions()
        self.glyphs = glyphs(self.options.ascii)
        self.base = config.start_time
        self.version = 0  # bumped whenever the region may change
        self.finished = False  # the summary has been shown (the region is then empty)
        self._hosts = tuple(clean_name(h) for h in config.hostnames)
        self._ops: dict[str, Event] = {}
        self._step: Event | None = None
        self._telemetry: Event | None = None
        self._focus: dict[int, float] = {}  # node -> trace time its incident ends
        self._now = 0.0
        self._stamps = Stamps(self.options.utc)
        self._dialect = dialect_for(config, self._stamps)
        self._cache: dict[str, tuple[object, list[Row]]] = {}
        self._history: chart.History | None = None  # made when the first step arrives
        # a run with rewards (RL) plots its reward; the others their loss
        self._rewarded = config.reward_max > config.reward_min
        name = "reward" if self._rewarded else "loss"
        self._chart = chart.LossChart(config.resume_step + 1, config.total_steps, name)
        self._lines: dict[str, Callable[[Event], list[Line]]] = {
            "log": lambda ev: [log_line(ev, self.base + ev.t, self._stamps)],
            "step": lambda ev: self._dialect.step(ev, self.base + ev.t),
            "eval": lambda ev: self._dialect.eval(ev, self.base + ev.t),
            "checkpoint": lambda ev: self._dialect.checkpoint(ev, self.base + ev.t),
            "progress": self._progress_lines,
            "shard": self._saved,
            "file": self._saved,
            "summary": self._summary_lines,
        }

    @property
    def dialect(self) -> Dialect:
        """The run's stack's dialect (what it prints, which bars it draws)."""
        return self._dialect

    def feed(self, event: Event) -> list[Line]:
        """Update the state with one event; return the lines it prints."""
        self.update(event)
        return self.lines(event)

    def prints(self, ev: Event) -> bool:
        """True if `lines(ev)` may print something (cheap: no formatting)."""
        if ev.kind == "step":
            return prints_step(self.config, ev.step or 0)
        if ev.kind == "progress":
            return self._leaves(ev) and (ev.done or 0) >= (ev.total or 0)
        return ev.kind in self._lines

    def lines(self, ev: Event) -> list[Line]:
        """The lines `ev` prints, styled and sanitised (formatting only: no state change)."""
        make = self._lines.get(ev.kind)
        verbatim = self.options.verbatim
        return [_clean_line(x, verbatim) for x in make(ev)] if make is not None else []

    def update(self, ev: Event) -> None:
        """Change the state by one event (no formatting). `version` changes whenever the region
        may: with the event's own state, and when time ends a node's incident focus."""
        self._now = ev.t
        kind = ev.kind
        changed = True
        if kind == "telemetry":
            self._telemetry = ev
        elif kind == "step":
            self._step = ev
            shown = ev.reward if self._rewarded and ev.reward is not None else ev.loss
            self._chart_history().step(ev.step or 0, shown or 0.0, ev.tokens_per_s)
        elif kind == "progress" and ev.op in SHELL_TOOL_OPS:
            changed = False  # a tool at the engineer's shell: not the dashboard's
        elif kind == "progress":
            key = ev.op or ev.text or ""
            if (ev.done or 0) < (ev.total or 0):
                if key not in self._ops and len(self._ops) >= MAX_OPEN_OPS:
                    del self._ops[next(iter(self._ops))]  # the oldest: a screen shows a few
                self._ops[key] = ev
            else:
                self._ops.pop(key, None)
        elif kind == "eval":
            self._ops.pop("eval", None)
            shown = ev.reward if self._rewarded else ev.val_loss
            if shown is not None and (ev.step or 0) > self.config.resume_step:
                self._chart_history().val(ev.step or 0, shown)
        elif kind == "checkpoint":
            self._ops.pop("checkpoint", None)
        elif kind == "phase" and ev.phase == "export":
            self._step = None  # the training bars close when training is over
        elif kind == "incident":
            self._incident(ev)
        elif kind == "summary":
            self.finished = True
            self._ops.clear()
            self._step = self._telemetry = None
        else:
            changed = False
        if self._refocus() or changed:
            self.version += 1

    def _refocus(self) -> bool:
        """Drop the incident focus that has run out by now; True if the focused nodes changed."""
        if not self._focus:
            return False
        now = self._now
        live = {n: until for n, until in self._focus.items() if until >= now}
        if len(live) == len(self._focus):
            return False
        self._focus = live
        return True

    def region(self, cols: int, rows: int) -> list[Row]:
        """The live region for the state so far, on a terminal of `cols` × `rows`."""
        width = cols - 1  # never fill the last column: no pending-wrap state to reason about
        if self.finished or width <= 0 or layout.budget(rows) <= 0:
            return []
        g = self.glyphs
        ops = [
            bars.progress_row(self._label(ev), ev, width, _bar_style(ev), g)
            for ev in self._ops.values()
        ]
        training = bars.train_bars(self._step, self.config, width, g) if self._step else []
        loss_chart = None
        if layout.chart_fits(cols, rows) and self._history is not None:
            history = self._history
            loss_chart = lambda: self._chart.rows(history, width, self.glyphs)  # noqa: E731
        return layout.arrange(
            ops, training, loss_chart, lambda n: self._grid(width, n), rows, chart.ROWS
        )

    # --- the parts of the region, cached while their inputs stay the same

    def _grid(self, width: int, rows: int) -> list[Row]:
        ev = self._telemetry
        if ev is None or rows <= 0:
            return []
        focus = frozenset(self._focus)  # _refocus keeps only the nodes still in focus
        key = (id(ev), width, rows, focus)
        hit = self._cache.get("grid")
        if hit is None or hit[0] != key:
            per = max(1, self.config.gpus_per_node)
            nodes = -(-len(ev.gpu_health or ()) // per)
            sample = grid.Sample(ev, per, nodes, self._hosts, focus, self.options.color)
            hit = (key, grid.grid(sample, self.config, width, rows, self.glyphs))
            self._cache["grid"] = hit
        return hit[1]

    def _chart_history(self) -> chart.History:
        if self._history is None:
            self._history = chart.History()
        return self._history

    def _incident(self, ev: Event) -> None:
        if ev.rank is None:
            return
        node = self.config.node_of(ev.rank)
        self._focus[node] = ev.t + (ev.elapsed if ev.elapsed is not None else INCIDENT_FOCUS)
        if ev.op == "restart" and ev.path and node < len(self._hosts):
            # The job came back on a spare node: the grid names the node it runs on now.
            hosts = list(self._hosts)
            hosts[node] = clean_name(ev.path)
            self._hosts = tuple(hosts)

    # --- lines

    def _label(self, ev: Event) -> str:
        return clean_name(ev.text) if ev.text else OP_LABELS.get(ev.op or "", "Working")

    def _leaves(self, ev: Event) -> bool:
        if ev.op in EXPORT_OPS:
            return True
        return ev.op in self._dialect.kept_bars

    def _progress_lines(self, ev: Event) -> list[Line]:
        if not self._leaves(ev) or (ev.done or 0) < (ev.total or 0):
            return []
        row = bars.progress_row(self._label(ev), ev, None, _bar_style(ev), self.glyphs)
        return [text_line(*row)]

    def _saved(self, ev: Event) -> list[Line]:
        size = ev.size_bytes or 0
        text = fmt.gigabytes(size) if ev.kind == "shard" else fmt.size(size)
        prefix = tuple(tool_prefix(self._stamps, self.base + ev.t, "INFO", "export"))
        body: tuple[Segment, ...] = (
            ("Saved:", "saved"),
            (" ", None),
            (clean_name(ev.path or ""), "path"),
            (f" ({text})", None),
        )
        return [Line(prefix, body)]

    def _summary_lines(self, ev: Event) -> list[Line]:
        box = [text_line(*row) for row in summary_box(ev, self.config, self.glyphs)]
        done = f"{self.glyphs.check} Training completed successfully!"
        return [text_line(), *box, text_line(), text_line((done, "success"))]


def _bar_style(ev: Event) -> str:
    return "bar_export" if ev.op in EXPORT_OPS else "bar_op"


def transition_lines() -> list[Line]:
    """The lines printed between two runs of a playlist."""
    return [text_line(), text_line((TRANSITION, "transition"))]
