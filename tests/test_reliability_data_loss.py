"""Class 1 — data loss: no output replaces another, none is left half-written, no file is
removed that llmsim did not make.

The runs of a `generate` batch get names unique among themselves, checked against each other
and against the disk (unless --force) before anything is written. Every output is written under
a hidden temp name and renamed into place only when complete: interrupted (Ctrl-C, SIGTERM,
SIGHUP, Ctrl-\\, SIGUSR1, SIGXCPU and the other stop signals) `generate` and `cast` remove
their temp file and exit with 128 + n; a signal ignored on entry (`nohup`) stays ignored and the
output is finished; killed (SIGKILL) they leave only a hidden `.NAME.*.tmp` that nothing reads
and nothing trips over; a full disk or a file-size limit is one line; an existing file is never
replaced without --force, not even one that appears while the file is being written. The
fresh-run cache prunes only its own runs and temp files, by name and by content, and a date in
the future does not make a stale file look new.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import resource
import shlex
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import LLMSIM, assert_one_line_error, call, copy_trace, env, run_all
from reliability_kit import MORE_STOPS as KIT_STOPS
from synthetic import config, write_trace

import llmsim.generator
from llmsim.cli.signals import Terminated, terminate_as_interrupt
from llmsim.errors import InputError
from llmsim.fresh import STALE_TMP_S, FreshOptions, FreshRuns, is_fresh_run
from llmsim.generator import GenerateOptions, plan_run
from llmsim.player import CastOptions
from llmsim.player.cast import export_cast
from llmsim.trace import TraceError, TraceWriter, make_table, open_trace

SMALL = ["--duration", "2m", "--model", "Llama-3.2-1B", "--gpus", "8"]
BIG_RUN = ["--steps-per-epoch", "2000000", "--gpus", "1024", "--seed", "1", "--max-size", "1TB"]


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_trace(tmp_path_factory.mktemp("trace") / "synthetic.parquet")


def _table() -> object:
    return make_table(1, {"t": [0.0], "kind": ["phase"], "phase": ["init"], "text": ["x"]})


# --- names in a batch ---------------------------------------------------------------------------


def test_the_issues_batch_gets_eleven_names() -> None:
    """`--count 11 --seed 95642 --model Llama-3-8B --kind finetune`: 11 runs, 11 names."""
    base = GenerateOptions(seed=95642, model="Llama-3-8B", kind="finetune")
    names = {plan_run(dataclasses.replace(base, seed=95642 + i)).config.name for i in range(11)}
    assert len(names) == 11


def test_names_are_checked_against_each_other_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = llmsim.generator.plan_run

    def same_name(options: GenerateOptions) -> object:
        plan = real(options)
        named = dataclasses.replace(plan.config, name="twin")
        return dataclasses.replace(plan, config=named)

    monkeypatch.setattr(llmsim.generator, "plan_run", same_name)
    for force in ([], ["--force"]):
        status, out, err = call(
            [
                "generate",
                "-o",
                str(tmp_path / "runs"),
                "--count",
                "3",
                "--seed",
                "3",
                *SMALL,
                *force,
            ]
        )
        assert (status, out) == (2, "")
        assert_one_line_error(err, "two runs would both be written to", "twin.parquet")
        assert not (tmp_path / "runs").exists()  # not even the first


def test_names_are_checked_against_the_disk_unless_forced(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    args = ["generate", "-o", str(runs), "--count", "3", "--seed", "70", *SMALL]
    assert call(args)[0] == 0
    names = sorted(p.name for p in runs.iterdir())
    last = runs / names[-1]
    last.unlink()
    last.symlink_to(tmp_path / "nowhere")  # a dangling link is something too
    keep = runs / names[0]
    keep.write_bytes(b"precious")
    status, out, err = call(args)
    assert (status, out) == (1, "")
    line = assert_one_line_error(err, "exists (use --force to overwrite)")
    assert any(name in line for name in names)
    assert keep.read_bytes() == b"precious" and last.is_symlink()  # nothing was written
    status, out, _ = call([*args, "--force"])
    assert status == 0 and out.count("wrote ") == 3
    assert open_trace(keep).num_rows > 0 and not last.is_symlink()  # both replaced


# --- interrupted and killed writers -------------------------------------------------------------


def _start_all(jobs: list[tuple[list[str], Path]]) -> list[subprocess.Popen[bytes]]:
    """Start `llmsim ARGS` for each job; return once each has its temp file (mid-write)."""
    procs = [
        subprocess.Popen(
            [*LLMSIM, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env()
        )
        for args, _ in jobs
    ]
    deadline = time.monotonic() + 60
    for proc, (_, folder) in zip(procs, jobs, strict=True):
        while not list(folder.glob(".*.tmp")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no temp file appeared"
            time.sleep(0.02)
    time.sleep(0.2)  # well inside the write
    return procs


STOPS: list[tuple[int, int]] = [
    (signal.SIGINT, 130),
    (signal.SIGTERM, 143),
    (signal.SIGHUP, 129),
    (signal.SIGQUIT, 131),
]
MORE_STOPS = [(sig, status) for sig, status in KIT_STOPS if sig != signal.SIGALRM]


def _name(sig: int) -> str:
    return (
        signal.Signals(sig).name
        if sig in signal.valid_signals() and sig < signal.SIGRTMIN
        else f"SIGRTMIN+{sig - signal.SIGRTMIN}"
    )


def _raise_once(sig: int, after: int) -> Callable[..., None]:
    """A wrapper that delivers `sig` to this process on the `after`-th call, mid-write."""
    calls = [0]

    def hook(*args: object) -> None:
        calls[0] += 1
        if calls[0] == after:
            # The writer's handler must be there: the default action would end this test run.
            assert signal.getsignal(sig) not in (signal.SIG_DFL, signal.default_int_handler)
            signal.raise_signal(sig)

    return hook


@pytest.mark.parametrize(
    ("sig", "status"), STOPS + MORE_STOPS, ids=[_name(s) for s, _ in STOPS + MORE_STOPS]
)
def test_stopped_writers_leave_nothing(
    sig: int, status: int, trace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each stop signal in the middle of a write (delivered to this process), both writers."""
    from llmsim.player.sinks.cast import CastSink
    from llmsim.trace.writer import TraceWriter as Writer

    for cls, name, after in ((Writer, "write", 2), (CastSink, "show", 5)):
        real = getattr(cls, name)
        hook = _raise_once(sig, after)

        def wrapped(self: object, *args: object, real: Any = real, hook: Any = hook) -> Any:
            hook()
            return real(self, *args)

        monkeypatch.setattr(cls, name, wrapped)
    generated = tmp_path / "run.parquet"
    status_gen, out, err = call(["generate", "-o", str(generated), "--seed", "1", *SMALL])
    status_cast, _, err2 = call(["cast", str(trace), "-o", str(tmp_path / "run.cast")])
    assert (status_gen, out, err) == (status, "", "")  # quiet: no line, no traceback
    assert (status_cast, err2) == (status, "")
    assert list(tmp_path.iterdir()) == []  # neither outputs nor temp files


def test_signalled_and_killed_processes(tmp_path: Path, trace: Path) -> None:
    """Real processes: SIGTERM cleans up (the other signals: in-process above); SIGKILL can
    only leave a hidden temp file, which nothing reads and nothing trips over."""
    signals = [(signal.SIGTERM, 143), (signal.SIGKILL, -9)]
    jobs: list[tuple[list[str], Path]] = []
    for tool, (sig, _) in zip(("cast", "generate"), signals, strict=True):
        folder = tmp_path / f"{tool}-{sig.name}"
        folder.mkdir()
        if tool == "generate":
            jobs.append((["generate", "-o", str(folder / "big.parquet"), *BIG_RUN], folder))
        else:  # ~15 s of rendering
            jobs.append((["cast", *[str(trace)] * 400, "-o", str(folder / "big.cast")], folder))
    procs = _start_all(jobs)
    try:
        for proc, (sig, _) in zip(procs, signals, strict=True):
            proc.send_signal(sig)
        for proc, (sig, status), (_, folder) in zip(procs, signals, jobs, strict=True):
            try:
                _, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                pytest.fail(f"{folder.name} went on: {proc.communicate()[1][-2000:]!r}")
            assert (proc.returncode, err) == (status, b""), (folder.name, err)  # quiet
            left = [p.name for p in folder.iterdir()]
            if sig == signal.SIGKILL:  # a killed process cannot clean up: a hidden temp file
                assert len(left) == 1 and left[0].startswith(".big.") and left[0].endswith(".tmp")
            else:
                assert left == [], folder.name  # neither the output nor its temp file
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    killed = tmp_path / "generate-SIGKILL"
    # Nothing reads the leftover: the folder holds no trace for play...
    status, _, said = call(["play", "--once", str(killed)])
    assert status == 1 and "no *.parquet traces" in said
    # ...and it does not block writing the trace again.
    target = killed / "big.parquet"
    assert call(["generate", "-o", str(target), "--seed", "1", *SMALL])[0] == 0
    assert open_trace(target).config.seed == 1


# --- failed writes -----------------------------------------------------------------------------


def _limited(max_bytes: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # so write() fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))


def test_file_size_limit_and_full_disk_are_one_line_and_no_file(
    tmp_path: Path, trace: Path
) -> None:
    targets = [tmp_path / n / f"run.{n}" for n in ("parquet", "html")]
    for target in targets:
        target.parent.mkdir()
    limited = [[*LLMSIM, "generate", "-o", str(targets[0]), "--seed", "1", *SMALL]] + [
        [*LLMSIM, "cast", str(trace), "-o", str(target)] for target in targets[1:]
    ]
    full = [["cast", "-o", "-"], ["play", "--once", "--speed", "1e6"]]
    to_full = [["bash", "-c", shlex.join([*LLMSIM, *a, str(trace)]) + " >/dev/full"] for a in full]
    done = run_all(limited + to_full, preexec_fn=lambda: _limited(20_000))
    for target, proc in zip(targets, done, strict=False):
        assert proc.returncode == 1, proc
        assert_one_line_error(proc.stderr, f"cannot write {target}: File too large")
        assert list(target.parent.iterdir()) == []  # the temp file was removed too
    for proc in done[len(targets) :]:
        assert proc.returncode == 1, proc
        assert_one_line_error(proc.stderr, "No space left on device")


def test_unwritable_places_are_one_line(tmp_path: Path, trace: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for argv, needle in (
        (["generate", "-o", str(blocker / "x.parquet"), "--seed", "1", *SMALL], "x.parquet"),
        (["generate", "-o", str(blocker), "--seed", "1", *SMALL], "is not a folder"),
        (["cast", str(trace), "-o", str(blocker / "x.cast")], "x.cast"),
        (["cast", str(trace), "-o", str(tmp_path / "no" / "such" / "x.html")], "x.html"),
    ):
        status, out, err = call(argv)
        assert (status, out) == (1, ""), argv
        assert_one_line_error(err, str(blocker.parent), needle)
    assert blocker.read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_an_existing_file_is_never_replaced_without_force(tmp_path: Path, trace: Path) -> None:
    for name, argv in (
        ("precious.parquet", ["generate", "--seed", "1", *SMALL]),
        ("precious.cast", ["cast", str(trace)]),
        ("precious.html", ["cast", str(trace)]),
    ):
        target = tmp_path / name
        target.write_bytes(b"precious")
        status, _, err = call([*argv, "-o", str(target)])
        assert status == 1
        assert_one_line_error(err, str(target), "exists (use --force to overwrite)")
        assert target.read_bytes() == b"precious"
    assert len(list(tmp_path.iterdir())) == 3


def test_a_trace_that_appears_mid_write_is_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "t.parquet"
    with pytest.raises(TraceError, match="exists"), TraceWriter(target, config()) as writer:
        writer.write(_table())  # type: ignore[arg-type]
        target.write_bytes(b"someone else's")  # appears after the writer's own check
    assert target.read_bytes() == b"someone else's"
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]
    with TraceWriter(target, config(), overwrite=True) as writer:  # --force replaces it
        writer.write(_table())  # type: ignore[arg-type]
    assert open_trace(target).num_rows == 1


def test_a_cast_that_appears_mid_write_is_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "x.cast"
    good = write_trace(tmp_path / "good.parquet")
    bad = tmp_path / "bad.parquet"
    bad.write_text("not a trace")

    def meanwhile(message: str) -> None:  # called while the cast is being written
        target.write_text("someone else's")

    with pytest.raises(InputError, match="exists"):
        export_cast([bad, good], str(target), CastOptions(), report=meanwhile)
    assert target.read_text() == "someone else's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.parquet", "good.parquet", "x.cast"]
    assert export_cast([good], str(target), CastOptions(overwrite=True), report=meanwhile) == 0
    assert target.read_text().startswith('{"version": 2')


def test_a_writer_that_cannot_start_publishes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("llmsim.trace.writer.pq.ParquetWriter", refuse)
    with pytest.raises(TraceError, match="No space left on device"):
        TraceWriter(tmp_path / "t.parquet", config()).__enter__()
    assert list(tmp_path.iterdir()) == []  # no temp file, and no empty t.parquet


def test_no_hard_links_falls_back_to_a_checked_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: object, dst: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr("llmsim.fileio.os.link", no_links)
    target = tmp_path / "t.parquet"
    with TraceWriter(target, config()) as writer:
        writer.write(_table())  # type: ignore[arg-type]
    assert open_trace(target).num_rows == 1
    target.unlink()
    with pytest.raises(TraceError, match="exists"), TraceWriter(target, config()) as writer:
        writer.write(_table())  # type: ignore[arg-type]
        target.write_bytes(b"x")  # appears mid-write: the fallback rename is checked too
    assert target.read_bytes() == b"x"
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_a_stop_that_c_code_swallowed_is_raised_again() -> None:
    """numpy or pyarrow may check for signals and clear the error: the stop comes back."""
    start = time.monotonic()
    with pytest.raises(Terminated), terminate_as_interrupt():
        with contextlib.suppress(Terminated):  # as C code that clears the error would
            signal.raise_signal(signal.SIGTERM)
        while time.monotonic() - start < 10:  # the write goes on...
            pass
    assert time.monotonic() - start < 5  # ...but not for long


def test_a_second_stop_does_not_cut_the_clean_up_short() -> None:
    cleaned = False
    with pytest.raises(Terminated) as caught, terminate_as_interrupt():
        try:
            signal.raise_signal(signal.SIGHUP)
        finally:
            signal.raise_signal(signal.SIGTERM)  # impatient: ignored while cleaning up
            cleaned = True
    assert cleaned and caught.value.status == 129


# --- signals ignored on entry (nohup) ------------------------------------------------------------


def _ignoring(*sigs: signal.Signals) -> Callable[[], None]:
    """A preexec_fn that starts the child with `sigs` ignored, as nohup (SIGHUP) and a shell's
    background job (SIGINT, SIGQUIT) do."""

    def ignore() -> None:
        for sig in sigs:
            signal.signal(sig, signal.SIG_IGN)

    return ignore


def test_nohup_keeps_ignoring_sighup_and_the_output_is_finished(
    tmp_path: Path, trace: Path
) -> None:
    """The issue's example: `nohup llmsim generate/cast/play`, then the terminal hangs up (it
    died with 129 and threw the output away); also SIGINT and SIGQUIT ignored by a shell's
    background job. Each is ignored; the outputs are written whole; play plays on."""
    casts = [str(trace)] * 25  # a few seconds of rendering
    nohup = ["nohup", *LLMSIM]
    jobs = [
        ([*nohup, "generate", "-o", str(tmp_path / "g.parquet"), "--seed", "1", *SMALL], ()),
        ([*nohup, "cast", *casts, "--layout", "classic", "-o", str(tmp_path / "c.cast")], ()),
        ([*nohup, "play", "--speed", "20", "--exit-after", "2s", str(trace)], ()),
        (
            [*LLMSIM, "cast", *casts, "-o", str(tmp_path / "b.html")],
            (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP),
        ),
    ]
    procs = [
        subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env(),
            cwd=tmp_path,
            preexec_fn=_ignoring(*ignored) if ignored else None,
        )
        for argv, ignored in jobs
    ]
    try:
        deadline = time.monotonic() + 60
        while not all(list(tmp_path.glob(f".{n}.*.tmp")) for n in ("g.parquet", "c.cast")):
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs[:2])
            time.sleep(0.02)
        time.sleep(0.3)  # mid-write, mid-play
        for proc, (_, ignored) in zip(procs, jobs, strict=True):
            for sig in ignored or (signal.SIGHUP,):
                proc.send_signal(sig)
        done = [proc.communicate(timeout=120) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for proc, (_, err) in zip(procs, done, strict=True):
        assert (proc.returncode, err) == (0, b""), (proc.args, err)
    assert open_trace(tmp_path / "g.parquet").config.seed == 1
    assert (tmp_path / "c.cast").read_text().count("Training completed successfully!") == 25
    assert "</html>" in (tmp_path / "b.html").read_text()


def test_alarm_and_cpu_limit_stop_a_writer_cleanly(tmp_path: Path, trace: Path) -> None:
    """SIGALRM from outside and SIGXCPU from a CPU limit (`ulimit -t`, here prlimit) are stop
    signals too: 142 / 152, no temp file left."""
    casts = [str(trace)] * 400
    alarm = subprocess.Popen(
        [*LLMSIM, "cast", *casts, "-o", str(tmp_path / "a.cast")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env(),
    )
    cpu = subprocess.Popen(
        ["prlimit", "--cpu=2:30", *LLMSIM, "cast", *casts, "-o", str(tmp_path / "x.cast")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env(),
    )
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".a.cast.*.tmp")):
            assert time.monotonic() < deadline and alarm.poll() is None
            time.sleep(0.02)
        alarm.send_signal(signal.SIGALRM)
        assert (alarm.wait(timeout=30), cpu.wait(timeout=60)) == (142, 152)
        assert alarm.communicate()[1] == cpu.communicate()[1] == b""
    finally:
        for proc in (alarm, cpu):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert list(tmp_path.iterdir()) == []


# --- the fresh-run cache removes only what llmsim made -------------------------------------------


def _fresh_runs(folder: Path, options: FreshOptions) -> FreshRuns:
    """A FreshRuns on `folder` whose generator is never started (the cache logic alone)."""
    fresh = FreshRuns.__new__(FreshRuns)
    fresh.folder, fresh.options, fresh._report = folder, options, print
    return fresh


def test_the_cache_pruner_removes_only_runs_llmsim_made(tmp_path: Path, trace: Path) -> None:
    """The issue's example: a cache folder that is a link to a user's folder of traces (13 of
    30 were deleted). Only files named as fresh runs that are llmsim traces of the seed their
    name holds, and llmsim's old temp files for them, are removed; everything else stays."""
    own = tmp_path / "my-traces"
    own.mkdir()
    for i in range(30):
        copy_trace(trace, own, f"run-{i:02d}.parquet")
    (own / ".notes.tmp").write_text("mine")
    (own / ".run-01.parquet.abcd1234.tmp").write_bytes(b"PAR1 mine")
    copy_trace(trace, own, "fresh-5-mix.parquet")  # our name, but seed 7: a user's copy
    (own / "fresh-6-mix.parquet").write_text("not a trace at all")
    (own / "fresh-8-mix.parquet").symlink_to(own / "run-00.parquet")
    foreign_tmp = own / ".fresh-9-mix.parquet.abcd1234.tmp"
    foreign_tmp.write_text("someone's notes")  # our temp name, but not what we write
    ours = [write_trace(own / f"fresh-{s}-mix.parquet", seed=s) for s in (10, 11, 12, 13)]
    leftover = own / ".fresh-14-mix.parquet.x1y2z3w4.tmp"
    leftover.write_bytes(b"PAR1\x15\x04")
    empty_leftover = own / ".fresh-15-real-0123abcd.parquet.abcdefgh.tmp"
    empty_leftover.touch()
    old = time.time() - 2 * STALE_TMP_S
    for path in own.iterdir():
        os.utime(path, (old, old), follow_symlinks=False)
    for i, path in enumerate(ours):  # oldest first
        os.utime(path, (old + i, old + i))
    before = {p.name for p in own.iterdir()}
    cache = tmp_path / "cache"
    cache.symlink_to(own)  # ~/.cache/llmsim/runs -> the user's folder
    new = write_trace(cache / "fresh-20-mix.parquet", seed=20)
    _fresh_runs(cache, FreshOptions(limit=3))._prune(keep=new)
    gone = before - {p.name for p in own.iterdir()}
    # Ours: the oldest two of the four runs (limit 3 keeps 2 besides the new one's successor).
    assert gone == {ours[0].name, ours[1].name, ours[2].name, leftover.name, empty_leftover.name}
    assert (own / "run-00.parquet").read_bytes() == trace.read_bytes()
    assert is_fresh_run(ours[3]) and not is_fresh_run(own / "fresh-5-mix.parquet")


def test_files_dated_in_the_future_are_the_oldest(tmp_path: Path) -> None:
    """The issue's example: runs dated in the future were kept and each new run deleted. A date
    past now counts as no date: such runs go first, the newest real ones stay."""
    stale = [write_trace(tmp_path / f"fresh-{s}-mix.parquet", seed=s) for s in (1, 2, 3)]
    future = time.time() + 10 * 365 * 86400
    for path in stale:
        os.utime(path, (future, future))
    new = [write_trace(tmp_path / f"fresh-{s}-mix.parquet", seed=s) for s in (4, 5)]
    fresh = _fresh_runs(tmp_path, FreshOptions(limit=3))
    fresh._prune(keep=new[-1])
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in new]
    leftover = tmp_path / ".fresh-6-mix.parquet.abcdefgh.tmp"
    leftover.write_bytes(b"PAR1")
    os.utime(leftover, (future, future))  # no age at all: not a live writer's
    fresh._prune(keep=new[-1])
    assert not leftover.exists()
