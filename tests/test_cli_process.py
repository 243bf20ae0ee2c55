"""The command line as a process: the console script and `python -m llmsim` start, and a reader
that goes away ends the output quietly (status 141, nothing on stderr)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LLMSIM = str(Path(sys.executable).parent / "llmsim")


def test_console_script_and_module_both_run() -> None:
    for command in ([LLMSIM], [sys.executable, "-m", "llmsim"]):
        proc = subprocess.run(
            [*command, "list", "--stacks"], capture_output=True, text=True, timeout=60, check=False
        )
        assert proc.returncode == 0, proc.stderr
        assert "megatron" in proc.stdout and proc.stderr == ""


def test_a_closed_pipe_ends_quietly_with_141() -> None:
    proc = subprocess.Popen(
        [LLMSIM, "cast", "llama-3-8b-sft", "-o", "-"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(100).startswith(b'{"version": 2')
    proc.stdout.close()  # as `| head -c 100` does
    assert proc.wait(timeout=60) == 141
    assert proc.stderr.read() == b""
