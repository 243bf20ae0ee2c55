"""Names that help: a close bundled name suggested, tab completion in real bash, zsh and fish,
completion installed without harm to the user's start-up files, genact's spellings accepted."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llmsim.bundled import bundled_names
from llmsim.cli import main

BIN = str(Path(sys.executable).parent)
LLMSIM = [sys.executable, "-m", "llmsim"]
SHELLS = {name: shutil.which(name) for name in ("bash", "zsh", "fish", "dash")}


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ, HOME=str(home), PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    env.pop("_LLMSIM_COMPLETE", None)
    return env


def _shell(shell: str, script: str, home: Path) -> str:
    exe = SHELLS[shell]
    assert exe, f"{shell} is needed for this test (.ci/run installs it)"
    proc = subprocess.run(
        [exe, "-c", script], capture_output=True, text=True, env=_env(home), timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# ---------------------------------------------------------------- did you mean


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("llama-3-8b", ["llama-3-8b-sft", "llama-3-8b-qlora-rtx4090", "llama-3-8b-titan-pretrain"]),
        ("llama3-70b", ["llama-3-70b-pretrain"]),
        ("lama-3-8b-sft", ["llama-3-8b-sft"]),
        ("405b", ["llama-3.1-405b-pretrain"]),
        ("Llama-3-8B-SFT", ["llama-3-8b-sft"]),
    ],
)
def test_an_unknown_run_name_gets_the_closest_bundled_names(
    typed: str, suggested: list[str], capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", typed]) == 1
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"llmsim: error: {typed}: no such file")
    guesses = err.split("did you mean ")[1].split("?")[0].replace(" or ", ", ").split(", ")
    assert guesses[: len(suggested)] == suggested and len(guesses) <= 3
    assert set(guesses) <= set(bundled_names())


def test_a_name_like_no_run_says_where_to_look(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["play", "gpt4"]) == 1
    err = capfd.readouterr().err
    assert "did you mean" not in err and "(`llmsim list` shows the runs)" in err


# ---------------------------------------------------------------- completion in real shells


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home folder with completion installed for bash, zsh and fish."""
    home = tmp_path_factory.mktemp("home")
    for shell in ("bash", "zsh", "fish"):
        proc = subprocess.run(
            [*LLMSIM, "--install-completion", shell], capture_output=True, text=True, env=_env(home)
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith(f"{shell} completion installed in {home}")
    return home


def _bash(home: Path, *words: str) -> list[str]:
    line = " ".join(words)
    script = (
        f"source {home}/.bash_completions/llmsim.sh; COMP_WORDS=({line}); "
        f"COMP_CWORD={len(words) - 1}; _llmsim_completion llmsim; "
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    return _shell("bash", script, home).split()


def _zsh(home: Path, *words: str) -> str:
    """The real script in a real zsh, with compsys's two functions standing in (printing)."""
    script = (
        'compdef() { :; }; _arguments() { print -r -- "$@"; }; _files() { print _files; }; '
        f"source {home}/.zfunc/_llmsim; words=({' '.join(words)}); CURRENT={len(words)}; "
        "_llmsim_completion"
    )
    return _shell("zsh", script, home)


def _fish(home: Path, line: str) -> list[str]:
    script = f"source {home}/.config/fish/completions/llmsim.fish; complete -C '{line}'"
    return [row.split("\t")[0] for row in _shell("fish", script, home).splitlines()]


def test_bash_completes_runs_stacks_models_and_gpu_types(home: Path) -> None:
    assert _bash(home, "llmsim", "play", "llama-3-8") == [
        "llama-3-8b-qlora-rtx4090",
        "llama-3-8b-sft",
        "llama-3-8b-titan-pretrain",
    ]
    assert _bash(home, "llmsim", "info", "stoch") == ["stochastic-parrot-3b-sft"]
    assert _bash(home, "llmsim", "generate", "--stack", "m") == ["megatron"]
    assert "Llama-3-70B" in _bash(home, "llmsim", "generate", "--model", "Llama-3")
    assert _bash(home, "llmsim", "generate", "--gpu-type", "H") == ["H100", "H200"]
    assert _bash(home, "llmsim", "cast", "--theme", "github") == ["github-dark", "github-light"]
    assert _bash(home, "llmsim", "pl") == ["play"]


def test_zsh_completes_runs_and_models(home: Path) -> None:
    out = _zsh(home, "llmsim", "play", "llama-3-8")
    assert '"llama-3-8b-sft"' in out and '"llama-3-8b-titan-pretrain"' in out
    assert '"llama-3-8b-qlora-rtx4090"' in out
    assert '"Llama-3-70B"' in _zsh(home, "llmsim", "generate", "--model", "Llama-3")
    assert _zsh(home, "llmsim", "play", "./").strip() == "_files"  # paths: the shell's own


def test_fish_completes_runs_and_gpu_types(home: Path) -> None:
    assert _fish(home, "llmsim play llama-3-8") == [
        "llama-3-8b-qlora-rtx4090",
        "llama-3-8b-sft",
        "llama-3-8b-titan-pretrain",
    ]
    assert _fish(home, "llmsim generate --gpu-type H") == ["H100", "H200"]
    assert "megatron" in _fish(home, "llmsim generate --stack ")


# ---------------------------------------------------------------- installing completion


def _llmsim(home: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LLMSIM, *args], capture_output=True, text=True, env=_env(home), timeout=30, cwd=cwd
    )


def test_install_keeps_a_start_up_file_that_is_not_utf8(tmp_path: Path) -> None:
    rc = tmp_path / ".bashrc"
    mine = b"export GREETING='caf\xe9'  # Latin-1, not UTF-8\nalias ll='ls -l'"
    rc.write_bytes(mine)
    for _ in range(2):  # the second time changes nothing
        proc = _llmsim(tmp_path, "--install-completion", "bash")
        assert proc.returncode == 0, proc.stderr
    line = f"source '{tmp_path}/.bash_completions/llmsim.sh'".encode()
    assert rc.read_bytes() == mine + b"\n" + line + b"\n"
    zsh = _llmsim(tmp_path, "--install-completion=zsh")
    assert zsh.returncode == 0, zsh.stderr
    assert b"fpath+=~/.zfunc" in (tmp_path / ".zshrc").read_bytes()
    assert (tmp_path / ".zfunc" / "_llmsim").read_text().startswith("#compdef llmsim")


def test_install_refuses_a_start_up_file_that_is_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / ".bashrc")
    proc = _llmsim(tmp_path, "--install-completion", "bash")  # within the timeout: no block
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"llmsim: error: cannot add to {tmp_path}/.bashrc: it is not a regular file; "
        f"add this line yourself: source '{tmp_path}/.bash_completions/llmsim.sh'"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--install-completion", "sh"], "cannot install completion for sh: bash, zsh and fish"),
        (["--install-completion", "tcsh"], "cannot install completion for tcsh"),
        (["--show-completion", "tcsh"], "cannot show completion for tcsh"),
        (["--install-completion", "powershell"], "cannot install completion for powershell"),
        (["--show-completion", "bash", "zsh"], "takes one shell name at most"),
    ],
)
def test_unsupported_shells_are_one_line_on_stderr(
    args: list[str], message: str, tmp_path: Path
) -> None:
    proc = _llmsim(tmp_path, *args)
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith("llmsim: error: ")
    assert message in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_shell_is_detected_when_not_named(tmp_path: Path) -> None:
    shown = _shell("bash", "llmsim --show-completion", tmp_path)
    assert "complete -o default -F _llmsim_completion llmsim" in shown
    dash = SHELLS["dash"]
    assert dash, "dash (Debian's sh) is needed for this test"
    proc = subprocess.run(
        [dash, "-c", "llmsim --install-completion"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("llmsim: error: cannot install completion for ")


def test_show_and_print_completions_agree(capfd: pytest.CaptureFixture[str]) -> None:
    for shell in ("bash", "zsh", "fish", "powershell"):
        assert main(["--show-completion", shell]) == 0
        shown = capfd.readouterr().out
        assert main(["--print-completions", shell]) == 0
        assert capfd.readouterr().out == shown
        assert "_LLMSIM_COMPLETE" in shown and "complete_" in shown


# ---------------------------------------------------------------- genact's spellings


# genact v1.5.1, src/args.rs `struct AppConfig`: -l/--list-modules, -s/--speed-factor,
# --exit-after-time, --exit-after-modules, --print-completions.
def test_genact_spellings_work(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["-l"]) == 0
    listed = capfd.readouterr().out
    assert main(["--list-modules"]) == 0
    assert capfd.readouterr().out == listed
    assert main(["list"]) == 0
    assert capfd.readouterr().out == listed
    run = "llama-3-8b-sft"
    assert main(["play", run, "--speed-factor", "1e6", "--exit-after-modules", "1"]) == 0
    assert capfd.readouterr().out.count("Training completed successfully!") == 1
    assert main(["play", run, "--speed-factor", "1e6", "--exit-after-time", "1ms"]) == 0
    assert main(["cast", run, "-o", "-", "--speed-factor", "1e6"]) == 0


# ---------------------------------------------------------------- output that fits


def _widest(text: str) -> int:
    return max(len(line) for line in text.splitlines())


def _sparkline(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("  loss ")).split()[-1]


def test_list_fits_the_terminal_and_pipes_get_every_column(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["list"]) == 0  # stdout is not a terminal here: whole lines
    whole = capfd.readouterr().out
    assert whole.startswith("RUN ") and " MODEL " in whole and _widest(whole) > 80
    monkeypatch.setenv("COLUMNS", "80")
    for args in (["list"], ["list", "--models"], ["list", "--gpus"], ["list", "--stacks"]):
        assert main(args) == 0
        assert _widest(capfd.readouterr().out) <= 80, args
    assert main(["list"]) == 0
    narrow = capfd.readouterr().out
    assert " MODEL " not in narrow and " STACK " in narrow and "llama-3-8b-sft" in narrow
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["list"]) == 0
    assert capfd.readouterr().out == whole
    assert main(["list", "--json"]) == 0
    assert '"model": "Llama-3-8B"' in capfd.readouterr().out  # JSON keeps every field


def test_info_fits_the_terminal(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = sorted(bundled_names())
    assert main(["info", *runs]) == 0
    whole = capfd.readouterr().out
    assert _widest(whole) > 100
    for columns in (80, 60):
        monkeypatch.setenv("COLUMNS", str(columns))
        assert main(["info", *runs]) == 0
        text = capfd.readouterr().out
        assert _widest(text) <= columns
        assert len(_sparkline(text)) < len(_sparkline(whole)) == 48
        assert "  summary    " in text and "\n             " in text  # wrapped under its value
    monkeypatch.setenv("COLUMNS", "60")
    assert main(["info", "--json", runs[0]]) == 0
    narrow_json = capfd.readouterr().out
    monkeypatch.delenv("COLUMNS")
    assert main(["info", "--json", runs[0]]) == 0
    assert capfd.readouterr().out == narrow_json  # JSON is the same for any terminal
