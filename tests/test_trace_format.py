"""The trace contract: vocabularies, round trips, atomic writes, and every way a file is refused."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from synthetic import config as synthetic_config

from llmsim.errors import InputError
from llmsim.fileio import atomic_path
from llmsim.trace import RunConfig, TraceError, TraceWriter, make_table, open_trace, prints_step
from llmsim.trace import reader as reader_module
from llmsim.trace.events import Event
from llmsim.trace.reader import BOUNDS
from llmsim.trace.schema import (
    ADDED,
    DICT_COLUMNS,
    META_CONFIG,
    META_VERSION,
    SCHEMA,
    SCHEMA_VERSION,
    VOCABULARY,
)
from llmsim.trace.vocab import HEALTH_CODES, Stack


@pytest.fixture(scope="module")
def config() -> RunConfig:
    return synthetic_config(gpus=8, nodes=1, hostnames=("node-a01",), tp=1, dp=8)


def _rows(config: RunConfig, n: int = 5, **override: list[Any]) -> pa.Table:
    g = config.gpus
    steps = {
        "t": [float(i) for i in range(1, n + 1)],
        "kind": "step",
        "phase": "train",
        "step": list(range(1, n + 1)),
        "loss": [2.5] * n,
        **override,
    }
    return pa.concat_tables(
        [
            make_table(1, {"t": [0.0], "kind": ["phase"], "phase": ["init"], "text": ["init"]}),
            make_table(n, steps),
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


def _meta(config: RunConfig, version: str = SCHEMA_VERSION) -> dict[bytes, bytes]:
    return {META_VERSION: version.encode(), META_CONFIG: config.to_json().encode()}


def _refused(path: Path, match: str) -> None:
    with pytest.raises(TraceError, match=match) as info:
        list(open_trace(path).events())
    message = str(info.value)
    assert str(path) in message and "\n" not in message


# --- the contract is consistent with itself ---------------------------------------------


def test_event_fields_are_the_schema_columns_in_order() -> None:
    assert Event._fields == tuple(SCHEMA.names)


def test_every_vocabulary_is_a_dictionary_column_and_bounds_cover_the_numbers() -> None:
    assert set(VOCABULARY) <= DICT_COLUMNS
    numeric = {
        f.name
        for f in SCHEMA
        if pa.types.is_integer(f.type)
        or pa.types.is_floating(f.type)
        or (pa.types.is_list(f.type) and not pa.types.is_string(f.type.value_type))
    }
    assert numeric == set(BOUNDS)
    assert BOUNDS["gpu_health"] == (min(HEALTH_CODES), max(HEALTH_CODES))


@pytest.mark.parametrize("first", [True, False])
def test_prints_step_follows_the_config(config: RunConfig, first: bool) -> None:
    c = dataclasses.replace(config, log_interval=10, log_first_step=first)
    printed = [s for s in range(1, 31) if prints_step(c, s)]
    assert printed == ([1, 10, 20, 30] if first else [10, 20, 30])


# --- writing and reading back -------------------------------------------------------------


def test_round_trip_keeps_rows_config_and_types(tmp_path: Path, config: RunConfig) -> None:
    path = _write(tmp_path / "t.parquet", config, _rows(config))
    trace = open_trace(path)
    assert trace.config == config
    assert trace.version == SCHEMA_VERSION
    events = list(trace.events())
    assert [e.kind for e in events] == ["phase"] + ["step"] * 5 + ["telemetry"]
    assert events[3].step == 3 and events[3].loss == 2.5 and events[3].lr is None
    assert events[-1].gpu_util == [99.0] * config.gpus
    assert trace.read_table().schema.remove_metadata().equals(SCHEMA)


def test_config_json_round_trips_and_is_sorted(config: RunConfig) -> None:
    text = config.to_json()
    assert RunConfig.from_json(text) == config
    assert list(json.loads(text)) == sorted(json.loads(text))


def test_writer_is_atomic_and_refuses_to_overwrite(tmp_path: Path, config: RunConfig) -> None:
    target = tmp_path / "t.parquet"
    with pytest.raises(RuntimeError), TraceWriter(target, config) as writer:
        writer.write(_rows(config))
        raise RuntimeError("interrupted mid-write")
    assert not target.exists() and not list(tmp_path.iterdir())
    _write(target, config, _rows(config))
    with pytest.raises(InputError, match="exists \\(use --force to overwrite\\)"):
        _write(target, config, _rows(config))
    with TraceWriter(target, config, overwrite=True) as writer:
        writer.write(_rows(config, n=2))
    assert open_trace(target).num_rows == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet"]


def test_atomic_path_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.cast"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"), atomic_path(fifo, overwrite=True):
        pass
    with pytest.raises(InputError, match="a directory"), atomic_path(tmp_path, overwrite=True):
        pass
    with pytest.raises(InputError, match="cannot write"), atomic_path(tmp_path / "no" / "x"):
        pass


def test_a_file_that_appears_mid_write_is_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "out.cast"
    with pytest.raises(InputError, match="exists"), atomic_path(target) as tmp:
        tmp.write_text("new")
        target.write_text("someone else's")
    assert target.read_text() == "someone else's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.cast"]


# --- files that are not traces ------------------------------------------------------------


def test_missing_directory_fifo_and_symlink_loop(tmp_path: Path) -> None:
    _refused(tmp_path / "nope.parquet", "no such file")
    _refused(tmp_path, "directory with no")
    fifo = tmp_path / "fifo.parquet"
    os.mkfifo(fifo)
    _refused(fifo, "is a FIFO")  # refused from stat(), never opened: this would block
    loop = tmp_path / "loop.parquet"
    loop.symlink_to(loop)
    _refused(loop, "symbolic links")
    _refused(tmp_path, "is a directory, not a trace")  # now that it holds *.parquet names


def test_not_parquet_truncated_and_foreign(tmp_path: Path, config: RunConfig) -> None:
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"PAR1 not really")
    _refused(junk, "not a readable Parquet file")
    good = _write(tmp_path / "good.parquet", config, _rows(config))
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _refused(cut, "not a readable Parquet file")
    foreign = tmp_path / "foreign.parquet"
    pq.write_table(pa.table({"x": [1, 2]}), foreign)
    _refused(foreign, "not an llmsim trace")


@pytest.mark.parametrize("version", ["1.0", "3.0", "banana", "\u00b2.0", "2", ""])
def test_wrong_version(tmp_path: Path, config: RunConfig, version: str) -> None:
    path = _raw_write(tmp_path / "v.parquet", _rows(config), _meta(config, version))
    _refused(path, "schema version")


def test_minor_version_is_accepted(tmp_path: Path, config: RunConfig) -> None:
    path = _raw_write(tmp_path / "v.parquet", _rows(config), _meta(config, "2.7"))
    assert open_trace(path).version == "2.7"


# What a 2.0-2.2 config left implicit, per stack, as the players of those versions derived it.
IMPLIED_BEFORE_2_3 = {
    "hf": (True, "{out}", False, False),
    "hf-deepspeed": (True, "{out}", False, False),
    "megatron": (False, "{out}/checkpoints", True, False),
    "torchtitan": (True, "./outputs/checkpoint", False, True),
}
NEW_IN_2_3 = ("log_first_step", "checkpoint_dir", "eval_after_loop", "last_save_model_only")


@pytest.mark.parametrize("stack", tuple(IMPLIED_BEFORE_2_3))
def test_a_2_2_trace_reads_with_what_its_stack_implied(
    tmp_path: Path, config: RunConfig, stack: Stack
) -> None:
    data = json.loads(dataclasses.replace(config, stack=stack).to_json())
    for key in NEW_IN_2_3:
        del data[key]
    meta = {META_VERSION: b"2.2", META_CONFIG: json.dumps(data).encode()}
    read = open_trace(_raw_write(tmp_path / "old.parquet", _rows(config), meta)).config
    first, where, after_loop, model_only = IMPLIED_BEFORE_2_3[stack]
    assert read.log_first_step is first
    assert read.checkpoint_dir == where.format(out=config.output_dir)
    assert read.eval_after_loop is after_loop
    assert read.last_save_model_only is model_only


def test_a_2_3_trace_must_carry_the_new_keys(tmp_path: Path, config: RunConfig) -> None:
    data = json.loads(config.to_json())
    del data["checkpoint_dir"]
    meta = {META_VERSION: b"2.3", META_CONFIG: json.dumps(data).encode()}
    _refused(_raw_write(tmp_path / "new.parquet", _rows(config), meta), "'checkpoint_dir'")


NEW_IN_2_5 = (
    "trainable_params",
    "adapter",
    "lora_rank",
    "lora_alpha",
    "metric_keys",
    "eval_metric_keys",
    "reward_min",
    "reward_max",
    "step_prefix",
)


@pytest.mark.parametrize("version", [b"2.3", b"2.4"])
def test_an_older_trace_reads_without_the_post_training_columns(
    tmp_path: Path, config: RunConfig, version: bytes
) -> None:
    """2.5 added columns and config keys: a 2.3 or 2.4 trace lacks them, and reads as full
    training without rewards (the new columns null, every weight trainable)."""
    data = json.loads(config.to_json())
    for key in NEW_IN_2_5:
        del data[key]
    table = _rows(config).drop(list(ADDED[5]))
    meta = {META_VERSION: version, META_CONFIG: json.dumps(data).encode()}
    trace = open_trace(_raw_write(tmp_path / "old.parquet", table, meta))
    assert trace.config.trainable_params == config.params
    assert (trace.config.adapter, trace.config.metric_keys, trace.config.step_prefix) == (
        "none",
        (),
        "",
    )
    events = list(trace.events())
    assert len(events) == table.num_rows
    assert all(ev.reward is None and ev.metrics is None for ev in events)
    assert [ev.loss for ev in events if ev.kind == "step"] == [2.5] * 5


def test_a_2_5_trace_must_carry_the_post_training_columns(
    tmp_path: Path, config: RunConfig
) -> None:
    _refused(
        _raw_write(tmp_path / "a.parquet", _rows(config).drop(["reward"]), _meta(config)),
        "'reward'",
    )
    data = json.loads(config.to_json())
    del data["adapter"]
    meta = {META_VERSION: b"2.5", META_CONFIG: json.dumps(data).encode()}
    _refused(_raw_write(tmp_path / "b.parquet", _rows(config), meta), "'adapter'")


def test_metrics_hold_one_value_per_key(tmp_path: Path, config: RunConfig) -> None:
    keyed = dataclasses.replace(config, metric_keys=("a", "b"), eval_metric_keys=("c",))
    good = _rows(keyed, metrics=[[1.0, None]] * 5)
    events = list(open_trace(_write(tmp_path / "good.parquet", keyed, good)).events())
    assert [ev.metrics for ev in events if ev.kind == "step"] == [[1.0, None]] * 5
    bad = _rows(keyed, metrics=[[1.0, 2.0, 3.0]] * 5)
    _refused(_write(tmp_path / "bad.parquet", keyed, bad), "one value per key")


def test_missing_duplicated_and_retyped_columns(tmp_path: Path, config: RunConfig) -> None:
    table = _rows(config)
    _refused(_raw_write(tmp_path / "a.parquet", table.drop(["loss"]), _meta(config)), "'loss'")
    twice = table.append_column("loss", table.column("loss"))
    _refused(_raw_write(tmp_path / "b.parquet", twice, _meta(config)), "more than once")
    retyped = table.set_column(
        table.schema.get_field_index("step"), "step", table.column("step").cast(pa.int64())
    )
    _refused(_raw_write(tmp_path / "c.parquet", retyped, _meta(config)), "wrong type")


def _config_blob(config: RunConfig, **changes: Any) -> bytes:
    data = json.loads(config.to_json())
    data.update(changes)
    return json.dumps(data).encode()


def test_bad_configs(tmp_path: Path, config: RunConfig) -> None:
    cases: dict[str, tuple[bytes, str]] = {
        "notjson": (b"{nope", "not valid JSON"),
        "array": (b"[1, 2]", "not a JSON object"),
        "missing": (
            json.dumps(
                {k: v for k, v in json.loads(config.to_json()).items() if k != "stack"}
            ).encode(),
            "lacks the key 'stack'",
        ),
        "vocab": (_config_blob(config, stack="pytorch-lightning"), "'stack' must be one of"),
        "digits": (_config_blob(config).replace(b'"seed": 7', b'"seed": ' + b"9" * 400), "digits"),
        "deep": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        "nan": (_config_blob(config).replace(b'"lr_peak": 0.0002', b'"lr_peak": NaN'), "JSON"),
        "contradiction": (_config_blob(config, resume_step=60), "resume_step"),
        "gpus": (_config_blob(config, gpus=9), "gpus"),
    }
    for name, (blob, match) in cases.items():
        meta = {META_VERSION: SCHEMA_VERSION.encode(), META_CONFIG: blob}
        _refused(_raw_write(tmp_path / f"{name}.parquet", _rows(config), meta), match)


def test_empty_trace(tmp_path: Path, config: RunConfig) -> None:
    path = _raw_write(tmp_path / "e.parquet", make_table(0, {}), _meta(config))
    _refused(path, "holds no events")


@pytest.mark.parametrize(
    ("column", "values", "match"),
    [
        ("loss", [float("nan")] * 5, "NaN"),
        ("loss", [float("inf")] * 5, "infinite"),
        ("loss", [1e9] * 5, "out of range"),
        ("t", [5.0, 4.0, 3.0, 2.0, 1.0], "not sorted"),
        ("t", [1.0, 2.0, 3.0, 4.0, 2e8], "out of range"),
        ("kind", ["stepp"] * 5, "unknown value in column 'kind'"),
        ("source", ["syslog"] * 5, "unknown value in column 'source'"),
        ("op", ["teleport"] * 5, "unknown value in column 'op'"),
        ("text", ["x" * 70_000] * 5, "over 65,536"),
        ("text", ["\u00e9" * 65_537] * 5, "over 65,536"),  # characters counted, not bytes
    ],
)
def test_bad_values(
    tmp_path: Path, config: RunConfig, column: str, values: list[Any], match: str
) -> None:
    table = _rows(config)
    i = table.schema.get_field_index(column)
    # Built directly: make_table (like pandas) would turn NaN into null.
    padded = [table.column(column)[0].as_py(), *values, table.column(column)[-1].as_py()]
    array = pa.array(padded, pa.string() if column in DICT_COLUMNS else table.schema.field(i).type)
    if column in DICT_COLUMNS:
        array = array.dictionary_encode()
    table = table.set_column(i, column, array)
    _refused(_raw_write(tmp_path / "b.parquet", table, _meta(config)), match)


def test_long_multibyte_text_within_the_character_limit_is_read(
    tmp_path: Path, config: RunConfig
) -> None:
    text = "\u4e2d" * 65_536  # 196,608 bytes of UTF-8, exactly the limit in characters
    table = _rows(config)
    i = table.schema.get_field_index("text")
    table = table.set_column(i, "text", pa.array([text] * table.num_rows, pa.string()))
    rows = open_trace(_raw_write(tmp_path / "cjk.parquet", table, _meta(config))).read_table()
    assert rows.column("text")[1].as_py() == text


def test_telemetry_width_must_match_gpu_count(tmp_path: Path, config: RunConfig) -> None:
    wide = dataclasses.replace(config, gpus=16, nodes=2, hostnames=("a", "b"), dp=16)
    path = _raw_write(tmp_path / "w.parquet", _rows(config), _meta(wide))
    _refused(path, "one value per GPU")


def test_invalid_utf8_in_a_log_text(tmp_path: Path, config: RunConfig) -> None:
    table = _rows(config)
    offsets = np.arange(0, 2 * (table.num_rows + 1), 2, dtype=np.int32)
    data = b"ok" * (table.num_rows - 1) + b"\xff\xfe"
    bad = pa.Array.from_buffers(
        pa.string(), table.num_rows, [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data)]
    )
    table = table.set_column(table.schema.get_field_index("text"), "text", bad)
    _refused(_raw_write(tmp_path / "u.parquet", table, _meta(config)), "corrupt")


def test_huge_clusters_are_read_in_bounded_slices(
    tmp_path: Path, config: RunConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    gpus = 4096
    big = dataclasses.replace(
        config, gpus=gpus, nodes=512, hostnames=tuple(f"n{i}" for i in range(512)), dp=gpus
    )
    rows = 40
    table = make_table(
        rows,
        {
            "t": [float(i) for i in range(rows)],
            "kind": "telemetry",
            "phase": "train",
            "gpu_util": np.full((rows, gpus), 97.0, dtype=np.float32),
        },
    )
    path = _write(tmp_path / "big.parquet", big, table)
    monkeypatch.setattr(reader_module, "MAX_SLICE_VALUES", gpus * 6 * 4)  # 4 rows a slice
    sizes: list[int] = []
    real = reader_module._slices

    def spy(rb: pa.RecordBatch, width: int) -> Any:
        for part in real(rb, width):
            sizes.append(part.num_rows)
            yield part

    monkeypatch.setattr(reader_module, "_slices", spy)
    assert sum(1 for _ in open_trace(path).events()) == rows
    assert sizes == [4] * 10


def test_topology_helpers_place_every_rank() -> None:
    two_nodes = synthetic_config()  # 16 GPUs, 8 per node
    assert [two_nodes.node_of(r) for r in (0, 7, 8, 15)] == [0, 0, 1, 1]
    assert [two_nodes.local_rank(r) for r in (0, 7, 8, 15)] == [0, 7, 0, 7]
    partial = synthetic_config(gpus=4, gpus_per_node=4, nodes=1, hostnames=("n",), tp=1, dp=4)
    assert {partial.node_of(r) for r in range(4)} == {0}
    assert [partial.local_rank(r) for r in range(4)] == [0, 1, 2, 3]


def test_node_telemetry_holds_one_nodes_gpus(tmp_path: Path, config: RunConfig) -> None:
    """2.4: a `node_telemetry` row's lists have `gpus_per_node` values, a `telemetry` row's
    `gpus`; each is refused with the other's width."""
    wide = dataclasses.replace(config, gpus=16, nodes=2, hostnames=("a", "b"), dp=16)
    per = wide.gpus_per_node

    def table(kind: str, width: int) -> pa.Table:
        lists = {c: [[1.0] * width] for c in ("gpu_util", "gpu_mem", "gpu_temp", "gpu_power")}
        return make_table(1, {"t": [0.0], "kind": [kind], "phase": ["train"], "rank": [0], **lists})

    good = _write(tmp_path / "node.parquet", wide, table("node_telemetry", per))
    assert [e.gpu_util for e in open_trace(good).events()] == [[1.0] * per]
    _refused(_write(tmp_path / "a.parquet", wide, table("node_telemetry", 16)), "one value per GPU")
    _refused(_write(tmp_path / "b.parquet", wide, table("telemetry", per)), "one value per GPU")


def test_optional_config_keys_round_trip_and_stay_out_when_absent(config: RunConfig) -> None:
    from llmsim.trace.config import OPTIONAL_KEYS

    assert not any(f'"{key}"' in config.to_json() for key in OPTIONAL_KEYS)  # 2.2's bytes
    terminal = dataclasses.replace(config, login_host="login-01", monitor_interval=2.0)
    back = RunConfig.from_json(terminal.to_json())
    assert back == terminal and back.tmux_session is None
    with pytest.raises(TraceError, match="monitor_interval"):
        RunConfig.from_json(
            terminal.to_json().replace('"monitor_interval":2.0', '"monitor_interval":0')
        )
