"""Helpers of the reliability tests: the real CLI in-process or as processes, hostile text, bad
traces, and the checks every class of defect shares.

Every case of docs/reliability.md is proven by a test in tests/test_reliability_*.py; this
module holds what they share: how to run `llmsim` (in-process through `llmsim.cli.main` with
fd-level capture, as one process, as several at once, on a pty, as an unprivileged user), the
hostile strings, builders for each kind of broken trace, and the checks that output holds no
control character the player did not emit and that every error is one line naming its file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import pty
import re
import select
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import termios
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from synthetic import build_rows, config, write_trace

from llmsim.cli import main
from llmsim.player.live.control import CODES
from llmsim.trace import TraceWriter, make_table
from llmsim.trace.schema import COLUMNS, META_CONFIG, META_VERSION, SCHEMA

REPO = Path(__file__).resolve().parent.parent
LLMSIM = [sys.executable, "-m", "llmsim"]
DONE = "Training completed successfully!"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]  # root can't bypass
# The stop signals besides SIGINT, SIGTERM, SIGHUP and SIGQUIT (llmsim.errors.stop_signals),
# with the status each ends a command with: issue 23's SIGUSR1, SIGUSR2, SIGALRM, SIGXCPU,
# SIGVTALRM and SIGPWR, and SIGPROF and a real-time signal. In-process, SIGALRM belongs to
# pytest-timeout: tests in this process leave it out.
MORE_STOPS: list[tuple[int, int]] = [
    (sig, 128 + sig)
    for sig in (
        signal.SIGUSR1,
        signal.SIGUSR2,
        signal.SIGALRM,
        signal.SIGXCPU,
        signal.SIGVTALRM,
        signal.SIGPROF,
        signal.SIGPWR,
        signal.SIGRTMIN + 2,
    )
]


@contextlib.contextmanager
def reachable_by_nobody() -> Iterator[None]:
    """Let NOBODY run this interpreter and import llmsim from this checkout: a checkout in a
    private folder (`mktemp -d` makes one 0700) blocks other users at the folder. Adds only the
    search bit, only where it is missing, and puts every mode back afterwards."""
    added: list[tuple[Path, int]] = []
    folders = {*Path(sys.executable).parents, *REPO.parents, REPO}
    try:
        for folder in sorted(folders, key=lambda p: len(p.parts)):
            mode = folder.stat().st_mode
            if not mode & stat.S_IXOTH:
                folder.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
                added.append((folder, stat.S_IMODE(mode)))
        yield
    finally:
        for folder, mode in reversed(added):
            folder.chmod(mode)


# Everything a terminal could act on, as log text: CSI, OSC (title, clipboard, hyperlink), DCS,
# SOS/PM/APC, 8-bit C1 controls, bidi overrides and isolates, NUL and friends, line separators,
# and for the HTML page a script break-out. None of it may reach a terminal or a cast raw.
HOSTILE = (
    "A\x1b[2JB\x1b[H\x1bc"  # clear screen, home, full reset (RIS)
    "\x1b]0;PWNED-TITLE\x07\x1b]2;PWNED2\x1b\\"  # OSC window title, BEL- and ST-terminated
    "\x1b]52;c;cHduZWQ=\x07"  # OSC 52: write the clipboard
    "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"  # OSC 8 hyperlink
    "\x1bP+q544e\x1b\\\x1bPq#0;2;0;0;0\x1b\\"  # DCS: XTGETTCAP, sixel
    "\x1bXsos\x1b\\\x1b^pm\x1b\\\x1b_apc\x1b\\"  # SOS, PM, APC strings
    "\x9b31mC1CSI\x9d0;C1-TITLE\x9c\x90dcs\x9c\x85NEL"  # 8-bit C1 controls
    "\u202eRTL-override\u202c\u2066isolate\u2069\u200fmark\u200bzw\ufeffbom"
    "\x00NUL\x07BEL\x08BS\x7fDEL\rCR\nLF\tTAB\x0bVT\x0cFF\u2028LS\u2029PS"
    "\x1b[?25l\x1b[1000;1H\x1b[6n\x1b[?1049h\x1b[?1000h"  # hide cursor, jump, DSR, alt screen, mouse
    "</script><!--<script>alert(1)</script>"  # HTML page break-out attempt
)
UNICODE_TEXT = "naïve café 日本語 ✓ → ≈ 😀 e\u0301"  # harmless, but not ASCII
# Short hostile values for metadata, names and arguments (each under the config's 1,000).
HOSTILE_VALUES = (
    "\x1b]0;PWNED\x07",
    "\x1b[2J\x1b[41m",
    "\x9b31m\x9d2;X\x9c",
    "a\nb\rc",
    "\u202eevil\u2066",
    "\x00\x7f\x08",
    "</script><!--",
    "²",
    "9" * 400,
    "",
)


def env(**extra: str) -> dict[str, str]:
    """The test process's environment without colour/debug switches, UTF-8 unless overridden."""
    out = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NO_COLOR", "LLMSIM_DEBUG", "LLMSIM_PLAYER_TIMING", "PYTHONUTF8")
        and not k.startswith("LC_")
    }
    out.update({"LANG": "C.UTF-8", "PYTHONWARNINGS": "default", "TERM": "xterm-256color"})
    out.update(extra)
    return out


def run(*args: str, timeout: float = 60, **extra_env: str) -> subprocess.CompletedProcess[bytes]:
    """`python -m llmsim ARGS` as a process: the real entry point, bytes out."""
    return subprocess.run(
        [*LLMSIM, *args], capture_output=True, timeout=timeout, env=env(**extra_env), check=False
    )


def run_all(
    commands: Sequence[Sequence[str]],
    timeout: float = 60,
    envs: Sequence[dict[str, str]] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> list[subprocess.CompletedProcess[bytes]]:
    """Several programs at once (each argv as given; `envs`: one environment each), their
    results in order."""
    started = [
        subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=envs[i] if envs is not None else env(),
            preexec_fn=preexec_fn,
        )
        for i, argv in enumerate(commands)
    ]
    done = []
    for proc in started:
        out, err = proc.communicate(timeout=timeout)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out or b"", err))
    return done


def call(
    argv: Sequence[str], cwd: Path | None = None, closed: Sequence[int] = ()
) -> tuple[int, str, str]:
    """`llmsim ARGV` in this process: (status, stdout, stderr), captured at the fd level (the
    player writes to fd 1 itself) and at the sys level (pytest's own streams replace those).

    `closed`: standard fds (0, 1, 2) closed for the call, as a shell's `<&-`, `>&-`, `2>&-`
    leave them, with sys.stdin/stdout/stderr None as Python sets them then.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    old_cwd = os.getcwd()
    streams = sys.stdin, sys.stdout, sys.stderr
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        saved = [os.dup(fd) for fd in (0, 1, 2)]
        texts = [open(f.fileno(), "w", encoding="utf-8", closefd=False) for f in (out, err)]  # noqa: SIM115
        for fd, target in ((1, out), (2, err)):
            os.dup2(target.fileno(), fd)
        for fd in closed:
            os.close(fd)
        sys.stdin = None if 0 in closed else sys.stdin
        sys.stdout = None if 1 in closed else texts[0]
        sys.stderr = None if 2 in closed else texts[1]
        if cwd is not None:
            os.chdir(cwd)
        try:
            status = main(list(argv))
            for text in texts:
                text.flush()
        finally:
            os.chdir(old_cwd)
            sys.stdin, sys.stdout, sys.stderr = streams
            for fd, copy in enumerate(saved):
                os.dup2(copy, fd)
                os.close(copy)
        out.seek(0)
        err.seek(0)
        return status, out.read().decode("utf-8"), err.read().decode("utf-8")


class Pty:
    """`llmsim ARGS` on a pty of its own (stdout and stderr), in a process group of its own
    (so that Ctrl-Z really stops it) and with ONLCR off (the bytes are what it wrote)."""

    def __init__(self, *args: str, cols: int = 100, rows: int = 30, **extra_env: str) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.ONLCR
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        self.proc = subprocess.Popen(
            [*LLMSIM, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env(**extra_env),
            process_group=0,
        )
        os.close(slave)
        self.received = bytearray()

    def read(self, seconds: float) -> bytes:
        """What arrives within `seconds` (also kept in `received`)."""
        got = bytearray()
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([self.master], [], [], min(left, 0.05))[0]:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: every writer closed the pty
                break
            if not chunk:
                break
            got += chunk
        self.received += got
        return bytes(got)

    def read_until(self, needle: bytes, start: int = 0, timeout: float = 30) -> None:
        """Read until `needle` has arrived after byte `start` (AssertionError after `timeout`)."""
        deadline = time.monotonic() + timeout
        while needle not in self.received[start:]:
            assert time.monotonic() < deadline, f"{needle!r} never came: {self.received[-300:]!r}"
            self.read(0.05)

    def state(self) -> str:
        """The process's state letter (R, S, T for stopped, Z)."""
        return Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]

    def finish(self, timeout: float = 30) -> int:
        """Wait for the process, reading what it still writes; its status."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            assert time.monotonic() < deadline, "llmsim did not end"
            self.read(0.05)
        self.read(0.2)
        os.close(self.master)
        return self.proc.returncode

    def kill(self) -> None:
        """Make sure the process is gone (after a failed check)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(OSError):
            os.close(self.master)


@contextlib.contextmanager
def pty_run(*args: str, **kwargs: Any) -> Iterator[Pty]:
    """A Pty that is killed if the block fails."""
    p = Pty(*args, **kwargs)
    try:
        yield p
    finally:
        p.kill()


def run_in_pty(
    *args: str, cols: int = 100, rows: int = 30, timeout: float = 60, **extra_env: str
) -> tuple[int, bytes]:
    """`llmsim ARGS` on a pty of this size to its end: (status, bytes)."""
    with pty_run(*args, cols=cols, rows=rows, **extra_env) as p:
        return p.finish(timeout), bytes(p.received)


def assert_one_line_error(stderr: bytes | str, *needles: str) -> str:
    """stderr is one `llmsim: ...` line, printable, no traceback, holding every needle."""
    text = stderr.decode("utf-8") if isinstance(stderr, bytes) else stderr
    assert text.startswith("llmsim: ") and text.count("\n") == 1 and text.endswith("\n"), text
    assert "Traceback" not in text and "internal error" not in text, text
    assert text[:-1].isprintable(), repr(text)
    for needle in needles:
        assert needle in text, (needle, text)
    return text


def assert_clean_lines(stderr: bytes | str, names: Sequence[str] = ()) -> list[str]:
    """Every stderr line is one printable `llmsim: ...` line, no traceback, no internal error;
    each of `names` is named by exactly one line. The lines."""
    text = stderr.decode("utf-8") if isinstance(stderr, bytes) else stderr
    lines = text.splitlines()
    assert "Traceback" not in text and "internal error" not in text, text
    for line in lines:
        assert line.startswith("llmsim: ") and line.isprintable(), repr(line)
    for name in names:
        assert sum(name in line for line in lines) == 1, (name, lines)
    return lines


# The player's own sequences: SGR, and the cursor control of llmsim.player.live.control.
_OWN_SEQUENCES = re.compile(
    r"\x1b\[[0-9;]*m|"
    + "|".join(
        re.escape(code)
        .replace(r"\{n\}", r"\d+")
        .replace(r"\{row\}", r"\d+")
        .replace(r"\{col\}", r"\d+")
        for code in CODES.values()
        if "\x1b" in code
    )
)


def assert_inert(out: str, *, tty: bool, color: bool) -> None:
    """No control or format character in `out` except the player's own cursor/colour codes.

    Line mode without colour: no ESC and no C0 but LF at all. TTY mode: only SGR (with colour),
    the live region's cursor control (llmsim.player.live.control.CODES) and the one closing
    reset, plus CR LF.
    """
    if not tty and not color:
        assert "\x1b" not in out and "\r" not in out
    rest = _OWN_SEQUENCES.sub("", out) if tty or color else out
    if not color:
        sgr = re.findall(r"\x1b\[[0-9;]*m", out)
        assert set(sgr) <= {"\x1b[0m"} and len(sgr) <= 1, sgr[:5]  # only close()'s reset
    # A tab is a job's byte (plain lines keep them; the terminal puts them at 8-column stops):
    # it moves the cursor within its line and acts on nothing else.
    allowed = "\n\r\t" if tty else "\n\t"
    bad = [
        ch
        for ch in rest
        if ch not in allowed and unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")
    ]
    assert not bad, sorted({f"U+{ord(ch):04X}" for ch in bad})


def strict_json(text: str) -> Any:
    """json.loads that refuses NaN and Infinity (which Python's json accepts by default)."""

    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


# --- broken traces ---------------------------------------------------------------------------


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    columns = {name: [row.get(name) for row in rows] for name in COLUMNS}
    return {k: v for k, v in columns.items() if any(x is not None for x in v)}


def write_rows(path: Path, rows: list[dict[str, Any]], **config_overrides: Any) -> Path:
    """Rows (dicts) through the real TraceWriter: a file the writer accepts, the reader judges."""
    columns = _columns(rows)
    with TraceWriter(path, config(**config_overrides)) as writer:
        writer.write(make_table(len(rows), columns))
    return path


def _set(path: Path, good: Path, column: str, edit: Callable[[list[Any]], None]) -> Path:
    """Copy `good` with one column edited, values written raw (NaN stays NaN, not null)."""
    table = pq.read_table(good)
    values = table.column(column).to_pylist()
    edit(values)
    field = SCHEMA.field(column)
    index = table.schema.get_field_index(column)
    array = pa.array(values, pa.string() if pa.types.is_dictionary(field.type) else field.type)
    if pa.types.is_dictionary(field.type):
        array = array.dictionary_encode()
    pq.write_table(table.set_column(index, field, array), path)
    return path


def _first(values: list[Any]) -> int:
    return next(i for i, v in enumerate(values) if v is not None)


def with_metadata(path: Path, good: Path, meta: dict[bytes, bytes]) -> Path:
    """Copy `good` with these file metadata keys set (raw bytes)."""
    table = pq.read_table(good)
    old = dict(table.schema.metadata or {})
    pq.write_table(table.replace_schema_metadata({**old, **meta}), path)
    return path


def config_json(**changes: Any) -> bytes:
    """The synthetic run's config JSON with keys changed (or added)."""
    data = json.loads(config().to_json())
    data.update(changes)
    return json.dumps(data).encode()


def bad_traces(folder: Path) -> dict[str, tuple[Path, str]]:
    """Every kind of bad trace: name -> (path, words the error must hold). `good.parquet` too."""
    folder.mkdir(parents=True, exist_ok=True)
    good = write_trace(folder / "good.parquet")
    data = good.read_bytes()
    out: dict[str, tuple[Path, str]] = {}

    def add(name: str, path: Path, needle: str) -> None:
        out[name] = (path, needle)

    add("missing", folder / "missing.parquet", "no such file")
    (folder / "empty-folder").mkdir(exist_ok=True)
    add("empty_folder", folder / "empty-folder", "no *.parquet traces")
    (folder / "text.parquet").write_text("hello, I am not a Parquet file\n")
    add("not_parquet", folder / "text.parquet", "not a readable Parquet file")
    (folder / "truncated.parquet").write_bytes(data[: len(data) // 2])
    add("truncated", folder / "truncated.parquet", "not a readable Parquet file")
    pq.write_table(pa.table({"a": [1, 2, 3]}), folder / "foreign.parquet")
    add("foreign_schema", folder / "foreign.parquet", "not an llmsim trace")
    table = pq.read_table(good)
    pq.write_table(table.drop_columns(["loss"]), folder / "no-loss.parquet")
    add("missing_column", folder / "no-loss.parquet", "column 'loss' is missing")
    add("future_version", with_metadata(folder / "v3.parquet", good, {META_VERSION: b"3.0"}), "3.0")
    add(
        "unknown_version",
        with_metadata(folder / "vbanana.parquet", good, {META_VERSION: b"banana"}),
        "not supported",
    )
    with TraceWriter(folder / "empty.parquet", config()) as writer:
        writer.write(make_table(0, {}))
    add("empty_trace", folder / "empty.parquet", "no events")

    def unsorted(v: list[Any]) -> None:
        v[10], v[11] = v[11] + 5.0, v[10]

    add("unsorted_t", _set(folder / "unsorted.parquet", good, "t", unsorted), "not sorted")

    def negative(v: list[Any]) -> None:
        v[0] = -1.0

    add("negative_t", _set(folder / "negative.parquet", good, "t", negative), "out of range")

    def nan(v: list[Any]) -> None:
        v[_first(v)] = math.nan

    add("nan", _set(folder / "nan.parquet", good, "loss", nan), "NaN in column 'loss'")

    def inf(v: list[Any]) -> None:
        v[_first(v)] = math.inf

    add("inf", _set(folder / "inf.parquet", good, "tokens_per_s", inf), "infinite value")

    def nan_list(v: list[Any]) -> None:
        i = _first(v)
        v[i] = [math.nan] * len(v[i])

    add("nan_in_list", _set(folder / "nanlist.parquet", good, "gpu_temp", nan_list), "NaN")

    def hole(v: list[Any]) -> None:
        i = _first(v)
        v[i] = [None, *v[i][1:]]

    add("null_in_list", _set(folder / "hole.parquet", good, "gpu_util", hole), "null value")

    def absurd(v: list[Any]) -> None:
        v[_first(v)] = 1e30

    add("absurd_loss", _set(folder / "loss1e30.parquet", good, "loss", absurd), "out of range")
    add(
        "absurd_gpus",
        with_metadata(
            folder / "gpus1e6.parquet",
            good,
            {META_CONFIG: config_json(gpus=10**6, nodes=125_000, dp=500_000)},
        ),
        "beyond",
    )

    def huge(v: list[Any]) -> None:
        v[_first(v)] = "x" * 1_000_000

    add("huge_text", _set(folder / "hugetext.parquet", good, "text", huge), "over 65,536")
    add("huge_source", _set(folder / "hugesource.parquet", good, "source", huge), "'source'")
    add(
        "huge_config_string",
        with_metadata(
            folder / "hugename.parquet", good, {META_CONFIG: config_json(model="M" * 5000)}
        ),
        "'model' is over",
    )
    add(
        "huge_config",
        with_metadata(
            folder / "hugeconfig.parquet",
            good,
            {META_CONFIG: config_json(extra={"junk": ["y" * 900] * 6000})},
        ),
        "bytes of JSON",
    )
    return {"good": (good, ""), **out}


def bad_midway(path: Path, good: Path) -> Path:
    """A trace whose header and first row group are fine and whose second row group is not."""
    trace = pq.ParquetFile(good)
    table = trace.read()
    with TraceWriter(path, config()) as writer:
        first = table.slice(0, 150)
        writer.write(first.replace_schema_metadata(None))
        rest = table.slice(150)
        loss = rest.column("loss").to_pylist()
        loss[_first(loss)] = math.nan
        index = rest.schema.get_field_index("loss")
        rest = rest.set_column(index, SCHEMA.field("loss"), pa.array(loss, pa.float64()))
        writer.write(rest.replace_schema_metadata(None))
    assert pq.ParquetFile(path).num_row_groups == 2
    return path


def hostile_trace(path: Path, extra_text: str = "") -> Path:
    """The synthetic run with HOSTILE (and `extra_text`) in every text column and config name."""
    return write_trace(
        path,
        inject=HOSTILE + extra_text,
        model="Evil\x1b]0;MODEL\x07Model\u202e",
        hostnames=("node\x1b[2Ja01", "node\u202ea02\x9b"),
        gpu_short="H100\x1b[5m",
    )


def rows_for(inject: str | None = None) -> list[dict[str, Any]]:
    """The synthetic run's rows (for tests that build their own variants)."""
    return build_rows(inject)


def copy_trace(good: Path, folder: Path, name: str) -> Path:
    """A copy of `good` under `name` in `folder` (made if need be)."""
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(good, folder / name))
