"""Shared fixtures: the synthetic trace (always) and the bundled traces (when there are any)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import write_trace

BUNDLED = sorted((Path(__file__).resolve().parent.parent / "llmsim" / "traces").glob("*.parquet"))
# Extra traces to run the screen tests on (e.g. fresh `llmsim generate` output): a folder.
if os.environ.get("LLMSIM_TEST_TRACES"):
    BUNDLED += sorted(Path(os.environ["LLMSIM_TEST_TRACES"]).glob("*.parquet"))


@pytest.fixture(scope="session")
def synthetic_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete synthetic trace: every kind and phase, 16 GPUs on 2 nodes."""
    return write_trace(tmp_path_factory.mktemp("traces") / "synthetic.parquet")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # `any_trace`: the synthetic trace plus every bundled trace (the bundle may be empty
    # while the generator is being written; the synthetic case always runs).
    if "any_trace" in metafunc.fixturenames:
        params = ["synthetic", *(str(p) for p in BUNDLED)]
        ids = ["synthetic", *(p.stem for p in BUNDLED)]
        metafunc.parametrize("any_trace", params, ids=ids, indirect=True)


@pytest.fixture
def any_trace(request: pytest.FixtureRequest, synthetic_trace: Path) -> Path:
    return synthetic_trace if request.param == "synthetic" else Path(request.param)
