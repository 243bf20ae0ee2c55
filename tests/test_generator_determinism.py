"""Same seed and options -> the same trace, byte for byte; other seeds -> other runs."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pytest

from llmsim.generator import GenerateOptions, build_config, generate, write_trace
from llmsim.generator import build as build_module
from llmsim.generator.phase_train import window_steps
from llmsim.trace import TraceError, open_trace


def _table(path: Path):  # type: ignore[no-untyped-def]
    return open_trace(path).read_table()


@pytest.mark.parametrize(
    "options",
    [
        GenerateOptions(seed=42, steps_per_epoch=120),
        GenerateOptions(seed=7, kind="finetune", epochs=2, steps_per_epoch=80, gpus=16),
        GenerateOptions(seed=1234),
    ],
)
def test_same_seed_gives_identical_tables_and_bytes(
    tmp_path: Path, options: GenerateOptions
) -> None:
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    ca = generate(options, a)
    cb = generate(options, b)
    assert ca == cb
    assert _table(a).equals(_table(b))
    assert a.read_bytes() == b.read_bytes()


def test_build_config_is_deterministic_and_records_the_seed() -> None:
    options = GenerateOptions(seed=99)
    assert build_config(options) == build_config(options)
    assert build_config(options).seed == 99
    assert build_config(options).to_json() == build_config(options).to_json()


def test_start_time_comes_from_the_seed_or_the_option() -> None:
    drawn = build_config(GenerateOptions(seed=5)).start_time
    assert 1_735_689_600 <= drawn < 1_735_689_600 + 366 * 86400  # a date in 2025
    assert build_config(GenerateOptions(seed=5)).start_time == drawn
    fixed = build_config(GenerateOptions(seed=5, start_time=1_600_000_000.5))
    assert fixed.start_time == 1_600_000_000.5


def test_different_seeds_give_different_runs(tmp_path: Path) -> None:
    configs = [build_config(GenerateOptions(seed=s)) for s in range(12)]
    assert len({c.name for c in configs}) == 12
    assert len({c.model for c in configs}) >= 4
    assert len({c.gpus for c in configs}) >= 3
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    generate(GenerateOptions(seed=1, model="Llama-3-8B", gpus=64, steps_per_epoch=100), a)
    generate(GenerateOptions(seed=2, model="Llama-3-8B", gpus=64, steps_per_epoch=100), b)
    la = _table(a).filter(pc.equal(_table(a)["kind"], "step"))["loss"]
    lb = _table(b).filter(pc.equal(_table(b)["kind"], "step"))["loss"]
    assert not la.equals(lb)


def test_no_seed_draws_one_and_records_it(tmp_path: Path) -> None:
    config = generate(GenerateOptions(steps_per_epoch=30), tmp_path / "r.parquet")
    assert isinstance(config.seed, int) and config.seed >= 0
    again = build_config(GenerateOptions(seed=config.seed, steps_per_epoch=30))
    assert again == config
    assert open_trace(tmp_path / "r.parquet").config.seed == config.seed


def test_chunked_streaming_writes_several_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run longer than one chunk streams in pieces and still validates end to end."""
    config = build_config(GenerateOptions(seed=3, gpus=8, steps_per_epoch=2500, kind="pretrain"))
    monkeypatch.setattr(build_module.phase_train, "MAX_WINDOW_STEPS", 300)
    assert window_steps(config) == 300
    path = tmp_path / "long.parquet"
    rows = write_trace(config, path)
    trace = open_trace(path)
    assert trace.num_rows == rows
    assert trace._pf.num_row_groups >= 8
    table = trace.read_table()
    steps = table.filter(pc.equal(table["kind"], "step"))["step"].to_pylist()
    assert steps == list(range(1, 2501))


def test_overwrite_is_refused_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    config = build_config(GenerateOptions(seed=11, steps_per_epoch=20))
    write_trace(config, path)
    with pytest.raises(TraceError):
        write_trace(config, path)
    assert write_trace(config, path, overwrite=True) > 0
