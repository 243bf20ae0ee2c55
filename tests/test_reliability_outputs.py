"""Class 7 — no unbounded outputs: `generate` estimates the size of what it would write
(the plan's `estimated_bytes`, times the runs of the batch) before writing anything, and
refuses above --max-size (2 GB unless raised) with the estimate and the option that allows it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from reliability_kit import assert_one_line_error, call

import llmsim.generator
from llmsim.generator import GenerateOptions, plan_run

SMALL = ["--duration", "2m", "--model", "Llama-3.2-1B", "--gpus", "8"]


@pytest.mark.parametrize(
    "options",
    [
        ["--duration", "9600h"],
        ["--steps-per-epoch", "20000000", "--gpus", "1024", "--kind", "pretrain"],
        ["--gpus", "4096", "--duration", "1000h"],
        # pretraining: a post-training run's length is its dataset's, not --duration's
        ["--duration", "400h", "--count", "6", "--kind", "pretrain"],
    ],
    ids=["duration", "steps", "gpus", "count"],
)
def test_huge_runs_are_refused_with_the_estimate_and_the_option(
    options: list[str], tmp_path: Path
) -> None:
    status, out, err = call(["generate", "-o", str(tmp_path / "runs"), "--seed", "3", *options])
    assert (status, out) == (2, "")
    line = assert_one_line_error(err, "would write about", "GB", "--max-size")
    allowed = line.rsplit("--max-size ", 1)[1].split()[0]
    assert allowed.endswith(("GB", "TB"))
    assert not (tmp_path / "runs").exists()


def test_the_limit_covers_the_whole_batch_and_the_option_raises_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = llmsim.generator.plan_run
    monkeypatch.setattr(
        llmsim.generator,
        "plan_run",
        lambda o: dataclasses.replace(real(o), estimated_bytes=600_000_000),
    )
    runs = tmp_path / "runs"
    base = ["generate", "-o", str(runs), "--seed", "3", *SMALL]
    status, _, err = call([*base, "--count", "4"])  # 4 x 0.6 GB > 2 GB
    assert status == 2
    assert_one_line_error(err, "the 4 runs would write about 2.4 GB", "--max-size 3GB")
    assert not runs.exists()
    status, out, err = call([*base, "--count", "4", "--max-size", "3GB"])
    assert (status, err) == (0, "") and out.count("wrote ") == 4
    status, _, err = call([*base, "--count", "2", "--max-size", "500MB", "--force"])
    assert status == 2 and "over the limit of 500 MB" in err


@pytest.mark.parametrize("value", ["", "lots", "-1GB", "0", "1e400", "9" * 40, "2 parsecs"])
def test_bad_max_sizes_are_usage_errors(value: str) -> None:
    status, out, err = call(["generate", "--max-size", value])
    assert (status, out) == (2, "")
    assert_one_line_error(err, "--max-size")


def test_the_estimate_is_never_below_what_is_written(tmp_path: Path) -> None:
    """So a batch that passed the check cannot write more than it was allowed."""
    for seed in (11, 12, 13):
        plan = plan_run(GenerateOptions(seed=seed, duration=120.0, gpus=8, model="Llama-3.2-1B"))
        target = tmp_path / f"{seed}.parquet"
        assert call(["generate", "-o", str(target), "--seed", str(seed), *SMALL])[0] == 0
        assert target.stat().st_size <= plan.estimated_bytes
