"""The login shell around a job: its prompt, commands typed as a person types them, their output
(trace 2.4's `shell` rows), and the real forms of what the engineer runs there.

- The prompt is bash's on RHEL/Rocky (`/etc/bashrc`: `PS1="[\\u@\\h \\W]\\$ "`), the form of HPC
  login nodes and GPU servers (captures: `[renata@sdfrome001 examples]$`).
- Typing: bursts of a few keys 40-150 ms apart within a word, 150-400 ms between words, a
  longer pause before an option's value now and then; a path often completes with Tab (its
  rest appears at once); Enter 200-600 ms after the last key.
- `sbatch` answers `Submitted batch job N` (Slurm 25.05 `src/sbatch/sbatch.c:335`); `tail -f`
  follows the job's output file until Ctrl-C, which the terminal echoes as `^C`.
- `ls -lh` as GNU coreutils 9.x prints it (LC_ALL=C order, sizes in powers of 1024 rounded up,
  one decimal below 10, `%b %e %H:%M` dates): units.ls_size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from llmsim.generator.rows import Clock, Rows
from llmsim.trace.vocab import LogFormat, Phase
from llmsim.units import ls_size

ENTER_S: Final = (0.2, 0.6)  # Enter after the last key
KEY_S: Final = (0.04, 0.15)  # between bursts within a word
WORD_S: Final = (0.15, 0.4)  # between words
VALUE_PAUSE_S: Final = (0.2, 0.8)  # a pause before an option's value, now and then
BLOCK: Final = 4096  # the file system's block: what `ls`'s total counts
LS_DATE: Final = "%b %e %H:%M"  # ls -l's date of a file younger than six months


@dataclass(frozen=True)
class Command:
    """A command line as typed, and what tmux names the window while it runs (the foreground
    process's argv[0]: `python3` for a console script whose shebang runs the interpreter)."""

    text: str
    window: str


@dataclass(frozen=True)
class Launch:
    """How the job is started at the shell: submitted (`sbatch`, then its output file followed
    with `tail -f`) or run in the foreground (torchrun, deepspeed, a script)."""

    run: Command  # the foreground command whose output is the job's: the launcher or tail -f
    submit: Command | None = None  # sbatch: the job runs on the cluster, its output to a file
    job_id: int | None = None  # the Slurm job sbatch answers with
    preamble: tuple[str, ...] = ()  # what prints before the job's own lines (bash's xtrace)

    @property
    def batch(self) -> bool:
        """The job's output goes to a file (not a terminal): tail -f shows it until Ctrl-C."""
        return self.submit is not None


def prompt(user: str, host: str, cwd: str, home: str) -> str:
    """bash's prompt on RHEL: `[user@host dir]$ ` (\\W: the folder's name, `~` at home)."""
    short = host.split(".")[0]
    folder = "~" if cwd.rstrip("/") == home.rstrip("/") else cwd.rstrip("/").rsplit("/", 1)[-1]
    return f"[{user}@{short} {folder}]$ "


class Shell:
    """Writes one shell session's rows: prompts, typed keys, Enter, output lines."""

    def __init__(
        self, rows: Rows, clock: Clock, rng: np.random.Generator, prompt: str, phase: Phase
    ) -> None:
        self.rows, self.clock, self.rng, self.text, self.phase = rows, clock, rng, prompt, phase

    def prompt(self, dt: float = 0.0) -> None:
        """The shell prints its prompt; the line stays open."""
        t = self.clock.tick(dt)
        self.rows.add(t, "shell", self.phase, op="prompt", text=self.text, origin="bash")

    def type(self, command: Command, think: float = 0.0) -> float:
        """`command` typed after `think` seconds, then Enter; returns when Enter was pressed."""
        self.clock.tick(think)
        for delay, keys in keystrokes(command.text, self.rng):
            t = self.clock.tick(delay)
            self.rows.add(t, "shell", self.phase, op="keys", text=keys)
        t = self.clock.tick(float(self.rng.uniform(*ENTER_S)))
        self.rows.add(t, "shell", self.phase, op="enter", origin=command.window)
        return t

    def interrupt(self, dt: float) -> None:
        """Ctrl-C at a foreground program: the terminal echoes `^C`, the line ends."""
        t = self.clock.tick(dt)
        self.rows.add(t, "shell", self.phase, op="keys", text="^C")
        self.rows.add(t + 0.01, "shell", self.phase, op="enter", origin="bash")
        self.clock.t = t + 0.01

    def output(self, text: str, dt: float = 0.0, source: LogFormat = "plain") -> None:
        """One line a command at the shell printed."""
        t = self.clock.tick(dt)
        self.rows.add(t, "shell", self.phase, op="output", text=text, source=source, level="INFO")

    def outputs(self, texts: Sequence[str], dt: float = 0.0, every: float = 0.0) -> None:
        """Several lines, `every` seconds apart (0: one write)."""
        for i, text in enumerate(texts):
            self.output(text, dt if i == 0 else every)


def keystrokes(command: str, rng: np.random.Generator) -> list[tuple[float, str]]:
    """(seconds before, keys) of each burst of a person typing `command` (the first at once:
    the pause before it is the caller's)."""
    out: list[tuple[float, str]] = []
    words = command.split(" ")
    for w, word in enumerate(words):
        chunk = word if w == len(words) - 1 else word + " "
        i = 0
        while i < len(chunk):
            if i == 0:
                delay = float(rng.uniform(*WORD_S)) if w else 0.0  # the caller's pause first
                option = w > 0 and words[w - 1].startswith("-") and not word.startswith("-")
                if option and rng.random() < 0.35:
                    delay += float(rng.uniform(*VALUE_PAUSE_S))
            else:
                delay = float(rng.uniform(*KEY_S))
            n = int(rng.integers(1, 4))
            if i >= 2 and ("/" in word or "." in word) and rng.random() < 0.3:
                n = len(chunk) - i  # Tab completes the rest of the path
            out.append((delay, chunk[i : i + min(n, 8)]))
            i += min(n, 8)
    return out


def ls_lines(files: Sequence[tuple[str, int, float]], user: str) -> list[str]:
    """`ls -lh` of a folder of regular files (name, bytes, seconds since it was written),
    owner and group `user` (a user private group): `total`, then one line per file in byte
    order (LC_ALL=C); each date a stamp mark the player draws (`%b %e %H:%M`: a file of this
    half-year)."""
    blocks = sum(math.ceil(size / BLOCK) * BLOCK for _, size, _ in files)
    rows = sorted(files)
    sizes = [ls_size(size) for _, size, _ in rows]
    width = max((len(s) for s in sizes), default=1)
    out = [f"total {ls_size(blocks)}"]
    for (name, _, age), size in zip(rows, sizes, strict=True):
        when = f"{{stamp-{age:.6f}:{LS_DATE}}}" if age > 0 else f"{{stamp:{LS_DATE}}}"
        out.append(f"-rw-r--r-- 1 {user} {user} {size:>{width}} {when} {name}")
    return out
