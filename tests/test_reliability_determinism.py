"""Determinism across processes: the same seed gives the same trace bytes, the same trace gives
the same cast and page bytes, whatever the hash seed, time zone or locale of the process.

One process per kind of output, in an environment unlike this one's (its own hash seed, a
time zone west of UTC, the C locale), compared with the same outputs made here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from reliability_kit import call, env
from synthetic import write_trace

OTHER = {"PYTHONHASHSEED": "4242", "TZ": "America/Los_Angeles", "LC_ALL": "C"}
RUN = ["--gpus", "16", "--steps-per-epoch", "40", "--epochs", "2"]
CASTS = {"demo.cast": [], "demo-v3.cast": ["--format", "v3"], "demo.html": ["--loop"]}


def test_same_inputs_same_bytes_across_processes(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "synthetic.parquet")
    there, here = tmp_path / "there", tmp_path / "here"
    there.mkdir()
    here.mkdir()
    # The other process writes its trace and its three recordings in one interpreter.
    calls = [["generate", "-o", str(there / "run.parquet"), "--seed", "11", *RUN]] + [
        ["cast", str(trace), "-o", str(there / name), *options] for name, options in CASTS.items()
    ]
    code = f"import sys; from llmsim.cli import main; sys.exit(max(main(a) for a in {calls!r}))"
    other = subprocess.Popen([sys.executable, "-c", code], env=env(**OTHER), stderr=subprocess.PIPE)
    assert call(["generate", "-o", str(here / "run.parquet"), "--seed", "11", *RUN])[0] == 0
    for name, options in CASTS.items():
        assert call(["cast", str(trace), "-o", str(here / name), *options])[0] == 0
    assert other.wait(timeout=60) == 0, other.communicate()[1]
    for name in ("run.parquet", *CASTS):
        assert (here / name).read_bytes() == (there / name).read_bytes(), name
    assert call(["generate", "-o", str(here / "12.parquet"), "--seed", "12", *RUN])[0] == 0
    assert (here / "12.parquet").read_bytes() != (here / "run.parquet").read_bytes()
