"""Same seed and options, same bytes; chunks of bounded size whatever the run's length."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmsim.errors import InputError
from llmsim.generator import GenerateOptions, plan_run, write_trace
from llmsim.generator.phases.build import tables
from llmsim.generator.phases.train import MAX_CHUNK_STEPS


def test_same_seed_same_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    options = GenerateOptions(seed=77, gpus=16, steps_per_epoch=40, start_time=1_780_000_000.0)
    a, b, c = tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "c.parquet"
    write_trace(plan_run(options), a)
    write_trace(plan_run(options), b)
    write_trace(plan_run(GenerateOptions(seed=78, gpus=16, steps_per_epoch=40)), c)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_plans_are_frozen_and_repeatable() -> None:
    p, q = plan_run(GenerateOptions(seed=5)), plan_run(GenerateOptions(seed=5))
    assert p == q
    with pytest.raises(AttributeError):
        p.config = q.config  # type: ignore[misc]


def test_long_runs_stream_in_bounded_chunks() -> None:
    # 30,000 steps of a small job: tables stay bounded, whatever the length
    plan = plan_run(
        GenerateOptions(
            seed=9, model="Qwen2.5-0.5B", gpus=8, stack="megatron", steps_per_epoch=30_000
        )
    )
    sizes = [t.num_rows for t in tables(plan)]
    assert len(sizes) >= 4
    steps_per_chunk = MAX_CHUNK_STEPS
    assert max(sizes) < steps_per_chunk * 4 + 50_000  # steps, their lines and the samples
    assert sum(sizes) > 30_000


def test_overwrite_is_refused_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    plan = plan_run(GenerateOptions(seed=1, gpus=8, steps_per_epoch=20))
    write_trace(plan, path)
    with pytest.raises(InputError, match="exists"):
        write_trace(plan, path)
    assert write_trace(plan, path, overwrite=True) > 0


def test_estimated_bytes_is_the_right_size(tmp_path: Path) -> None:
    for seed in (3, 4):
        plan = plan_run(GenerateOptions(seed=seed, gpus=64))
        path = tmp_path / f"{seed}.parquet"
        write_trace(plan, path)
        assert plan.estimated_bytes / 4 < path.stat().st_size < plan.estimated_bytes * 4
