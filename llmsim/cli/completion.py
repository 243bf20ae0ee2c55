"""Shell completion: `--show-completion [SHELL]`, `--install-completion [SHELL]`, and what completes.

The scripts and the protocol they speak are typer's: the script runs `llmsim` with
`_LLMSIM_COMPLETE=complete_<shell>` and the command line in the environment, and typer answers
from the options' choices and the `autocompletion` callbacks here (run names, stacks, models,
GPU types); `_LLMSIM_COMPLETE=source_<shell>` prints the script itself, which is how llmsim
gets it (`llmsim.cli.app`). Installing is llmsim's own, because a shell's start-up file is the
user's: it is only ever appended to (never rewritten, whatever its encoding), one that is not a
regular file (a FIFO, a device) is refused rather than opened, and every message is one
`llmsim:` line on stderr. The files are where typer put them, so an earlier install is found
and kept:

    bash   ~/.bash_completions/llmsim.sh, sourced from ~/.bashrc
    zsh    ~/.zfunc/_llmsim, with ~/.zfunc added to fpath in ~/.zshrc
    fish   ~/.config/fish/completions/llmsim.fish (fish loads it by itself)
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from llmsim.errors import PROG, InputError, UsageError

COMPLETE_VAR: Final = f"_{PROG.upper()}_COMPLETE"
INSTALLABLE: Final = ("bash", "zsh", "fish")
SHOWABLE: Final = (*INSTALLABLE, "powershell", "pwsh")
SHOW_OPTIONS: Final = ("--show-completion", "--print-completions")  # genact's spelling second
INSTALL_OPTION: Final = "--install-completion"


@dataclass(frozen=True)
class Target:
    """Where one shell's completion goes: the script, and the start-up file line that loads it."""

    script: str  # relative to the home folder
    rc: str | None = None
    line: str | None = None


def targets(home: Path) -> dict[str, Target]:
    """The files each installable shell uses, under `home`."""
    bash = home / ".bash_completions" / f"{PROG}.sh"
    return {
        "bash": Target(str(bash), ".bashrc", f"source '{bash}'"),
        "zsh": Target(
            str(home / ".zfunc" / f"_{PROG}"),
            ".zshrc",
            "fpath+=~/.zfunc; autoload -Uz compinit; compinit",
        ),
        "fish": Target(str(home / ".config" / "fish" / "completions" / f"{PROG}.fish")),
    }


Source = Callable[[str], str]  # shell -> its completion script


def detect_shell() -> str | None:
    """The shell llmsim was started from (its parent process), else the login shell ($SHELL)."""
    try:
        import shellingham

        name, _ = shellingham.detect_shell()
        return str(name).lower()
    except Exception:  # not detectable here (no /proc, an unusual parent): fall back
        login = os.environ.get("SHELL", "")
        return Path(login).name.lower() or None


def _shell(value: str | None, choices: Sequence[str], what: str) -> str:
    name = (value or "").strip().lower() or detect_shell()
    if name is None:
        raise UsageError(f"cannot tell which shell this is; name it: llmsim {what} bash")
    if name not in choices:
        listed = f"{', '.join(choices[:-1])} and {choices[-1]}"
        raise UsageError(
            f"cannot {what.removeprefix('--').replace('-', ' ')} for {name}: "
            f"{listed} are supported (name one: llmsim {what} bash)"
        )
    return name


def show(value: str | None, source: Source) -> str:
    """`--show-completion [SHELL]`: the script to print."""
    return source(_shell(value, SHOWABLE, SHOW_OPTIONS[0]))


def install(value: str | None, source: Source, home: Path | None = None) -> str:
    """`--install-completion [SHELL]`: write the script and load it from the start-up file;
    the line saying what was done."""
    shell = _shell(value, INSTALLABLE, INSTALL_OPTION)
    if home is None:
        try:
            home = Path.home()
        except RuntimeError:
            raise InputError("cannot find your home folder (HOME is not set)") from None
    target = targets(home)[shell]
    from llmsim.fileio import atomic_path

    path = Path(target.script)
    text = source(shell)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    with atomic_path(path, overwrite=True) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
    done = f"{shell} completion installed in {path}"
    if target.rc is not None and target.line is not None:
        _append_once(home / target.rc, target.line)
        done += f" (loaded from ~/{target.rc})"
    return f"{done}; it works in shells started from now on"


def _append_once(rc: Path, line: str) -> None:
    """Add `line` at the end of the start-up file `rc` unless it is there already.

    The file is read and extended as bytes, so one that is not UTF-8 is kept as it is; one
    that is not a regular file is refused, never opened (a FIFO would block)."""
    try:
        st = os.stat(rc)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise InputError(f"cannot read {rc}: {exc.strerror or exc}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise InputError(
            f"cannot add to {rc}: it is not a regular file; add this line yourself: {line}"
        )
    wanted = line.encode("utf-8")
    flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(rc, flags, 0o644)
    except OSError as exc:
        raise InputError(f"cannot write {rc}: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # changed since the look above
            raise InputError(f"cannot add to {rc}: it is not a regular file")
        with os.fdopen(os.dup(fd), "rb") as fh:
            present = fh.read()
        if wanted in present.splitlines():
            return
        lead = b"" if not present or present.endswith(b"\n") else b"\n"
        _write_all(fd, lead + wanted + b"\n")
    except OSError as exc:
        raise InputError(f"cannot write {rc}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def request(argv: Sequence[str]) -> tuple[str, str | None] | None:
    """(option, shell) when `argv` asks for a completion script or its installation:
    `--show-completion`, `--install-completion` or genact's `--print-completions`, first,
    with an optional SHELL (typer's options cannot take an optional value)."""
    if not argv:
        return None
    option, _, value = argv[0].partition("=")
    if option not in (*SHOW_OPTIONS, INSTALL_OPTION):
        return None
    rest = list(argv[1:])
    if not value and rest and not rest[0].startswith("-"):
        value = rest.pop(0)
    if rest:
        raise UsageError(f"{option} takes one shell name at most, not {' '.join(rest)!r}")
    return option, value or None


def answer(option: str, shell: str | None, source: Source) -> str:
    """The script, or (having installed it) the line saying where it went."""
    return install(shell, source) if option == INSTALL_OPTION else show(shell, source)


def completer(choices: Iterable[str]) -> Callable[[str], list[str]]:
    """A completion callback offering `choices` that start with what was typed."""
    options = list(choices)
    return lambda incomplete: matching(options, incomplete)


def matching(choices: Iterable[str], incomplete: str) -> list[str]:
    """The choices that start with what was typed (typer keeps only those anyway)."""
    return [c for c in choices if c.startswith(incomplete)]


def complete_runs(incomplete: str) -> list[str]:
    """Bundled run names (the shell completes file and folder names when none match)."""
    from llmsim.bundled import bundled_names

    return matching(bundled_names(), incomplete)


def complete_models(incomplete: str) -> list[str]:
    """The generator's model names, and `list`."""
    from llmsim.generator import models

    return matching([*(m.name for m in models()), "list"], incomplete)


def complete_gpu_types(incomplete: str) -> list[str]:
    """The GPU types' short names, and `list`."""
    from llmsim.generator import gpu_types

    return matching([*(g.short for g in gpu_types()), "list"], incomplete)
