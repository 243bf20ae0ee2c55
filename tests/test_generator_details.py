"""The smaller tells of issue 20, part B, on real traces read back through the reader.

- an evaluation shows a visible utilisation dip (its forward passes leave the GPUs idle while
  the host loads batches and gathers the loss);
- the checkpoint rotation counts the checkpoints a resumed job finds on disk (the one it
  resumed from first among them);
- torchrun's attempts count down (`3/3` at the first failure, `2/3` at the next);
- the early-stopping patience counter never sits one short of the limit in a run that does not
  stop (its config's patience is a value people type, above what the run reaches);
- a model's tokenizer and config files have one size in every run (the Hub's).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from llmsim.generator import GenerateOptions, RunPlan, plan_run, write_trace
from llmsim.generator.catalog.models import find_model, tokenizer_file_bytes
from llmsim.generator.phases.state import on_disk
from llmsim.generator.plan.make import PATIENCE_LIMITS
from llmsim.trace import open_trace

CASES = {
    # a resumed torchtitan window (keep_latest_k) and a resumed HF continued pretraining
    "titan": GenerateOptions(seed=21, stack="torchtitan", gpus=64, duration=900.0),
    "hf-pretrain": GenerateOptions(
        seed=23, stack="hf", kind="pretrain", gpus=16, steps_per_epoch=200, incidents="none"
    ),
    # two torchrun restarts in place of one job (two nodes: LOGLEVEL=INFO shows its agent)
    "elastic": GenerateOptions(seed=8, stack="hf", incidents="often", gpus=16, duration=1500.0),
    # multi-epoch fine-tunes: validation creeps up late
    "sft-a": GenerateOptions(seed=31, kind="finetune", epochs=4, gpus=8, incidents="none"),
    "sft-b": GenerateOptions(seed=32, kind="finetune", epochs=3, gpus=16, incidents="none"),
    "sft-c": GenerateOptions(
        seed=33, kind="finetune", model="Qwen2.5-1.5B", epochs=4, gpus=8, incidents="none"
    ),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[RunPlan, pa.Table]]:
    base = Path(tmp_path_factory.mktemp("details"))
    out = {}
    for name, options in CASES.items():
        plan = plan_run(options)
        write_trace(plan, base / f"{name}.parquet")
        out[name] = (plan, open_trace(base / f"{name}.parquet").read_table())
    return out


def _kind(table: pa.Table, kind: str) -> pa.Table:
    return table.filter(pc.equal(table.column("kind"), pa.scalar(kind)))


def _texts(table: pa.Table) -> list[str]:
    return [t for t in _kind(table, "log").column("text").to_pylist() if t]


def test_an_evaluation_dips_the_utilisation(runs: dict[str, tuple[RunPlan, pa.Table]]) -> None:
    for name, (_, table) in runs.items():
        tele = _kind(table, "telemetry")
        phase = np.array(tele.column("phase").to_pylist())
        util = np.array(tele.column("gpu_util").to_pylist(), dtype=np.float64).mean(axis=1)
        if (phase == "eval").sum() < 2:
            continue
        assert util[phase == "eval"].mean() < util[phase == "train"].mean() - 10, name


def test_the_rotation_counts_the_checkpoints_found_on_disk(
    runs: dict[str, tuple[RunPlan, pa.Table]],
) -> None:
    """The first save of a resumed window deletes the oldest of the checkpoints on disk: with
    save_total_limit N, the one N - 1 saves before the checkpoint it resumed from."""
    for name in ("titan", "hf-pretrain"):
        plan, table = runs[name]
        c = plan.config
        assert c.resume_step > 0, name
        found = on_disk(c.resume_step, c.checkpoint_interval, c.save_total_limit)
        assert found[-1] == c.resume_step and len(found) == c.save_total_limit
        deleted = [
            t for t in _texts(table) if re.search(r"(Deleting older checkpoint|deleting)", t)
        ]
        assert deleted, name
        oldest = plan.profile.checkpoint_name(found[0])
        assert f"/{oldest}" in deleted[0], (name, deleted[0], oldest)


def test_torchruns_attempts_count_down(runs: dict[str, tuple[RunPlan, pa.Table]]) -> None:
    plan, table = runs["elastic"]
    assert [f.relaunch for f in plan.incidents.failures] == ["elastic", "elastic"]
    most = plan.flags.max_restarts
    texts = _texts(table)
    left = [t for t in texts if "attempts left; will restart worker group" in t]
    assert [f"{most}/{most}", f"{most - 1}/{most}"] == [t.split(". ")[1].split()[0] for t in left]
    counts = [int(n) for t in texts for n in re.findall(r"restart_count=(\d+)", t)]
    assert counts == [0, 1, 2]


def test_the_patience_counter_never_sits_one_short(
    runs: dict[str, tuple[RunPlan, pa.Table]],
) -> None:
    creeping = 0
    for name, (plan, table) in runs.items():
        c = plan.config
        patience = _kind(table, "eval").column("patience").to_numpy()
        assert c.patience_limit in PATIENCE_LIMITS, name
        assert (patience <= c.patience_limit - 2).all(), (name, patience, c.patience_limit)
        creeping += int(patience.max() >= 2)
    assert creeping >= 1  # late epochs do stop improving


def test_a_models_files_have_one_size_in_every_run(tmp_path: Path) -> None:
    """Llama 3's tokenizer.json 9.09 MB, tokenizer_config.json 50.6 kB, special_tokens_map.json
    301 B as save_pretrained writes them (issue 20 sources, B5); the export of two runs of one
    model lists the same sizes, config.json included (Megatron-Bridge's export: it writes every
    companion file; accelerate's merge-weights, the HF FSDP runs' converter, writes weights only)."""
    spec = find_model("Llama-3-8B")
    assert spec is not None
    sizes = {n: tokenizer_file_bytes(spec, n) for n in ("tokenizer.json",)}
    sizes["tokenizer_config.json"] = tokenizer_file_bytes(spec, "tokenizer_config.json")
    sizes["special_tokens_map.json"] = tokenizer_file_bytes(spec, "special_tokens_map.json")
    assert round(sizes["tokenizer.json"] / 1e6, 2) == 9.09
    assert round(sizes["tokenizer_config.json"] / 1e3, 1) == 50.6
    assert sizes["special_tokens_map.json"] == 301
    listed = []
    for seed in (41, 42):
        options = GenerateOptions(
            seed=seed,
            model="Llama-3-8B",
            stack="megatron",
            gpus=8,
            duration=600.0,
            incidents="none",
        )
        path = tmp_path / f"{seed}.parquet"
        write_trace(plan_run(options), path)
        files = _kind(open_trace(path).read_table(), "file")
        listed.append(
            dict(
                zip(
                    files.column("path").to_pylist(),
                    files.column("size_bytes").to_pylist(),
                    strict=True,
                )
            )
        )
    assert listed[0] == listed[1]
    assert all(listed[0][n] == size for n, size in sizes.items())
