"""The command line in-process through `llmsim.cli.main`: generate, list, info, play, cast, the
one error path (2 usage, 1 input, 70 a bug), version and shell completion."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from importlib import metadata
from pathlib import Path

import pytest

import llmsim
from llmsim.bundled import bundled_names, bundled_traces, find_bundled
from llmsim.cli import main
from llmsim.errors import BUG_REPORT
from llmsim.trace import open_trace
from llmsim.trace.vocab import STACK_NAMES, STACKS

DONE = "Training completed successfully!"


def run(capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`llmsim ARGS` in this process: (status, stdout, stderr)."""
    status = main(list(args))
    out, err = capfd.readouterr()
    return status, out, err


def one_error_line(err: str) -> str:
    assert err.startswith("llmsim: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("gen")
    assert main(["generate", "-o", str(out), "--count", "3", "--seed", "7"]) == 0
    return sorted(out.glob("*.parquet"))


# ---------------------------------------------------------------------------------- generate


def test_generate_writes_seeded_valid_traces(generated: list[Path]) -> None:
    assert sorted(open_trace(p).config.seed for p in generated) == [7, 8, 9]
    assert len({open_trace(p).config.name for p in generated}) == 3


def test_generate_refuses_to_overwrite_then_forces_to_the_same_bytes(
    generated: list[Path], capfd: pytest.CaptureFixture[str]
) -> None:
    out = generated[0].parent
    before = {p: p.read_bytes() for p in generated}
    status, stdout, err = run(capfd, "generate", "-o", str(out), "--count", "3", "--seed", "7")
    assert status == 1 and "exists (use --force to overwrite)" in one_error_line(err)
    assert stdout == ""  # nothing was written: the check comes before the first run
    status, stdout, _ = run(capfd, "generate", "-o", str(out), "-n", "3", "--seed", "7", "-f")
    assert status == 0 and stdout.count("wrote ") == 3
    assert {p: p.read_bytes() for p in generated} == before  # same seed, same bytes


def test_generate_options_reach_the_trace(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "one.parquet"
    status, out, err = run(
        capfd, "generate", "-o", str(target), "--seed", "1", "--model", "Llama-3-8B",
        "--gpus", "64", "--gpu-type", "a100", "--kind", "finetune", "--stack", "hf-deepspeed",
        "--incidents", "often", "--epochs", "2", "--steps-per-epoch", "40",
    )  # fmt: skip
    assert status == 0, err
    c = open_trace(target).config
    assert (c.model, c.gpus, c.gpu_short, c.kind, c.stack) == (
        "Llama-3-8B", 64, "A100", "finetune", "hf-deepspeed",
    )  # fmt: skip
    assert (c.incidents, c.epochs, c.steps_per_epoch) == ("often", 2, 40)
    assert f"wrote {target}" in out and "hf-deepspeed" in out


def test_generate_duration_reaches_the_generator(tmp_path: Path) -> None:
    target = tmp_path / "long.parquet"
    assert main(["generate", "-o", str(target), "--seed", "3", "--duration", "45min"]) == 0
    length = open_trace(target).duration
    assert 0.8 * 2700 < length < 1.2 * 2700


def test_generate_refuses_a_batch_the_disk_cannot_hold(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import llmsim.generator

    real = llmsim.generator.plan_run
    monkeypatch.setattr(
        llmsim.generator,
        "plan_run",
        lambda o: dataclasses.replace(real(o), estimated_bytes=10**18),
    )
    args = ["-o", str(tmp_path / "runs"), "--seed", "1", "--max-size", "2000000TB"]
    status, out, err = run(capfd, "generate", *args)
    assert status == 1 and "not enough space" in one_error_line(err)
    assert out == "" and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("which", ["real", "invented"])
def test_generate_models_picks_from_that_part_of_the_catalogue(tmp_path: Path, which: str) -> None:
    for seed in (1, 2, 3):
        target = tmp_path / f"{which}-{seed}.parquet"
        assert main(["generate", "-o", str(target), "--seed", str(seed), "--models", which]) == 0
        assert open_trace(target).config.invented == (which == "invented")


@pytest.mark.parametrize(
    ("option", "needles"),
    [
        ("--model", ["Llama-3-8B", "8.03B", "real", "invented", "Stochastic-Parrot-3B"]),
        ("--gpu-type", ["H100", "NVIDIA H100 80GB HBM3", "989", "MiB"]),
        ("--stack", [*STACKS, *STACK_NAMES.values()]),
    ],
)
def test_generate_list_options_show_the_catalogue(
    option: str, needles: list[str], capfd: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capfd, "generate", option, "list")
    assert status == 0
    for needle in needles:
        assert needle in out


# ------------------------------------------------------------------------------------- list


def test_list_shows_every_bundled_run_from_its_config(capfd: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capfd, "list")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == ["RUN", "MODEL", "PARAMS", "GPUS", "GPU", "STACK", "KIND", "LENGTH"]
    assert len(lines) == 1 + len(bundled_traces())
    for name, path in zip(bundled_names(), bundled_traces(), strict=True):
        config = open_trace(path).config
        row = next(line for line in lines if line.startswith(name + " "))
        assert config.model in row and config.stack in row and f" {config.gpus} " in row


def test_list_json_is_versioned_and_complete(capfd: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capfd, "list", "--json")
    assert status == 0
    doc = json.loads(out)
    assert doc["format"] == 1
    assert [r["name"] for r in doc["runs"]] == bundled_names()
    assert all(r["duration_s"] > 60 for r in doc["runs"])
    status, out, _ = run(capfd, "list", "--models", "--gpus", "--stacks", "--json")
    doc = json.loads(out)
    assert set(doc) == {"format", "models", "gpus", "stacks"}
    llama = next(m for m in doc["models"] if m["name"] == "Llama-3-8B")
    assert (llama["params"], llama["invented"]) == (8_030_261_248, False)
    assert any(m["invented"] for m in doc["models"])
    assert [s["name"] for s in doc["stacks"]] == list(STACKS)
    h100 = next(g for g in doc["gpus"] if g["short"] == "H100")
    assert h100["peak_tflops"] > 900 and h100["memory_mib"] > 80_000


# ------------------------------------------------------------------------------------- info


def test_info_takes_several_traces_and_bundled_names(
    generated: list[Path], capfd: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capfd, "info", "llama-3-8b-sft", *map(str, generated))
    assert status == 0
    assert out.count("  model      ") == 1 + len(generated)
    assert "(1 node; " in out and "  schedule   3 epochs x " in out  # the bundled 8-GPU fine-tune
    for path in generated:
        config = open_trace(path).config
        assert config.name in out and f"{config.params:,}" in out
    status, out, _ = run(capfd, "info", "llama-3-8b-sft", str(generated[0]), "--json")
    doc = json.loads(out)
    assert doc["format"] == 2 and len(doc["traces"]) == 2
    first = doc["traces"][1]
    config = open_trace(generated[0]).config
    assert first["config"]["seed"] == config.seed
    assert first["summary"]["final_loss"] == first["final_loss"]
    assert set(first["phases_s"]) >= {"init", "train", "export"}


def test_info_lists_incidents_with_their_times_and_the_restart_totals(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "run.parquet"
    args = ["--seed", "1", "--incidents", "often", "--model", "Llama-3.2-1B", "--gpus", "16"]
    assert run(capfd, "generate", "-o", str(path), *args, "--duration", "15m")[0] == 0
    table = open_trace(path).read_table().to_pylist()
    incidents = [r for r in table if r["kind"] == "incident"]
    summary = next(r for r in table if r["kind"] == "summary")
    assert summary["restarts"] >= 1 and any(r["op"] == "restart" for r in incidents)
    status, out, _ = run(capfd, "info", str(path))
    assert status == 0
    listed = [
        line for line in out.splitlines() if re.match(r" {2}(incidents| {9}) {2}\d\d:\d\d ", line)
    ]
    assert len(listed) == len(incidents)
    for line, row in zip(listed, incidents, strict=True):
        minutes, seconds = divmod(int(row["t"]), 60)
        assert f"{minutes:02d}:{seconds:02d} {row['text']}" in line
    assert f"  restarts   {summary['restarts']}: {summary['redone']} steps redone" in out
    doc = json.loads(run(capfd, "info", str(path), "--json")[1])["traces"][0]
    assert doc["incidents_total"] == len(incidents)
    assert [i["kind"] for i in doc["incidents"]] == [r["op"] for r in incidents]
    assert doc["summary"]["restarts"] == summary["restarts"]
    assert doc["summary"]["time_lost_s"] == summary["lost_s"]


def test_info_reports_a_bad_trace_and_still_shows_the_rest(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    status, out, err = run(capfd, "info", str(bad), "llama-3-8b-sft")
    assert status == 1
    assert str(bad) in one_error_line(err)
    assert "llama-3-8b-sft" in out


# ------------------------------------------------------------------------------------- play


def test_play_a_bundled_run_by_name(capfd: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capfd, "play", "llama-3-8b-sft", "--once", "-s", "1e6")
    assert status == 0, err
    assert out.count(DONE) == 1 and "\x1b" not in out  # a pipe gets plain lines


def test_play_exit_after_runs_counts_runs(capfd: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capfd, "play", "llama-3-8b-sft", "--exit-after-runs", "2", "-s", "1e6")
    assert status == 0, err
    assert out.count(DONE) == 2


def test_play_exit_after_takes_a_short_duration(capfd: pytest.CaptureFixture[str]) -> None:
    # The first line comes LEAD_IN after the start (the launch typed at the shell before it is
    # not the job's output, so a pipe skips it): a second holds it and ends long before DONE.
    status, out, err = run(capfd, "play", "llama-3-8b-sft", "--exit-after", "1s")
    assert status == 0, err
    assert out and DONE not in out  # stopped early in the run, cleanly


def test_play_with_nothing_named_goes_on_with_fresh_runs(
    capfd: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    runs = len(bundled_traces()) + 2
    status, out, err = run(capfd, "play", "--exit-after-runs", str(runs), "-s", "1e6",
                           "--seed", "123")  # fmt: skip
    assert status == 0, err
    assert out.count(DONE) == runs
    fresh = sorted((tmp_path / "llmsim" / "runs").glob("*.parquet"))
    assert len(fresh) >= 2  # the two played, and maybe the one made ahead
    names = {open_trace(p).config.name for p in [*bundled_traces(), *fresh]}
    assert len(names) == len(bundled_traces()) + len(fresh)  # no run twice
    for path in fresh[:2]:
        assert f"./outputs/{open_trace(path).config.name}/" in out


def test_play_models_filters_the_bundled_runs(capfd: pytest.CaptureFixture[str]) -> None:
    invented = [p for p in bundled_traces() if open_trace(p).config.invented]
    assert invented, "the bundle keeps one invented model"
    status, out, err = run(capfd, "play", "--models", "invented", "--once", "-s", "1e6")
    assert status == 0, err
    assert out.count(DONE) == len(invented)
    for path in bundled_traces():
        config = open_trace(path).config
        assert (config.name in out) == config.invented


# ------------------------------------------------------------------------------------- cast


def test_cast_a_bundled_run_as_v2_and_v3(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    for fmt, version in (("v2", 2), ("v3", 3)):
        target = tmp_path / f"run-{fmt}.cast"
        args = ["cast", "llama-3-8b-sft", "-o", str(target), "--format", fmt, "-t", "Demo"]
        status, _, err = run(capfd, *args, "--cols", "100", "--rows", "30", "-i", "1.5s")
        assert status == 0, err
        header = json.loads(target.read_text(encoding="utf-8").splitlines()[0])
        assert header["version"] == version and header["title"] == "Demo"
        assert header["idle_time_limit"] == 1.5
        size = header.get("term", header)
        assert (size.get("cols", size.get("width")), size.get("rows", size.get("height"))) == (
            100,
            30,
        )


# ------------------------------------------------------------------------- the error path


@pytest.mark.parametrize(
    ("args", "status", "needle"),
    [
        (["generate", "--model", "GPT-17"], 2, "Llama-3-8B"),  # the choices are listed
        (["generate", "--gpu-type", "TPU"], 2, "H100"),
        (["generate", "--gpus", "12"], 2, "--gpus"),
        (["generate", "--kind", "sft"], 2, "pretrain, finetune"),
        (["generate", "--stack", "jax"], 2, "megatron"),
        (["generate", "--incidents", "always"], 2, "none, rare, often"),
        (["generate", "--models", "fake"], 2, "real, invented, all"),
        (["generate", "--model", "Stochastic-Parrot-3B", "--models", "real"], 2, "invented"),
        (["generate", "--duration", "soon"], 2, "--duration"),
        (["generate", "--count", "0"], 2, "--count"),
        (["generate", "--epochs", "0"], 2, "--epochs"),
        (["generate", "-o", "x.parquet", "--count", "2"], 2, ".parquet"),
        (["play", "--speed", "-3"], 2, "--speed"),
        (["play", "--color", "sometimes"], 2, "auto, always, never"),
        (["play", "--exit-after", "later"], 2, "2h10min"),
        (["play", "--exit-after-runs", "0"], 2, "--exit-after-runs"),
        (["play", "--start-at", "lunch"], 2, "MM:SS"),
        (["play", "--start-at", "100%"], 2, "--start-at"),
        (["play", "--models", "invented", "llama-3-8b-sft"], 2, "--models"),
        (["play", "--nope"], 2, "--nope"),
        (["play", "no-such-run"], 1, "llmsim list"),
        (["cast", "llama-3-8b-sft"], 2, "--output"),
        (["cast", "-o", "x.mp4"], 2, ".gif"),
        (["cast", "-o", "x.cast", "--loop"], 2, "--loop"),
        (["cast", "-o", "x.html", "--theme", "neon"], 2, "dracula"),
        (["cast", "-o", "x.cast", "--cols", "5"], 2, "--cols"),
        (["cast", "-o", "x.cast", "-i", "0"], 2, "--idle-time-limit"),
        (["info"], 2, "RUN|TRACE"),
        (["info", "/no/such/trace.parquet"], 1, "/no/such/trace.parquet"),
        (["frobnicate"], 2, "frobnicate"),
    ],
)
def test_errors_are_one_line_with_the_right_status(
    args: list[str], status: int, needle: str, capfd: pytest.CaptureFixture[str]
) -> None:
    got, out, err = run(capfd, *args)
    assert got == status, err
    assert needle in one_error_line(err)
    assert out == ""


def test_a_bug_is_an_internal_error_not_a_usage_error(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(path: Path, **options: object) -> dict[str, object]:
        raise ValueError("an invariant broke")

    monkeypatch.setattr("llmsim.info.describe", broken)
    status, _, err = run(capfd, "info", "llama-3-8b-sft")
    assert status == 70
    line = one_error_line(err)
    assert "internal error" in line and "ValueError: an invariant broke" in line
    assert line.rstrip().endswith(f"please report it with {BUG_REPORT}")
    assert "http" not in line  # no link to a place that does not exist
    monkeypatch.setenv("LLMSIM_DEBUG", "1")
    status, _, err = run(capfd, "info", "llama-3-8b-sft")
    assert status == 70
    assert "Traceback (most recent call last)" in err and err.endswith(line)


def test_an_os_error_names_the_file_with_status_1(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(path: Path, **options: object) -> dict[str, object]:
        raise PermissionError(13, "Permission denied", "/srv/runs/x.parquet")

    monkeypatch.setattr("llmsim.info.describe", denied)
    status, _, err = run(capfd, "info", "llama-3-8b-sft")
    assert status == 1
    assert one_error_line(err) == "llmsim: error: /srv/runs/x.parquet: permission denied\n"


def test_hostile_names_print_inert_on_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    name = str(tmp_path / "evil\x1b]0;pwned\x07\nline2\x9b31m.parquet")
    status, _, err = run(capfd, "info", name)
    assert status == 1
    line = one_error_line(err)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", line)
    assert "pwned" in line and "line2" in line  # shown, not acted on


# ------------------------------------------------------------------------ version, completion


def test_version_comes_from_the_package_metadata(capfd: pytest.CaptureFixture[str]) -> None:
    version = metadata.version("llmsim")
    assert llmsim.__version__ == version
    for flag in ("-V", "--version"):
        assert run(capfd, flag) == (0, f"llmsim {version}\n", "")


def test_shell_completion_script_and_choices(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    status, out, _ = run(capfd, "--show-completion", "bash")
    assert status == 0 and "_LLMSIM_COMPLETE=complete_bash" in out
    monkeypatch.setenv("HOME", str(tmp_path))
    status, out, _ = run(capfd, "--install-completion", "bash")
    assert status == 0 and "llmsim" in (tmp_path / ".bashrc").read_text(encoding="utf-8")
    monkeypatch.setenv("_LLMSIM_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", "llmsim generate --stack ")
    monkeypatch.setenv("COMP_CWORD", "3")
    assert main([]) == 0
    assert capfd.readouterr().out.split() == [*STACKS, "list"]


def test_bundled_run_names_resolve() -> None:
    assert "llama-3-8b-sft" in bundled_names()
    assert find_bundled("llama-3-8b-sft") == find_bundled("llama-3-8b-sft.parquet") is not None
    assert os.path.basename(str(find_bundled("llama-3-8b-sft"))) == "llama-3-8b-sft.parquet"
