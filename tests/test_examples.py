"""Every runnable example in README.md, docs/*.md and the `--help` texts runs, so none can rot.

Examples are the lines of ```sh blocks and of each help's "Examples:" section. Each source runs
in its own temporary folder, line after line, so an example may use what an earlier one made;
the folder is not a clone (no `traces/` there), so every example works wherever llmsim is
installed: runs are named, not found by path. `llmsim` commands run in-process through
`llmsim.cli.main` and must exit 0; `python -c` one-liners and `asciinema play` run as programs.
Bounded, never changed otherwise: `play` gets `--speed 1e6 --exit-after-runs 1` appended (the
last value of an option wins), a `.gif` cast `--speed 1e6`, `asciinema play` `-s 1000 -i 0.01`.
Installs and the test suite itself are not run here (tests/test_install.py and .ci/run do);
the consumer of a pipe (`| head`) must exist. Any other command fails the test until a rule
for it is added.
"""

from __future__ import annotations

import glob
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Final, NamedTuple

import pytest

from llmsim.cli import main
from llmsim.cli.helpfmt import EXAMPLES_HEADING

ROOT: Final = Path(__file__).resolve().parent.parent
FENCE: Final = re.compile(r"^```(?:sh|bash|shell|console)\s*\n(.*?)^```", re.M | re.S)
OPERATORS: Final = {"|", "||", "&&", ";"}
PIPE_CONSUMERS: Final = {"head", "tail", "less", "grep", "jq", "wc"}
NOT_RUN_HERE: Final = {  # program -> where it is run instead
    "pip": "tests/test_install.py and .ci/run install the package",
    "pipx": "tests/test_install.py",
    "uv": "tests/test_install.py",
    "apt-get": ".ci/run",
    ".": "shell builtin (activating a venv)",
}
HELP_ORDER: Final = ((), ("generate",), ("list",), ("info",), ("play",), ("cast",))


class Example(NamedTuple):
    source: str
    line: str


def fenced(path: Path) -> list[Example]:
    """The command lines of a markdown file's shell blocks (comments and prompts removed)."""
    text = path.read_text(encoding="utf-8")
    lines = []
    for block in FENCE.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip().removeprefix("$ ")
            if line and not line.startswith("#"):
                lines.append(Example(path.relative_to(ROOT).as_posix(), line))
    return lines


def help_examples(capsys: pytest.CaptureFixture[str]) -> list[Example]:
    """The examples every `--help` ends with, commands that make files first."""
    out = []
    for command in HELP_ORDER:
        assert main([*command, "--help"]) == 0
        text = capsys.readouterr().out
        section = text.split(f"\n{EXAMPLES_HEADING}:\n")[1]
        name = " ".join(["llmsim", *command, "--help"])
        out += [Example(name, line.strip()) for line in section.splitlines() if line.strip()]
    return out


def commands(line: str) -> list[tuple[str, list[str]]]:
    """A shell line as (operator before it, argv) pairs: `a | b && c` -> a, |b, &&c."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars="|&;")
    lexer.whitespace_split = True
    out: list[tuple[str, list[str]]] = []
    op, argv = "", list[str]()
    for token in lexer:
        if token in OPERATORS:
            out.append((op, argv))
            op, argv = token, []
        else:
            argv.append(token)
    out.append((op, argv))
    return [(o, a) for o, a in out if a]


def bounded_llmsim(argv: list[str], cwd: Path) -> list[str]:
    args = []
    for arg in argv[1:]:  # the shell would expand globs: do it the same way
        matches = sorted(glob.glob(arg, root_dir=cwd)) if any(c in arg for c in "*?[") else []
        args += matches or [arg]
    if args[:1] == ["play"]:
        args += ["--speed", "1e6", "--exit-after-runs", "1"]
    if args[:1] == ["cast"] and any(a.endswith(".gif") for a in args):
        args += ["--speed", "1e6"]
    return args


def run_program(args: list[str], cwd: Path, where: str) -> None:
    """Run a program as an example would, with nothing on stdin; it must exit 0."""
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"{where}\n{proc.stderr}"


def run_example(example: Example, cwd: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Run one example line by the rules at the top of this file."""
    for op, argv in commands(example.line):
        program = argv[0]
        where = f"{example.source}: {example.line}"
        if op == "|":
            assert program in PIPE_CONSUMERS and shutil.which(program), where
        elif program == "llmsim":
            status = main(bounded_llmsim(argv, cwd))
            _, err = capfd.readouterr()
            assert status == 0, f"{where}\n{err}"
        elif program.startswith("python") and argv[1:2] == ["-c"]:
            run_program([sys.executable, *argv[1:]], cwd, where)
        elif program.startswith("python") and argv[1:3] in (["-m", "venv"], ["-m", "pytest"]):
            continue  # the README's set-up commands: .ci/run runs exactly these
        elif argv[:2] == ["asciinema", "play"]:
            asciinema = shutil.which("asciinema", path=str(Path(sys.executable).parent))
            assert asciinema, "asciinema is a dependency of llmsim"
            run_program([asciinema, *argv[1:], "-s", "1000", "-i", "0.01"], cwd, where)
        else:
            assert program in NOT_RUN_HERE, f"no rule to run {program!r} ({where})"


def sources(capsys: pytest.CaptureFixture[str]) -> dict[str, list[Example]]:
    found = {"help": help_examples(capsys), "README.md": fenced(ROOT / "README.md")}
    for doc in sorted((ROOT / "docs").glob("*.md")):
        found[f"docs/{doc.name}"] = fenced(doc)
    return found


def test_every_example_runs(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (ROOT / "traces").resolve() == (ROOT / "llmsim" / "traces").resolve()
    found = sources(capfd)
    assert len(found["help"]) >= 15 and len(found["README.md"]) >= 10
    for name, examples in found.items():
        cwd = tmp_path / name.replace("/", "_")
        cwd.mkdir()
        monkeypatch.chdir(cwd)
        for example in examples:
            run_example(example, cwd, capfd)


def test_the_runner_fails_an_example_that_fails(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for line in ("llmsim play no-such-run", "llmsim info traces/x.parquet", "make demo",
                 "llmsim list | sort-by-magic", "python -c 'raise SystemExit(3)'"):  # fmt: skip
        with pytest.raises(AssertionError):
            run_example(Example("test", line), tmp_path, capfd)
    assert commands("a x | b && c 'd e' # note") == [
        ("", ["a", "x"]), ("|", ["b"]), ("&&", ["c", "d e"]),
    ]  # fmt: skip
