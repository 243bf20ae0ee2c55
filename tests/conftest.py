"""Shared fixtures: the synthetic trace (always) and the bundled traces (when there are any).

Also for the whole session: Hypothesis runs derandomised when CI is set (the `ci` profile),
and XDG_CACHE_HOME points at a temporary folder, so no test (nor any process it starts)
writes fresh runs into the real ~/.cache; COLUMNS is unset (a test that wants a width sets it).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import write_trace

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

BUNDLED = sorted((Path(__file__).resolve().parent.parent / "llmsim" / "traces").glob("*.parquet"))
# Extra traces to run the screen tests on (e.g. fresh `llmsim generate` output): a folder.
if os.environ.get("LLMSIM_TEST_TRACES"):
    BUNDLED += sorted(Path(os.environ["LLMSIM_TEST_TRACES"]).glob("*.parquet"))


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A throw-away XDG cache for the session (fresh runs of `llmsim play` land there)."""
    cache = tmp_path_factory.mktemp("xdg-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(cache))
        mp.delenv("LLMSIM_DEBUG", raising=False)
        mp.delenv("COLUMNS", raising=False)  # `list`, `info` and help fit it: tests say when
        mp.delenv("LINES", raising=False)
        mp.delenv("TMUX", raising=False)  # inside a real tmux, play draws no status line
        yield cache


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
