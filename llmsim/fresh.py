"""Endless fresh runs: the next run is generated in the background while the current one plays.

`llmsim play` with no trace named plays the bundled runs and then the runs a `FreshRuns`
iterator hands it, forever. Each is an ordinary trace file that a separate `llmsim generate`
process writes into the user's cache folder (`$XDG_CACHE_HOME/llmsim/runs`, else
`~/.cache/llmsim/runs`) — a process, not a thread, so that generating never takes the player's
GIL, and the player never imports the generator. One run is always being made ahead; the
folder keeps the newest `limit` runs and loses the oldest. Seeds count up from a base (the
user's `--seed`, else a random one) and skip the seeds of runs already shown, so no run is
shown twice. If a run cannot be made, the user is told once and the runs there are (cached
and bundled) play in turn instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Final

from llmsim.bundled import SUFFIX
from llmsim.errors import ERROR_PREFIX

CACHE_LIMIT: Final = 20  # runs kept in the cache folder
MIN_LIMIT: Final = 3  # the run playing, the one handed out next, the one being made
MAX_SEED: Final = 2**63 - 1
STALE_TMP_S: Final = 3600.0  # a temp file this old is left over from a killed generator

Report = Callable[[str], None]


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where fresh runs are kept: `$XDG_CACHE_HOME/llmsim/runs` or `~/.cache/llmsim/runs`.

    The XDG spec says a relative XDG_CACHE_HOME is invalid and to be ignored.
    """
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return root / "llmsim" / "runs"


@dataclass(frozen=True)
class FreshOptions:
    """What the fresh runs are made of."""

    seed: int | None = None  # base seed of the sequence (None: a random one)
    models: str | None = None  # `llmsim generate --models` (None: the generator's own mix)
    limit: int = CACHE_LIMIT  # runs kept in the cache folder
    skip_seeds: frozenset[int] = field(default_factory=frozenset)  # seeds already shown
    generate_args: tuple[str, ...] = ()  # more `llmsim generate` options (tests: small runs)

    def __post_init__(self) -> None:
        if self.limit < MIN_LIMIT:
            raise ValueError(f"the cache must keep at least {MIN_LIMIT} runs, not {self.limit}")


def seeds(base: int, skip: frozenset[int]) -> Iterator[int]:
    """base, base+1, ... (wrapping below MAX_SEED) without the seeds in `skip`."""
    for i in itertools.count():
        seed = (base + i) % (MAX_SEED + 1)
        if seed not in skip:
            yield seed


def _lower_priority() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(OSError):
        os.nice(10)


@dataclass
class _Job:
    """One `llmsim generate` process writing one run (proc None: the run was cached already)."""

    seed: int
    path: Path
    proc: subprocess.Popen[bytes] | None

    def wait(self) -> str | None:
        """Block until the run is written; None when it is, else why not (one line)."""
        if self.proc is not None:
            _, err = self.proc.communicate()
            if self.proc.returncode != 0:
                lines = err.decode("utf-8", "replace").strip().splitlines()
                last = lines[-1] if lines else f"llmsim generate exited {self.proc.returncode}"
                return last.removeprefix(ERROR_PREFIX)
        return None if self.path.is_file() else f"{self.path} was not written"

    def stop(self) -> None:
        """End the process if it still runs (its atomic writer removes the temp file)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class FreshRuns(Iterator[Path]):
    """An endless iterator of freshly generated trace files (use it as a context manager)."""

    def __init__(
        self,
        folder: Path,
        options: FreshOptions,
        report: Report,
        fallback: Sequence[Path] = (),
    ) -> None:
        self.folder = folder
        self.options = options
        self._report = report
        self._fallback_runs = list(fallback)
        base = secrets.randbelow(2**31) if options.seed is None else options.seed
        self._seeds = seeds(base, options.skip_seeds)
        self._replay: Iterator[Path] | None = None  # set once generating has failed
        self._job: _Job | None = None
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._give_up(f"cannot make {folder}: {exc.strerror or exc}")
            return
        self._job = self._start(next(self._seeds))

    def __enter__(self) -> FreshRuns:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the run being made, if any."""
        if self._job is not None:
            self._job.stop()
            self._job = None

    def __next__(self) -> Path:
        """The next fresh run (waiting for it if it is not written yet); the next is begun."""
        if self._replay is not None:
            return self._replayed()
        if self._job is None:  # closed
            raise StopIteration
        job = self._job
        self._job = None
        problem = job.wait()
        if problem is not None:
            self._give_up(problem)
            return self._replayed()
        self._prune(keep=job.path)  # room for the run begun next: never over the limit
        self._job = self._start(next(self._seeds))
        return job.path

    def _file_for(self, seed: int) -> Path:
        parts = [str(seed), self.options.models or "mix"]
        if self.options.generate_args:
            key = "\0".join(self.options.generate_args).encode()
            parts.append(hashlib.sha256(key).hexdigest()[:8])
        return self.folder / f"fresh-{'-'.join(parts)}{SUFFIX}"

    def _start(self, seed: int) -> _Job:
        path = self._file_for(seed)
        if path.is_file():  # made by an earlier session with the same seed: reuse it
            with contextlib.suppress(OSError):
                os.utime(path)
            return _Job(seed, path, None)
        command = [sys.executable, "-m", "llmsim", "generate", "-o", str(path)]
        command += ["--seed", str(seed)]
        if self.options.models is not None:
            command += ["--models", self.options.models]
        command += list(self.options.generate_args)
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C in the terminal is ours to handle, not its
            preexec_fn=_lower_priority if os.name == "posix" else None,
        )
        return _Job(seed, path, proc)

    def _prune(self, keep: Path) -> None:
        """Remove the oldest runs so that the folder holds at most limit - 1 besides new ones."""
        runs = sorted(self.folder.glob(f"*{SUFFIX}"), key=_mtime)
        excess = len(runs) - (self.options.limit - 1)
        for path in runs:
            if excess <= 0:
                break
            if path != keep:
                with contextlib.suppress(OSError):
                    path.unlink()
                excess -= 1
        now = time.time()
        for tmp in self.folder.glob(".*.tmp"):
            if now - _mtime(tmp) > STALE_TMP_S:
                with contextlib.suppress(OSError):
                    tmp.unlink()

    def _give_up(self, problem: str) -> None:
        self._report(f"no fresh run could be made ({problem}); playing the runs there are")
        cached = sorted(self.folder.glob(f"*{SUFFIX}"), key=_mtime) if self.folder.is_dir() else []
        runs = [*self._fallback_runs, *cached]
        self._replay = itertools.cycle(runs) if runs else iter(())

    def _replayed(self) -> Path:
        assert self._replay is not None
        return next(self._replay)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
