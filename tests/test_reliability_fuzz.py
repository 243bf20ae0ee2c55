"""Mutants of the bundled traces, through `info`, `play --once` and `cast`.

Each mutant is a bundled trace with bytes flipped in its data pages or its footer, or with its
metadata (run config or schema version) changed to a hostile value. For every mutant and every
command, with a good trace beside it in the same playlist: exit status 0 or 1, at most one line
on stderr and it names the mutant, no escape byte in any output, no temp file left, and the
good trace still plays. Deterministic: the mutants come from a fixed seed, MUTANTS of them per
run (LLMSIM_FUZZ_MUTANTS=500 for a deep search, LLMSIM_FUZZ_SEED for another sample).
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from reliability_kit import DONE, HOSTILE_VALUES, assert_clean_lines, assert_inert, call
from synthetic import write_trace

from llmsim.bundled import find_bundled
from llmsim.trace.schema import META_CONFIG, META_VERSION

MUTANTS = int(os.environ.get("LLMSIM_FUZZ_MUTANTS", "12"))
SEED = int(os.environ.get("LLMSIM_FUZZ_SEED", "20261130"))
SOURCES = ("llama-3-8b-sft", "stochastic-parrot-3b-sft")  # the smallest bundled traces
# Values a config key or the schema version may be set to (JSON-encoded where they go).
VALUES: list[Any] = [
    *HOSTILE_VALUES,
    None,
    True,
    -1,
    0,
    2**63,
    10**400,
    1e308,
    -1e308,
    0.5,
    [],
    {},
    ["\x1b]0;x\x07"] * 3,
    "x" * 1001,
]

pytestmark = pytest.mark.timeout(120)  # in-process: a hang would stop the suite here


def _footer_start(data: bytes) -> int:
    return len(data) - 8 - int.from_bytes(data[-8:-4], "little")


def _flip(data: bytes, rng: random.Random, lo: int, hi: int) -> bytes:
    """1 to 4 bytes between lo and hi changed (a bit flipped or a random byte)."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(lo, hi)
        out[at] = out[at] ^ (1 << rng.randrange(8)) if rng.random() < 0.5 else rng.randrange(256)
    return bytes(out)


def _bytes(data: bytes) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_bytes(data)

    return write


def _with_meta(source: Path, key: bytes, value: bytes) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        table = pq.read_table(source)
        meta = dict(table.schema.metadata or {})
        meta[key] = value
        pq.write_table(table.replace_schema_metadata(meta), path, compression="zstd")

    return write


def _config_mutant(source: Path, rng: random.Random) -> tuple[str, Callable[[Path], None]]:
    meta = pq.read_schema(source).metadata or {}
    config: dict[str, Any] = json.loads(meta[META_CONFIG])
    key = rng.choice(sorted(config))
    value = rng.choice(VALUES)
    if rng.random() < 0.2:
        config.pop(key)
        what = f"config without {key}"
    else:
        config[key] = value
        what = f"config {key}={value!r:.40}"
    text = json.dumps(config, allow_nan=True)
    if isinstance(value, int) and abs(value) > 10**300:
        text = text.replace(str(value), "1" + "0" * 400)  # json.dumps refuses ints that big
    return what, _with_meta(source, META_CONFIG, text.encode("utf-8", "surrogatepass"))


def _version_mutant(source: Path, rng: random.Random) -> tuple[str, Callable[[Path], None]]:
    value = rng.choice([v for v in VALUES if isinstance(v, str)] + ["2.1.0", "02.1", "3.0"])
    return f"version {value!r:.40}", _with_meta(source, META_VERSION, value.encode())


def mutants(count: int, seed: int) -> list[tuple[str, str, Callable[[Path], None]]]:
    """(source name, what was done, a function writing the mutant to a path), deterministic."""
    rng = random.Random(seed)
    out: list[tuple[str, str, Callable[[Path], None]]] = []
    for i in range(count):
        name = SOURCES[i % len(SOURCES)]
        source = find_bundled(name)
        assert source is not None
        data = source.read_bytes()
        kind = ("data", "footer", "data", "config", "footer", "version")[i % 6]
        if kind == "data":
            lo, hi = 4, _footer_start(data)
        elif kind == "footer":
            lo, hi = _footer_start(data), len(data) - 8
        if kind in ("data", "footer"):
            out.append((name, f"{kind} bytes", _bytes(_flip(data, rng, lo, hi))))
            continue
        make = _config_mutant if kind == "config" else _version_mutant
        what, write = make(source, rng)
        out.append((name, what, write))
    return out


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_trace(tmp_path_factory.mktemp("good") / "good.parquet")


CASES = mutants(MUTANTS, SEED)


@pytest.mark.parametrize(
    ("source", "what", "write"), CASES, ids=[f"{i}-{c[1][:24]}" for i, c in enumerate(CASES)]
)
def test_a_mutant_is_one_line_or_plays_and_the_good_one_plays(
    source: str, what: str, write: Callable[[Path], None], good: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    mutant = folder / f"{source}.parquet"
    write(mutant)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    cast = out_dir / "x.cast"
    runs = [
        (["info", str(mutant), str(good)], "info"),
        (["play", "--once", "--speed", "1e6", "--color", "never", str(mutant), str(good)], "play"),
        (
            [
                "cast",
                str(mutant),
                str(good),
                "-o",
                str(cast),
                "--rows",
                "24",
                "--layout",
                "classic",
            ],
            "cast",
        ),
    ]
    for argv, command in runs:
        status, out, err = call(argv)
        assert status in (0, 1), (what, command, status, err)
        lines = assert_clean_lines(err)
        assert len(lines) == status, (what, command, lines)  # one line exactly when it failed
        assert all(str(mutant) in line for line in lines), (what, command, lines)
        if command == "cast":
            raw = cast.read_text("utf-8")
            assert "\x1b" not in raw  # JSON escapes it; the events are checked below
            events = [json.loads(x) for x in raw.split("\n")[1:-1]]
            out = "".join(e[2] for e in events if e[1] == "o")
            assert_inert(out, tty=True, color=True)
            assert [p.name for p in out_dir.iterdir()] == ["x.cast"]  # no temp file left
            cast.unlink()
        else:
            assert_inert(out, tty=False, color=False)
        if command != "info":
            assert out.count(DONE) >= 1, (what, command)  # the good one played
        else:
            assert out.count("(trace v") >= 1
    assert sorted(p.name for p in folder.iterdir()) == [mutant.name]


def test_the_mutants_are_mutated() -> None:
    """Control: every mutant differs from its source, and all three kinds are there."""
    kinds = {what.split()[0] for _, what, _ in CASES}
    assert {"data", "footer", "config", "version"} <= kinds or MUTANTS < 6
