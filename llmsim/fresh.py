"""Endless fresh runs: the next run is generated in the background while the current one plays.

`llmsim play` with no trace named plays the bundled runs and then the runs a `FreshRuns`
iterator hands it, forever. Each is an ordinary trace file that a separate `llmsim generate`
process writes into the user's cache folder (`$XDG_CACHE_HOME/llmsim/runs`, else
`~/.cache/llmsim/runs`) — a process, not a thread, so that generating never takes the player's
GIL, and the player never imports the generator. One run is always being made ahead; the
folder keeps the newest `limit` runs and loses the oldest. Seeds count up from a base (the
user's `--seed`, else a random one) and skip the seeds of runs already shown, so no run is
shown twice.

The cache is ours alone, and shared. Only files llmsim made are ever removed: a run is named
`fresh-<seed>-<models>[-<options>].parquet` and is an llmsim trace of that seed (its header
says so); a leftover temp file has the atomic writer's name for such a run and holds nothing
or the start of a Parquet file. Everything else in the folder (a user's own traces, a folder
that is a link to theirs) is left alone. A file whose date is in the future counts as the
oldest, not the newest. Several players may use the folder at once: a run another one wrote
first is played, not reported as a failure; a file under a run's name that is not that run
(corrupt, someone else's) is neither played nor removed: the seed is skipped.

The iterator never holds the player up for long: while the next run is being made it hands
out None ("not yet, ask again") every POLL seconds, so a stop signal or --exit-after acts at
once. If a run cannot be made (the generator fails, cannot be started, or makes nothing for
`stall_s` seconds while the player waits), the user is told once and the runs there are
(bundled and cached) play in turn instead.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import os
import re
import secrets
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Final

from llmsim.bundled import SUFFIX
from llmsim.errors import ERROR_PREFIX, one_line, os_reason

CACHE_LIMIT: Final = 20  # runs kept in the cache folder
MIN_LIMIT: Final = 3  # the run playing, the one handed out next, the one being made
MAX_SEED: Final = 2**63 - 1
STALE_TMP_S: Final = 3600.0  # a temp file this old is left over from a killed generator
STALL_S: Final = 300.0  # seconds the player waits for a run before giving up on the generator
POLL: Final = 0.2  # seconds of waiting for a run before handing out None
FUTURE_S: Final = 60.0  # a file dated further ahead than this has a wrong date
# The names of fresh runs and of the atomic writer's temp files for them (llmsim.fileio).
_RUN: Final = re.compile(r"fresh-(\d{1,19})-(real|invented|all|mix)(-[0-9a-f]{8})?\.parquet")
_TMP: Final = re.compile(r"\.(fresh-.+\.parquet)\.[A-Za-z0-9_]{8}\.tmp")
_PARQUET_MAGIC: Final = b"PAR1"

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
    stall_s: float = STALL_S  # seconds waited for one run before giving up (tests: less)

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


def is_fresh_run(path: Path) -> bool:
    """True if `path` is a fresh run llmsim made: its name says so, it is a regular file (not
    a link), and it is an llmsim trace of the seed its name holds."""
    match = _RUN.fullmatch(path.name)
    if match is None or not _regular(path):
        return False
    from llmsim.trace import TraceError, open_trace

    try:
        trace = open_trace(path)
    except TraceError:
        return False
    trace.close()
    return trace.config.seed == int(match.group(1))


def _is_leftover(path: Path, now: float) -> bool:
    """True if `path` is a temp file a killed generator left: the atomic writer's name for a
    fresh run, old (or dated in the future), holding nothing or the start of a Parquet file."""
    match = _TMP.fullmatch(path.name)
    if match is None or _RUN.fullmatch(match.group(1)) is None or not _regular(path):
        return False
    mtime = _mtime(path)
    if STALE_TMP_S >= now - mtime >= -FUTURE_S:
        return False  # a generator may still be writing it
    try:
        with path.open("rb") as fh:
            head = fh.read(len(_PARQUET_MAGIC))
    except OSError:
        return False
    return head in (b"", _PARQUET_MAGIC)


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


@dataclass
class _Job:
    """One `llmsim generate` process writing one run (proc None: nothing to wait for; then
    `problem` says why not, or the run was there already)."""

    seed: int
    path: Path
    proc: subprocess.Popen[bytes] | None
    problem: str | None = None
    waiting_since: float | None = None  # when the player first asked for the run

    def ready(self, wait: float) -> bool:
        """True once the process has ended (waiting up to `wait` seconds for it)."""
        if self.proc is None:
            return True
        try:
            self.proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            return False
        return True

    def result(self) -> str | None:
        """None when the run is written (by this job or by another player), else why not."""
        if self.proc is not None and self.problem is None:
            _, err = self.proc.communicate()
            if self.proc.returncode != 0:
                lines = err.decode("utf-8", "replace").strip().splitlines()
                last = lines[-1] if lines else f"llmsim generate exited {self.proc.returncode}"
                self.problem = one_line(last.removeprefix(ERROR_PREFIX))
        if is_fresh_run(self.path):  # ours, or another player's that was written first
            return None
        return self.problem or f"{self.path} was not written"

    def stop(self) -> None:
        """End the process if it still runs (its atomic writer removes the temp file)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            if hasattr(signal, "SIGCONT"):  # a stopped process acts on SIGTERM once continued
                with contextlib.suppress(OSError):
                    self.proc.send_signal(signal.SIGCONT)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr is not None:
            self.proc.stderr.close()


class FreshRuns(Iterator[Path | None]):
    """An endless iterator of freshly generated trace files; None while the next is being made
    (ask again). Use it as a context manager."""

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
            self._give_up(f"cannot make {folder}: {_folder_problem(folder, exc)}")
            return
        self._job = self._start()

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

    def __next__(self) -> Path | None:
        """The next fresh run, or None if it is still being made (after waiting up to POLL
        seconds for it); the run after it is begun as it is handed out."""
        if self._replay is not None:
            return self._replayed()
        if self._job is None:  # closed
            raise StopIteration
        job = self._job
        if not job.ready(POLL):
            now = time.monotonic()
            job.waiting_since = job.waiting_since or now
            if now - job.waiting_since < self.options.stall_s:
                return None
            job.stop()
            stalled = f"llmsim generate made no run in {self.options.stall_s:g} s"
            job.problem = job.problem or stalled
        self._job = None
        problem = job.result()
        if problem is not None:
            self._give_up(problem)
            return self._replayed()
        self._prune(keep=job.path)  # room for the run begun next: never over the limit
        self._job = self._start()
        return job.path

    def _file_for(self, seed: int) -> Path:
        parts = [str(seed), self.options.models or "mix"]
        if self.options.generate_args:
            key = "\0".join(self.options.generate_args).encode()
            parts.append(hashlib.sha256(key).hexdigest()[:8])
        return self.folder / f"fresh-{'-'.join(parts)}{SUFFIX}"

    def _start(self) -> _Job:
        """Begin the next run: reuse it if an earlier session made it, skip the seed if its
        name is taken by something else, else start a generator (a job with a problem if
        none can be started)."""
        seed = next(self._seeds)
        path = self._file_for(seed)
        while os.path.lexists(path):
            if is_fresh_run(path):  # made by an earlier session with the same seed: reuse it
                with contextlib.suppress(OSError):
                    os.utime(path)
                return _Job(seed, path, None)
            seed = next(self._seeds)  # not ours (corrupt, someone else's): leave it be
            path = self._file_for(seed)
        command = [sys.executable, "-m", "llmsim", "generate", "-o", str(path)]
        command += ["--seed", str(seed)]
        if self.options.models is not None:
            command += ["--models", self.options.models]
        command += list(self.options.generate_args)
        try:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,  # Ctrl-C in the terminal is ours to handle, not its
                preexec_fn=_lower_priority if os.name == "posix" else None,
            )
        except (OSError, subprocess.SubprocessError) as exc:  # a process limit, no interpreter
            return _Job(seed, path, None, f"cannot start llmsim generate: {os_reason(exc)}")
        return _Job(seed, path, proc)

    def _prune(self, keep: Path) -> None:
        """Remove the oldest of our runs so that the folder holds at most limit - 1 of them
        besides the new ones, and our temp files that killed generators left."""
        now = time.time()
        try:
            names = os.listdir(self.folder)
        except OSError:
            return
        runs = [self.folder / n for n in names if _RUN.fullmatch(n)]
        runs = sorted((p for p in runs if p != keep and is_fresh_run(p)), key=_age(now))
        for path in runs[: max(0, len(runs) + 1 - (self.options.limit - 1))]:
            with contextlib.suppress(OSError):
                path.unlink()
        for name in names:
            tmp = self.folder / name
            if _is_leftover(tmp, now):
                with contextlib.suppress(OSError):
                    tmp.unlink()

    def _give_up(self, problem: str) -> None:
        self._report(f"no fresh run could be made ({problem}); playing the runs there are")
        try:
            cached = [p for p in self.folder.iterdir() if is_fresh_run(p)]
        except OSError:
            cached = []
        runs = [*self._fallback_runs, *sorted(cached, key=_age(time.time()))]
        self._replay = itertools.cycle(runs) if runs else iter(())

    def _replayed(self) -> Path:
        assert self._replay is not None
        return next(self._replay)


def _age(now: float) -> Callable[[Path], float]:
    """Sort key: oldest first, by modification time; a time in the future is no time at all
    (a clock that was wrong, a copied file): such a file counts as the oldest."""

    def key(path: Path) -> float:
        mtime = _mtime(path)
        return mtime if mtime <= now + FUTURE_S else -1.0

    return key


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _folder_problem(folder: Path, exc: OSError) -> str:
    """What is wrong with the path to `folder`, said as what it is: the first part of it that
    is a link to nothing, a link loop or a file ("File exists" says none of that)."""
    for part in [*reversed(folder.parents), folder]:
        try:
            mode = os.stat(part).st_mode
        except OSError as err:
            if err.errno == errno.ELOOP:
                return f"{part} is a loop of symbolic links"
            if err.errno == errno.ENOENT and os.path.islink(part):
                return f"{part} is a symbolic link to nothing"
            break
        if not stat.S_ISDIR(mode):
            return f"{part} is not a folder"
    return os_reason(exc, writing=True)
