"""The real `llmsim` command line: generate, info, play through a pipe, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from llmsim.cli import main
from llmsim.trace import open_trace

LLMSIM = [sys.executable, "-m", "llmsim"]


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LLMSIM, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("gen")
    proc = run("generate", "-o", str(out), "--count", "3", "--seed", "7")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("wrote ") == 3
    return sorted(out.glob("*.parquet"))


def test_generate_writes_three_valid_traces(generated: list[Path]) -> None:
    assert len(generated) == 3
    seeds = sorted(open_trace(p).config.seed for p in generated)
    assert seeds == [7, 8, 9]
    for path in generated:
        assert sum(1 for _ in open_trace(path).events()) > 100


def test_info_text_and_json(generated: list[Path]) -> None:
    for path in generated:
        proc = run("info", str(path))
        assert proc.returncode == 0, proc.stderr
        config = open_trace(path).config
        assert config.model in proc.stdout and f"{config.params:,}" in proc.stdout
        assert "summary" in proc.stdout
        data = json.loads(run("info", str(path), "--json").stdout)
        assert data["config"]["seed"] == config.seed
        assert data["steps"] == config.total_steps
        assert data["summary"]["steps"] == config.total_steps
        assert data["summary"]["final_loss"] == data["final_loss"]
        assert len(data["loss_sparkline"]) == min(48, config.total_steps)
        assert set(data["phases_s"]) >= {"init", "train", "export"}


def test_generate_refuses_to_overwrite_then_forces(generated: list[Path]) -> None:
    out = generated[0].parent
    before = generated[0].read_bytes()
    proc = run("generate", "-o", str(out), "--count", "3", "--seed", "7")
    assert proc.returncode == 1 and "exists" in proc.stderr and proc.stderr.count("\n") == 1
    proc = run("generate", "-o", str(out), "--count", "1", "--seed", "7", "--force")
    assert proc.returncode == 0
    assert generated[0].read_bytes() == before  # same seed, same bytes


def test_generate_to_a_named_file(tmp_path: Path) -> None:
    target = tmp_path / "one.parquet"
    proc = run(
        "generate",
        "-o",
        str(target),
        "--seed",
        "1",
        "--model",
        "Llama-3-8B",
        "--gpus",
        "64",
        "--kind",
        "finetune",
        "--epochs",
        "2",
        "--steps-per-epoch",
        "40",
    )
    assert proc.returncode == 0, proc.stderr
    config = open_trace(target).config
    assert (config.model, config.gpus, config.kind) == ("Llama-3-8B", 64, "finetune")
    assert (config.epochs, config.steps_per_epoch) == (2, 40)


@pytest.mark.parametrize(
    ("args", "status", "needle"),
    [
        (["generate", "--model", "GPT-17"], 2, "Llama-3-8B"),  # lists the choices
        (["generate", "--gpu-type", "TPU"], 2, "H100"),
        (["generate", "--gpus", "12"], 2, "--gpus"),
        (["generate", "--kind", "rlhf"], 2, "--kind"),
        (["generate", "--duration", "soon"], 2, "--duration"),
        (["generate", "--count", "0"], 2, "--count"),
        (["generate", "-o", "x.parquet", "--count", "2"], 2, ".parquet"),
        (["play", "--speed", "-3"], 2, "--speed"),
        (["play", "--color", "sometimes"], 2, "--color"),
        (["play", "--exit-after", "later"], 2, "--exit-after"),
        (["play", "--nope"], 2, "--nope"),
        (["info", "/no/such/trace.parquet"], 1, "no such file"),
        (["frobnicate"], 2, "frobnicate"),
    ],
)
def test_errors_are_one_line(args: list[str], status: int, needle: str) -> None:
    proc = run(*args)
    assert proc.returncode == status, proc.stderr
    assert proc.stderr.startswith("llmsim: error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_everywhere() -> None:
    for command in ([], ["generate"], ["play"], ["cast"], ["info"]):
        proc = run(*command, "--help")
        assert proc.returncode == 0 and "Usage:" in proc.stdout
        if command:
            assert "Example" in proc.stdout


def test_model_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--model", "list"]) == 0
    names = capsys.readouterr().out.split()
    assert "Llama-3-8B" in names and len(names) >= 24


def test_play_once_through_a_pipe_has_no_escapes(generated: list[Path]) -> None:
    proc = subprocess.run(
        [*LLMSIM, "play", "--once", "--speed", "1e6", str(generated[0])],
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode("utf-8")
    assert "\x1b" not in out
    assert "Training completed successfully!" in out
    config = open_trace(generated[0]).config
    assert f"./outputs/{config.name}/final/" in out


def test_play_without_arguments_finds_the_bundled_traces() -> None:
    proc = subprocess.run(
        [*LLMSIM, "play", "--once", "--speed", "1e6"], capture_output=True, timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode("utf-8")
    bundled = sorted((Path(__file__).parent.parent / "llmsim" / "traces").glob("*.parquet"))
    assert len(bundled) >= 5
    assert out.count("Training completed successfully!") == len(bundled)
    assert out.count("Starting new training run...") == len(bundled) - 1
