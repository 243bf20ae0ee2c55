"""W&B 0.22.3's own terminal lines: the start of a run (`wandb.init`) and the footer of
`run.finish()`, with the run history's sparklines and the run summary computed here from the
values the job logged, by wandb's own rules.

Sources (wandb 0.22.3 wheel): `sdk/wandb_login.py:159-168` (the login line),
`sdk/wandb_run.py:3672-3760` (header: version, sync dir, `Syncing run`, the links),
`sdk/wandb_run.py:3777-3965` (footer: the panel of `Run history:` and `Run summary:` grids, keys
not starting with `_` sorted by Python's string order, at most 10 each then `+N ...`, summary
floats `round(v, 5)`; the run and project links, the synced-file count, `Find logs at:` with the
cwd as `.`), `sdk/lib/printer.py:414-424` (grid: keys right-aligned to the grid's longest, the
panel opening with a blank line), `sdk/lib/sparkline.py` (▁..█ over min..max, a flat series at
▁), `util.py:1098` (downsample to 40, start and end kept) and wandb-core's history sampler (a
reservoir of 48 values per metric, kept in logged order). Every line goes through termlog:
`wandb: ` + the line, an empty line as `wandb: `. On a terminal wandb colours its name (the
player's `wandb` source draws it so); when the job's output is a file or a pipe (sbatch, srun,
torchrun --tee) click strips the colour, and the footer's progress prints as static lines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from llmsim.generator.catalog.terminal import WANDB_API, WANDB_SITE, WANDB_VERSION
from llmsim.units import sparkline

SPARKS: Final = "▁▂▃▄▅▆▇█"
RUN_STAMP: Final = "%Y%m%d_%H%M%S"  # wandb_settings.py: the run folder's time
RESERVOIR: Final = 48  # values wandb-core keeps of a metric's history
FOOTER_POINTS: Final = 40  # the footer's sparkline length
MAX_ROWS: Final = 10  # max_end_of_run_history_metrics, max_end_of_run_summary_metrics
Value = float | int | str


@dataclass(frozen=True)
class WandbRun:
    """One W&B run as the job's wandb.init makes it."""

    user: str
    entity: str
    project: str
    name: str
    run_id: str
    root: str  # the absolute folder wandb writes `wandb/run-...` under (wandb.init's dir)
    cwd: str  # the process's working folder (the footer prints it as `.`)
    root_stamp: str | None = None  # a folder under root named by the time (strftime pattern)

    @property
    def project_url(self) -> str:
        """The project's page."""
        return f"{WANDB_SITE}/{self.entity}/{self.project}"

    @property
    def run_url(self) -> str:
        """The run's page."""
        return f"{self.project_url}/runs/{self.run_id}"

    def run_dir(self, back: float) -> str:
        """`<root>/wandb/run-%Y%m%d_%H%M%S-<id>` of a run started `back` seconds before the
        line that prints it: the times are stamp marks the player draws from its clock (a date
        in a trace's text would disagree with the stamps around it)."""
        root = self.root
        if self.root_stamp is not None:
            root = f"{root}/{mark(back, self.root_stamp)}"
        return f"{root}/wandb/run-{mark(back, RUN_STAMP)}-{self.run_id}"


def mark(back: float, pattern: str) -> str:
    """A stamp mark (player/dialects/logformats.py MARK): the time `back` seconds before the
    line's, in `pattern`."""
    return f"{{stamp-{back:.6f}:{pattern}}}" if back > 0 else f"{{stamp:{pattern}}}"


def start_lines(run: WandbRun) -> list[str]:
    """What wandb.init prints (without the `wandb: ` prefix), all at the line's time."""
    team = f" ({run.entity})" if run.entity != run.user else ""
    return [
        f"Currently logged in as: {run.user}{team} to {WANDB_API}. "
        "Use `wandb login --relogin` to force relogin",
        f"Tracking run with wandb version {WANDB_VERSION}",
        f"Run data is saved locally in {run.run_dir(0.0)}",
        "Run `wandb offline` to turn off syncing.",
        f"Syncing run {run.name}",
        f"⭐️ View project at {run.project_url}",
        f"🚀 View run at {run.run_url}",
    ]


@dataclass
class History:
    """What a run logged: each key's values in logged order, and summary-only values."""

    series: dict[str, list[float]] = field(default_factory=dict)
    singles: dict[str, Value] = field(default_factory=dict)  # run.summary[k] = v directly
    ints: frozenset[str] = frozenset()  # keys logged as Python ints

    def add(self, key: str, values: Sequence[float]) -> None:
        """Values logged under `key`, after those already logged."""
        self.series.setdefault(key, []).extend(float(v) for v in values)

    def summary(self) -> dict[str, Value]:
        """The run summary: each key's last logged value, and the single values."""
        out: dict[str, Value] = {}
        for key, values in self.series.items():
            if values:
                last = values[-1]
                out[key] = int(last) if key in self.ints else last
        out.update(self.singles)
        return out


def footer_lines(
    run: WandbRun, history: History, back: float, rng: np.random.Generator, piped: bool
) -> list[str]:
    """What run.finish() prints (without the `wandb: ` prefix) `back` seconds after wandb.init;
    `piped`: not to a terminal, where the progress of the last uploads is printed as lines
    instead of a spinner."""
    out: list[str] = []
    if piped:
        out += [
            "updating run metadata",
            "uploading output.log; uploading wandb-summary.json; uploading config.yaml",
        ]
    grids = []
    rows = [(k, _sampled(v, rng)) for k, v in sorted(history.series.items()) if v]
    if rows:
        grids.append(_grid("Run history:", [(k, sparkline(v, SPARKS)) for k, v in rows]))
    summary = sorted(history.summary().items())
    if summary:
        grids.append(_grid("Run summary:", [(k, _summary_value(v)) for k, v in summary]))
    if grids:
        out += ["", *(line for grid in grids for line in grid)]
    logs = run.run_dir(back).replace(run.cwd, ".", 1) + "/logs"
    out += [
        f"🚀 View run {run.name} at: {run.run_url}",
        f"⭐️ View project at: {run.project_url}",
        "Synced 5 W&B file(s), 0 media file(s), 0 artifact file(s) and 0 other file(s)",
        f"Find logs at: {logs}",
    ]
    return out


def _grid(title: str, rows: list[tuple[str, str]]) -> list[str]:
    """printer.grid: at most MAX_ROWS rows then `+N ...`, keys right-aligned, a blank line."""
    shown = rows[:MAX_ROWS]
    if len(rows) > MAX_ROWS:
        shown.append((f"+{len(rows) - MAX_ROWS:,d}", "..."))
    width = max(len(k) for k, _ in shown)
    return [title, *(f"{k:>{width}} {v}" for k, v in shown), ""]


def _summary_value(value: Value) -> str:
    if isinstance(value, str):
        return value[:20] + "..." * (len(value) >= 20)
    if isinstance(value, float):
        return str(round(value, 5)) if math.isfinite(value) else str(value)
    return str(value)


def _sampled(values: Sequence[float], rng: np.random.Generator) -> list[float]:
    """The footer's points: a reservoir of 48 values in logged order, downsampled to 40."""
    kept = list(values)
    if len(kept) > RESERVOIR:
        picks = np.sort(rng.choice(len(kept), RESERVOIR, replace=False))
        kept = [kept[int(i)] for i in picks]
    if len(kept) < FOOTER_POINTS:
        return kept
    ratio = (len(kept) - 1) / (FOOTER_POINTS - 1)
    return [kept[int(i * ratio)] for i in range(FOOTER_POINTS)]
