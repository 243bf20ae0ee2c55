"""The trace contract: round trips, atomic writes, and every way a file can be refused."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from llmsim.generator.config import build_config
from llmsim.generator.options import GenerateOptions
from llmsim.trace import RunConfig, TraceError, TraceWriter, make_table, open_trace
from llmsim.trace.schema import META_CONFIG, META_VERSION, SCHEMA


@pytest.fixture(scope="module")
def config() -> RunConfig:
    return build_config(GenerateOptions(seed=3, gpus=8, gpu_type="A100", model="Llama-3.2-1B"))


def _rows(config: RunConfig, n: int = 5) -> pa.Table:
    g = config.gpus
    return pa.concat_tables(
        [
            make_table(1, {"t": [0.0], "kind": ["phase"], "phase": ["init"], "text": ["init"]}),
            make_table(
                n,
                {
                    "t": [float(i) for i in range(1, n + 1)],
                    "kind": "step",
                    "phase": "train",
                    "step": list(range(1, n + 1)),
                    "loss": [2.5] * n,
                },
            ),
            make_table(
                1,
                {
                    "t": [float(n + 1)],
                    "kind": ["telemetry"],
                    "phase": ["train"],
                    "gpu_util": [[99.0] * g],
                    "gpu_health": [[0] * g],
                },
            ),
        ]
    )


def _write(path: Path, config: RunConfig, table: pa.Table) -> Path:
    with TraceWriter(path, config) as writer:
        writer.write(table)
    return path


def _raw_write(path: Path, table: pa.Table, meta: dict[bytes, bytes]) -> Path:
    pq.write_table(table.replace_schema_metadata(meta), path)
    return path


def test_round_trip_keeps_rows_config_and_types(tmp_path: Path, config: RunConfig) -> None:
    path = _write(tmp_path / "t.parquet", config, _rows(config))
    trace = open_trace(path)
    assert trace.config == config
    assert trace.version == "1.0"
    events = list(trace.events())
    assert [e.kind for e in events] == ["phase"] + ["step"] * 5 + ["telemetry"]
    assert events[3].step == 3 and events[3].loss == 2.5 and events[3].lr is None
    assert events[-1].gpu_util == [99.0] * config.gpus
    assert trace.read_table().schema.remove_metadata().equals(SCHEMA)


def test_writer_is_atomic_and_refuses_to_overwrite(tmp_path: Path, config: RunConfig) -> None:
    target = tmp_path / "t.parquet"
    with pytest.raises(RuntimeError), TraceWriter(target, config) as writer:
        writer.write(_rows(config))
        raise RuntimeError("interrupted mid-write")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []  # the temp file is gone too
    _write(target, config, _rows(config))
    with pytest.raises(TraceError, match="exists"), TraceWriter(target, config):
        pass
    with TraceWriter(target, config, overwrite=True) as writer:
        writer.write(_rows(config, 2))
    assert open_trace(target).num_rows == 4


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="no such file"):
        open_trace(tmp_path / "nope.parquet")
    with pytest.raises(TraceError, match="directory"):
        open_trace(tmp_path)


def test_not_parquet(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    path.write_text("hello, I am not a parquet file\n")
    with pytest.raises(TraceError, match="not a readable Parquet file") as info:
        open_trace(path)
    assert "\n" not in str(info.value)


def test_truncated(tmp_path: Path, config: RunConfig) -> None:
    path = _write(tmp_path / "t.parquet", config, _rows(config, 200))
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 100):
        bad = tmp_path / f"cut{cut}.parquet"
        bad.write_bytes(data[:cut])
        with pytest.raises(TraceError) as info:
            trace = open_trace(bad)
            list(trace.events())
        assert str(bad) in str(info.value) and "\n" not in str(info.value)


def test_foreign_parquet(tmp_path: Path) -> None:
    path = tmp_path / "foreign.parquet"
    pq.write_table(pa.table({"a": [1, 2, 3]}), path)
    with pytest.raises(TraceError, match="not an llmsim trace"):
        open_trace(path)


@pytest.mark.parametrize("version", ["2.0", "0.9", "banana", "99"])
def test_wrong_version(tmp_path: Path, config: RunConfig, version: str) -> None:
    meta = {META_VERSION: version.encode(), META_CONFIG: config.to_json().encode()}
    path = _raw_write(tmp_path / "v.parquet", _rows(config), meta)
    with pytest.raises(TraceError, match=r"version .* is not supported"):
        open_trace(path)


def test_minor_version_is_accepted(tmp_path: Path, config: RunConfig) -> None:
    meta = {META_VERSION: b"1.7", META_CONFIG: config.to_json().encode()}
    path = _raw_write(tmp_path / "v.parquet", _rows(config), meta)
    assert open_trace(path).version == "1.7"


def test_missing_column_and_wrong_type(tmp_path: Path, config: RunConfig) -> None:
    meta = {META_VERSION: b"1.0", META_CONFIG: config.to_json().encode()}
    table = _rows(config)
    path = _raw_write(tmp_path / "a.parquet", table.drop_columns(["loss"]), meta)
    with pytest.raises(TraceError, match="column 'loss' is missing"):
        open_trace(path)
    retyped = table.set_column(
        table.schema.get_field_index("step"), "step", table.column("step").cast(pa.float64())
    )
    path = _raw_write(tmp_path / "b.parquet", retyped, meta)
    with pytest.raises(TraceError, match="column 'step' has type"):
        open_trace(path)


def test_bad_config(tmp_path: Path, config: RunConfig) -> None:
    data = json.loads(config.to_json())
    cases = {
        "notjson": b"{oops",
        "lacks": json.dumps({k: v for k, v in data.items() if k != "gpus"}).encode(),
        "absurd": json.dumps({**data, "gpus": 10**6, "nodes": 125_000}).encode(),
    }
    for name, blob in cases.items():
        path = _raw_write(
            tmp_path / f"{name}.parquet", _rows(config), {META_VERSION: b"1.0", META_CONFIG: blob}
        )
        with pytest.raises(TraceError, match="run config"):
            open_trace(path)


def test_empty_trace(tmp_path: Path, config: RunConfig) -> None:
    path = _write(tmp_path / "e.parquet", config, make_table(0, {}))
    with pytest.raises(TraceError, match="no events"):
        open_trace(path)


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("t", [0.0, 3.0, 2.0, 4.0, 5.0, 6.0, 7.0], "not sorted"),
        ("t", [-1.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "out of range"),
        ("t", [0.0, 1.0, float("inf"), 3.0, 4.0, 5.0, 6.0], "infinite|out of range"),
        ("loss", [None, 2.0, float("nan"), 2.0, 2.0, 2.0, None], "NaN"),
        ("loss", [None, 2.0, 1e30, 2.0, 2.0, 2.0, None], "out of range"),
    ],
)
def test_bad_values(
    tmp_path: Path, config: RunConfig, column: str, values: list[float | None], message: str
) -> None:
    table = _rows(config)
    field = SCHEMA.field(column)
    table = table.set_column(
        table.schema.get_field_index(column), field, pa.array(values, field.type)
    )
    path = _write(tmp_path / "bad.parquet", config, table)
    trace = open_trace(path)
    with pytest.raises(TraceError, match=message):
        list(trace.events())


def test_telemetry_width_must_match_gpu_count(tmp_path: Path, config: RunConfig) -> None:
    table = make_table(
        1,
        {
            "t": [0.0],
            "kind": ["telemetry"],
            "phase": ["train"],
            "gpu_util": [[99.0] * (config.gpus + 1)],
        },
    )
    trace = open_trace(_write(tmp_path / "w.parquet", config, table))
    with pytest.raises(TraceError, match="one value per GPU"):
        list(trace.events())


def test_huge_string_is_refused(tmp_path: Path, config: RunConfig) -> None:
    table = make_table(1, {"t": [0.0], "kind": ["log"], "phase": ["init"], "text": ["x" * 100_000]})
    trace = open_trace(_write(tmp_path / "h.parquet", config, table))
    with pytest.raises(TraceError, match="over 65,536 characters"):
        list(trace.events())
