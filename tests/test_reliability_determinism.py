"""Determinism across processes: the same seed gives the same trace bytes, the same trace gives
the same cast bytes, whatever the hash seed, time zone or locale of the process.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_kit import run
from synthetic import write_trace

ENVIRONMENTS = [
    {"PYTHONHASHSEED": "1", "TZ": "UTC", "LANG": "C.UTF-8"},
    {"PYTHONHASHSEED": "4242", "TZ": "America/Los_Angeles", "LC_ALL": "C"},
]


def test_same_seed_same_trace_bytes_across_processes(tmp_path: Path) -> None:
    outputs = []
    for i, variables in enumerate(ENVIRONMENTS):
        target = tmp_path / f"run{i}.parquet"
        args = ["generate", "-o", str(target), "--seed", "11", "--gpus", "16"]
        proc = run(*args, "--steps-per-epoch", "40", "--epochs", "2", **variables)
        assert proc.returncode == 0, proc.stderr
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]
    other = tmp_path / "other.parquet"
    proc = run(
        "generate", "-o", str(other), "--seed", "12", "--gpus", "16", "--steps-per-epoch", "40"
    )
    assert proc.returncode == 0 and other.read_bytes() != outputs[0]


@pytest.mark.parametrize("name", ["demo.cast", "demo-v3.cast", "demo.html"])
def test_same_trace_same_cast_bytes_across_processes(tmp_path: Path, name: str) -> None:
    trace = write_trace(tmp_path / "synthetic.parquet")
    outputs = []
    for i, variables in enumerate(ENVIRONMENTS):
        target = tmp_path / f"{i}-{name}"
        extra = ["--format", "v3"] if "v3" in name else []
        proc = run("cast", str(trace), "-o", str(target), *extra, **variables)
        assert proc.returncode == 0, proc.stderr
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]
