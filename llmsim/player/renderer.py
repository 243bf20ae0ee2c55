"""The pure renderer: trace events in, styled scrolling log lines and live-region lines out.

`Renderer.feed(event)` returns the log lines an event prints; `Renderer.live(width, height)`
returns the pinned region for the state so far. No clock, no I/O, no randomness: the same
events give the same strings, which is what makes a cast byte-for-byte a live terminal's output.
The layout lives in a style module (`views`, the default style); this class keeps the state and
decides which view runs when.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from llmsim.player import views
from llmsim.player.dialects import Line, Stamps, dialect_for, log_line
from llmsim.player.style import Styler, glyphs
from llmsim.sanitize import clean, clean_name
from llmsim.trace import Event, RunConfig

# Progress operations whose finished bar stays in the log (tqdm leave=True); the eval and
# checkpoint bars vanish because their result line (eval/checkpoint row) says it all.
LEAVE_OPS: Final = frozenset(
    {"load_checkpoint", "init_weights", "merge_weights", "optimize", "serialize", "write_shards"}
)
EXPORT_OPS: Final = frozenset({"merge_weights", "optimize", "serialize", "write_shards"})
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
RESERVED_ROWS: Final = 2  # rows of the terminal the live region leaves to scrolling logs


@dataclass(frozen=True)
class RenderOptions:
    """How to render: colour, glyph set, and the clock time that t = 0 maps to in log stamps."""

    color: bool = False
    ascii: bool = False
    time_base: float | None = None  # unix time of t = 0; None: the trace's config.start_time
    utc: bool = True  # stamps in UTC (deterministic, for casts and tests) or local time


class Renderer:
    """Turns one trace's events into log lines and live-region lines. Pure and deterministic."""

    def __init__(self, config: RunConfig, options: RenderOptions | None = None) -> None:
        self.config = config
        self.options = options or RenderOptions()
        self.styler = Styler(self.options.color)
        self.glyphs = glyphs(self.options.ascii)
        self._base = (
            self.options.time_base if self.options.time_base is not None else config.start_time
        )
        self._hosts = tuple(clean_name(h) for h in config.hostnames)
        self._ops: dict[str, Event] = {}
        self._step: Event | None = None
        self._telemetry: Event | None = None
        self._finished = False
        self._grid_key: tuple[int, int, int] | None = None
        self._grid: list[str] = []
        self._stamps = Stamps(self.options.utc)
        self._dialect = dialect_for(config, self._stamps)
        self._dispatch: dict[str, Callable[[Event], list[str]]] = {
            "log": self._log,
            "phase": self._phase,
            "progress": self._progress,
            "step": self._on_step,
            "telemetry": self._on_telemetry,
            "eval": self._eval,
            "checkpoint": self._checkpoint,
            "shard": self._saved,
            "file": self._saved,
            "summary": self._summary,
        }

    @property
    def finished(self) -> bool:
        """True once the summary has been rendered (the live region is then empty)."""
        return self._finished

    def feed(self, event: Event) -> list[str]:
        """Update the state with one event; return the log lines it prints (styled, cleaned)."""
        handler = self._dispatch.get(event.kind)
        return handler(event) if handler is not None else []

    def live(self, width: int, height: int) -> list[str]:
        """The live region for the current state, fitting width-1 columns and height-2 rows."""
        if self._finished:
            return []
        budget = height - RESERVED_ROWS
        cols = width - 1  # never fill the last column: no pending-wrap state to reason about
        if budget <= 0 or cols <= 0:
            return []
        st, g = self.styler, self.glyphs
        ops = [
            views.progress_line(
                self._label(ev),
                ev.done or 0,
                ev.total or 0,
                ev.unit,
                ev.elapsed or 0.0,
                cols,
                "bar_export" if ev.op in EXPORT_OPS else "bar_op",
                st,
                g,
            )
            for ev in self._ops.values()
        ]
        bars = views.train_bars(self._step, self.config, cols, st, g) if self._step else []
        # Shrink the grid first, then drop the epoch bar, then the run bar, then op bars.
        while len(ops) + len(bars) > budget and bars:
            bars.pop()
        ops = ops[:budget]
        grid_rows = budget - len(ops) - len(bars)
        return self._grid_lines(cols, grid_rows) + ops + bars

    def _grid_lines(self, cols: int, rows: int) -> list[str]:
        ev = self._telemetry
        if ev is None or rows <= 0:
            return []
        key = (id(ev), cols, rows)
        if key != self._grid_key:  # a grid is redrawn per frame but changes per sample
            self._grid = views.gpu_grid(
                ev, self.config, self._hosts, cols, rows, self.styler, self.glyphs
            )
            self._grid_key = key
        return self._grid

    def _styled(self, lines: list[Line]) -> list[str]:
        paint = self.styler.paint
        return [
            "".join(paint(style or "", clean(text)) for text, style in (*ln.prefix, *ln.body))
            for ln in lines
        ]

    def _label(self, ev: Event) -> str:
        return clean_name(ev.text) if ev.text else OP_LABELS.get(ev.op or "", "Working")

    def _log(self, ev: Event) -> list[str]:
        return self._styled([log_line(ev, self._base + ev.t, self._stamps)])

    def _phase(self, ev: Event) -> list[str]:
        if ev.phase == "export":
            self._step = None  # the training bars close when training is over
        return []

    def _progress(self, ev: Event) -> list[str]:
        key = ev.op or ev.text or ""
        done, total = ev.done or 0, ev.total or 0
        if done < total:
            self._ops[key] = ev
            return []
        self._ops.pop(key, None)
        if ev.op not in LEAVE_OPS:
            return []
        return [
            views.progress_line(
                self._label(ev),
                done,
                total,
                ev.unit,
                ev.elapsed or 0.0,
                None,
                "bar_export" if ev.op in EXPORT_OPS else "bar_op",
                self.styler,
                self.glyphs,
            )
        ]

    def _on_step(self, ev: Event) -> list[str]:
        self._step = ev
        return self._styled(self._dialect.step(ev, self._base + ev.t))

    def _on_telemetry(self, ev: Event) -> list[str]:
        self._telemetry = ev
        return []

    def _eval(self, ev: Event) -> list[str]:
        self._ops.pop("eval", None)
        return self._styled(self._dialect.eval(ev, self._base + ev.t))

    def _checkpoint(self, ev: Event) -> list[str]:
        self._ops.pop("checkpoint", None)
        return self._styled(self._dialect.checkpoint(ev, self._base + ev.t))

    def _saved(self, ev: Event) -> list[str]:
        stamp = self._stamps.seconds(self._base + ev.t)
        prefix = self.styler.paint("time", f"[{stamp}] ") + self.styler.paint("INFO", "INFO   ")
        prefix += self.styler.paint("origin", " export     ") + self.styler.paint("sep", "| ")
        return [prefix + views.saved_message(ev, self.styler)]

    def _summary(self, ev: Event) -> list[str]:
        self._finished = True
        self._ops.clear()
        self._step = self._telemetry = None
        box = views.summary_box(ev, self.config, self.options.color, self.glyphs)
        done = self.styler.paint("success", f"{self.glyphs.check} Training completed successfully!")
        return ["", *box, "", done]


def transition_line(options: RenderOptions) -> str:
    """The line printed between two runs of a playlist."""
    return Styler(options.color).paint("transition", "Starting new training run...")
