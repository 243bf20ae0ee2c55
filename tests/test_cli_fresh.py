"""Endless fresh runs: real `llmsim generate` processes writing small runs into a bounded cache."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pytest

from llmsim.bundled import bundled_traces
from llmsim.fresh import FreshOptions, FreshRuns, cache_dir, seeds
from llmsim.trace import open_trace

# Small, quick runs: the sequence logic is what is under test, not the generator.
SMALL: Final = ("--model", "Llama-3.2-1B", "--gpus", "8", "--duration", "2m")


def take(fresh: FreshRuns) -> Path:
    """The next run, asking again while it is being made (None)."""
    while (path := next(fresh)) is None:
        pass
    return path


def test_eight_runs_all_different_and_the_cache_stays_bounded(tmp_path: Path) -> None:
    reports: list[str] = []
    options = FreshOptions(seed=11, limit=3, skip_seeds=frozenset({12}), generate_args=SMALL)
    seen = []
    with FreshRuns(tmp_path, options, reports.append) as fresh:
        for _ in range(8):
            path = take(fresh)
            config = open_trace(path).config
            seen.append((config.name, config.seed))
            assert len(list(tmp_path.glob("*.parquet"))) <= 3
        job = fresh._job
        assert job is not None and job.proc is not None  # the ninth is being made already
    assert job.proc.poll() is not None  # closing stopped it
    assert not list(tmp_path.glob(".*.tmp"))  # and it left no temp file behind
    assert reports == []
    assert len({name for name, _ in seen}) == 8
    assert [seed for _, seed in seen] == [11, 13, 14, 15, 16, 17, 18, 19]  # 12 was skipped


def test_the_same_seed_reuses_the_cached_run(tmp_path: Path) -> None:
    options = FreshOptions(seed=40, limit=5, generate_args=SMALL)
    with FreshRuns(tmp_path, options, print) as fresh:
        first = take(fresh)
    data = first.read_bytes()
    with FreshRuns(tmp_path, options, print) as fresh:
        assert fresh._job is not None and fresh._job.proc is None  # nothing to generate
        assert take(fresh) == first
    assert first.read_bytes() == data


def test_a_failing_generator_is_reported_once_and_the_runs_there_are_play(tmp_path: Path) -> None:
    reports: list[str] = []
    fallback = bundled_traces()[:2]
    options = FreshOptions(seed=1, generate_args=("--gpus", "12"))  # no such cluster
    with FreshRuns(tmp_path / "runs", options, reports.append, fallback=fallback) as fresh:
        got = [take(fresh) for _ in range(5)]
    assert len(reports) == 1
    assert reports[0].startswith("no fresh run could be made (--gpus 12 is not possible")
    assert got == [*fallback, *fallback, fallback[0]]


def test_cache_folder_follows_xdg() -> None:
    assert cache_dir({"XDG_CACHE_HOME": "/x/cache"}) == Path("/x/cache/llmsim/runs")
    home = Path.home() / ".cache" / "llmsim" / "runs"
    assert cache_dir({"XDG_CACHE_HOME": "relative/dir"}) == home  # invalid per the XDG spec
    assert cache_dir({}) == home


def test_seed_sequence_and_limits() -> None:
    gen = seeds(2**63 - 2, frozenset({0}))
    assert [next(gen) for _ in range(3)] == [2**63 - 2, 2**63 - 1, 1]
    with pytest.raises(ValueError, match="at least 3"):
        FreshOptions(limit=2)
