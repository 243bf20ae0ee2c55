"""Golden outputs: the bundled traces are what the generator makes, and their casts are pinned.

A refactoring must leave both alone. When output changes on purpose, regenerate in the same
commit and say why:

    scripts/make-sample-traces --force                          # the bundled traces
    LLMSIM_UPDATE_GOLDENS=1 python -m pytest tests/test_goldens.py   # the cast digests

With LLMSIM_UPDATE_GOLDENS=1 the digest tests write tests/goldens/casts/*.sha256 and pass;
without it they compare. The digests are of `llmsim cast RUN -o x.cast --cols C --rows R` in
the default layout (tmux's screen) and with `--layout classic`, colour and Unicode pinned, so
the machine's locale and terminal do not enter.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import shutil
from pathlib import Path
from types import ModuleType

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import BUNDLED

from llmsim.player import CastOptions, export_cast
from llmsim.player.options import Layout

ROOT = Path(__file__).resolve().parent.parent
GOLDEN_CASTS = Path(__file__).resolve().parent / "goldens" / "casts"
SIZES = [(80, 24), (120, 36)]
LAYOUTS = ["tmux", "classic"]  # casts default to tmux's screen; the classic one is pinned too
UPDATE = os.environ.get("LLMSIM_UPDATE_GOLDENS") == "1"
BUNDLE = sorted((ROOT / "llmsim" / "traces").glob("*.parquet"))


def _samples_script() -> ModuleType:
    path = ROOT / "scripts" / "make-sample-traces"
    loader = importlib.machinery.SourceFileLoader("make_sample_traces", str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_the_bundle_is_what_the_generator_makes(capsys: pytest.CaptureFixture[str]) -> None:
    script = _samples_script()
    assert script.main(["--check"]) == 0, capsys.readouterr().err
    assert sorted(script.SAMPLES) == [p.name for p in BUNDLE]


def test_check_names_the_first_difference(tmp_path: Path) -> None:
    script = _samples_script()
    original = BUNDLE[0]
    table = pq.read_table(original)
    same = tmp_path / "same.parquet"
    shutil.copy(original, same)
    assert script.first_difference(original, same) is None
    # One float nudged beyond the tolerance, in the middle of the table.
    column = table.column_names.index("t")
    values = [float(v or 0.0) for v in table["t"].to_pylist()]  # t is never null
    row = len(values) // 2
    values[row] = values[row] * (1 + 1e-9) + 1e-9
    field = table.schema.field("t")
    nudged = table.set_column(column, field, pa.array(values, type=field.type))
    changed = tmp_path / "changed.parquet"
    pq.write_table(nudged, changed)
    found = script.first_difference(original, changed)
    assert found is not None and "'t'" in found and f"row {row}" in found
    # Last-bit noise is tolerated (numpy's SIMD paths differ between CPUs).
    values = [float(v or 0.0) for v in table["t"].to_pylist()]  # t is never null
    values[row] = values[row] * (1 + 2e-16)
    ulp = tmp_path / "ulp.parquet"
    pq.write_table(table.set_column(column, field, pa.array(values, type=field.type)), ulp)
    assert script.first_difference(original, ulp) is None
    # Metadata: a config key that changed is named.
    meta = dict(table.schema.metadata or {})
    key = next(k for k in meta if k.endswith(b"config"))
    meta[key] = meta[key].replace(b'"seed":', b'"seed":1', 1)
    other = tmp_path / "meta.parquet"
    pq.write_table(table.replace_schema_metadata(meta), other)
    found = script.first_difference(original, other)
    assert found is not None and "'seed'" in found


def _digest_cases() -> list[tuple[Path, int, int, str]]:
    return [
        (p, c, r, layout)
        for p in BUNDLED
        if p.parent.name == "traces"
        for c, r in SIZES
        for layout in LAYOUTS
    ]


def _name(trace: Path, cols: int, rows: int, layout: str) -> str:
    return f"{trace.stem}-{cols}x{rows}" + ("" if layout == "tmux" else f"-{layout}")


@pytest.mark.parametrize(
    ("trace", "cols", "rows", "layout"),
    _digest_cases(),
    ids=[_name(*case) for case in _digest_cases()],
)
def test_cast_digest_is_pinned(
    trace: Path, cols: int, rows: int, layout: Layout, tmp_path: Path
) -> None:
    out = tmp_path / "run.cast"
    options = CastOptions(cols=cols, rows=rows, color=True, ascii=False, layout=layout)
    assert export_cast([trace], str(out), options, report=print) == 0
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    golden = GOLDEN_CASTS / f"{_name(trace, cols, rows, layout)}.sha256"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(digest + "\n", encoding="ascii")
        return
    assert golden.exists(), f"no golden for {golden.name}: run with LLMSIM_UPDATE_GOLDENS=1"
    assert digest == golden.read_text("ascii").strip(), (
        f"the cast of {trace.stem} at {cols}x{rows} changed; if that is meant, update the "
        "goldens (LLMSIM_UPDATE_GOLDENS=1, module docstring) in the same commit"
    )


def test_every_golden_has_a_case() -> None:
    wanted = {f"{_name(*case)}.sha256" for case in _digest_cases()}
    assert {p.name for p in GOLDEN_CASTS.glob("*.sha256")} == wanted
