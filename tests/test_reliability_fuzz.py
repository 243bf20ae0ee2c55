"""Fuzzed surfaces: mutants of the bundled traces, states of the fresh-run cache, signals,
shell-completion files and GIF options.

Each mutant is a bundled trace with bytes flipped in its data pages or its footer, or with its
metadata (run config or schema version) changed to a hostile value. For every mutant and every
command, with a good trace beside it in the same playlist: exit status 0 or 1, at most one line
on stderr and it names the mutant, no escape byte in any output, no temp file left, and the
good trace still plays.

Each cache state is a folder of what a user's cache may hold beside llmsim's runs (their own
traces, files and links and FIFOs under run names, temp files of ours and of others, dates in
the past and the future): pruning removes only runs and leftovers of ours, keeps the cache
within its limit, never opens what is not a file, and the runs played instead of fresh ones
are ours. Each signal case is a stop signal at a random moment of `generate`, `cast` or `play`
on a terminal: 128 + n (or 0 if it came after the end), no temp file, the terminal restored.

Deterministic: the cases come from a fixed seed, MUTANTS of each per run (LLMSIM_FUZZ_MUTANTS=500
for a deep search, LLMSIM_FUZZ_SEED for another sample).

Each completion case is a start-up file (missing, bytes that are not UTF-8, already holding
the line, a FIFO, a folder, a link, a dangling link) and a place for the script (missing, an
older script, a file where its folder goes, a FIFO): exit 0 or one error line with 1, never a
block, and the user's bytes only ever appended to, the line once. Each GIF case is a mix of
`--cols`, `--rows`, `--font-size`, `--fps`, `--theme`, `--length` and `-i`, good values and
bad: a GIF that loops, or one error line (exit 2) and no file.

More surfaces: add a case builder to `SURFACES` below with what it must hold; each becomes a
test of MUTANTS cases like these.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from playback import play_on_pty
from reliability_kit import DONE, HOSTILE_VALUES, assert_clean_lines, assert_inert, call
from synthetic import write_trace

from llmsim.bundled import find_bundled
from llmsim.errors import stop_signals
from llmsim.fresh import STALE_TMP_S, FreshOptions, FreshRuns, is_fresh_run
from llmsim.player import PlayOptions
from llmsim.player.live.control import CODES, Op
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


# --- states of the fresh-run cache ----------------------------------------------------------------

NOW = time.time()
DATES = {"old": NOW - 3 * STALE_TMP_S, "recent": NOW - 5.0, "future": NOW + 10 * 365 * 86400}


def _entry(folder: Path, i: int, rng: random.Random, good: Path) -> tuple[str, bool]:
    """One random thing in a cache folder: (its name, whether pruning may remove it)."""
    kind = rng.choice(
        ["user", "ours", "ours", "junk", "link", "fifo", "folder", "dangling", "tmp", "tmp"]
    )
    seed = 1000 + i
    models = rng.choice(["mix", "real", "invented", "all", "mix-0123abcd"])
    run = f"fresh-{seed}-{models}.parquet"
    date = DATES[rng.choice(sorted(DATES))]
    if kind == "user":
        name = rng.choice([f"mine-{i}.parquet", f"fresh-{seed}.parquet", run.upper()])
        (folder / name).write_bytes(good.read_bytes())  # an llmsim trace, but not named ours
        removable = False
    elif kind == "ours":
        name, removable = run, True
        write_trace(folder / name, seed=seed)
    elif kind == "junk":  # our name, not our run: another seed inside, or no trace at all
        name, removable = run, False
        (folder / name).write_bytes(rng.choice([good.read_bytes(), b"PAR1 junk", b""]))
    elif kind == "link":
        name, removable = run, False
        (folder / name).symlink_to(good)
    elif kind == "fifo":
        name, removable = run, False
        os.mkfifo(folder / name)
    elif kind == "folder":
        name, removable = run, False
        (folder / name).mkdir()
    elif kind == "dangling":
        name, removable = run, False
        (folder / name).symlink_to(folder / "nothing-here")
    else:
        name = f".{run}.{rng.choice(['abcd1234', 'x_y_z_0w', 'QQQQQQQQ'])}.tmp"
        body = rng.choice([b"", b"PAR1\x15", b"notes of someone"])
        if rng.random() < 0.3:
            name = f".notes-{i}.tmp"  # not the name of a temp file of ours
        (folder / name).write_bytes(body)
        ours = not name.startswith(".notes-")  # the atomic writer's name for a run of ours
        removable = ours and body in (b"", b"PAR1\x15") and date != DATES["recent"]
    if not (folder / name).is_fifo():
        os.utime(folder / name, (date, date), follow_symlinks=False)
    return name, removable


def cache_states(count: int, seed: int) -> list[int]:
    """Seeds of `count` random cache states (each state is built from its seed)."""
    rng = random.Random(seed ^ 0xCAC4E)
    return [rng.randrange(2**32) for _ in range(count)]


def _snapshot(folder: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    for name in os.listdir(folder):
        path = folder / name
        if path.is_symlink():
            out[name] = ("link", os.readlink(path))
        elif path.is_file() and not path.is_fifo():
            out[name] = path.read_bytes()
        else:
            out[name] = "special"
    return out


@pytest.mark.parametrize("state", cache_states(MUTANTS, SEED))
def test_a_cache_state_loses_only_what_llmsim_made(state: int, good: Path, tmp_path: Path) -> None:
    rng = random.Random(state)
    folder = tmp_path / "runs"
    folder.mkdir()
    entries = [_entry(folder, i, rng, good) for i in range(rng.randint(3, 12))]
    keep = write_trace(folder / "fresh-1-mix.parquet", seed=1)  # the run just made
    before = _snapshot(folder)
    limit = rng.randint(3, 6)
    fresh = FreshRuns.__new__(FreshRuns)
    fresh.folder, fresh.options, fresh._report = folder, FreshOptions(limit=limit), print
    fresh._fallback_runs = [good]
    fresh._prune(keep=keep)
    after = _snapshot(folder)
    removable = {name for name, may in entries if may}
    for name, value in before.items():
        if name not in removable:
            assert after.get(name) == value, (state, name)  # untouched, byte for byte
    leftovers = {name for name in removable if name.startswith(".")}
    assert not leftovers & set(after), state  # a killed generator's temp files are gone
    ours = [n for n in after if is_fresh_run(folder / n)]
    assert keep.name in ours and len(ours) <= limit - 1, (state, ours)
    said: list[str] = []
    fresh._report = said.append
    fresh._give_up("a test")  # the runs played instead: the fallback, then only ours
    played = [next(fresh._replay) for _ in range(len(ours) + 1)]  # type: ignore[arg-type]
    assert played[0] == good and sorted(p.name for p in played[1:]) == sorted(ours)
    assert len(said) == 1


# --- stop signals at random moments ----------------------------------------------------------------

# SIGALRM is left out in-process: pytest-timeout's handler has it (real processes get it in
# test_reliability_data_loss and test_reliability_terminal).
SIGNALS = [s for s in stop_signals() if s != signal.SIGALRM]


def signal_cases(count: int, seed: int) -> list[tuple[str, int, int]]:
    """(command, signal, after how many frames or row groups), deterministic."""
    rng = random.Random(seed ^ 0x516)
    commands = ("generate", "cast", "play")
    most = {"generate": 3, "cast": 60, "play": 60}  # row groups written, frames shown
    return [
        (command, rng.choice(SIGNALS), rng.randint(1, most[command]))
        for command in (commands[i % 3] for i in range(count))
    ]


@pytest.mark.parametrize(("command", "sig", "after"), signal_cases(MUTANTS, SEED))
def test_a_stop_signal_at_any_moment(
    command: str, sig: int, after: int, good: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    status_of_stop = 128 + sig
    if command == "play":
        frames = [0]

        def on_frame(at: float, late: float) -> None:
            frames[0] += 1
            if frames[0] == after:
                signal.raise_signal(sig)

        options = PlayOptions(once=True, speed=50)
        status, data = play_on_pty([good], options, on_frame=on_frame)
        assert status in (0, status_of_stop), (sig, after)
        tail = data[-40:].decode("utf-8", "replace")
        assert tail.endswith(CODES[Op.SHOW_CURSOR]) and CODES[Op.RESET] in tail, (sig, after)
        return
    from llmsim.player.sinks.cast import CastSink
    from llmsim.trace.writer import TraceWriter

    cls, name = (TraceWriter, "write") if command == "generate" else (CastSink, "show")
    real = getattr(cls, name)
    calls = [0]

    def hooked(self: object, *args: object) -> Any:
        calls[0] += 1
        if calls[0] == after:
            signal.raise_signal(sig)
        return real(self, *args)

    monkeypatch.setattr(cls, name, hooked)
    out = tmp_path / ("run.parquet" if command == "generate" else "run.cast")
    small = ["--duration", "2m", "--model", "Llama-3.2-1B", "--gpus", "8"]
    argv = ["generate", "-o", str(out), "--seed", "1", *small]
    if command == "cast":
        argv = ["cast", str(good), "-o", str(out)]
    status, _, err = call(argv)
    assert (status, err) in ((0, ""), (status_of_stop, "")), (sig, after, err)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ([out.name] if status == 0 else []), (sig, after, left)


# ---------------------------------------------------------------- shell-completion files

# What a start-up file (~/.bashrc, ~/.zshrc) or the folder of a completion script may be.
RC_STATES = ("missing", "empty", "bytes", "has the line", "fifo", "folder", "dangling", "link")
SCRIPT_STATES = ("missing", "old script", "file for folder", "fifo for script")


def completion_cases(count: int, seed: int) -> list[tuple[str, str, str, int]]:
    """(shell, start-up file state, script state, content seed) cases."""
    rng = random.Random(seed ^ 0xC0)
    return [
        (
            ("bash", "zsh", "fish")[i % 3],
            rng.choice(RC_STATES),
            rng.choice(SCRIPT_STATES),
            rng.randrange(1 << 30),
        )
        for i in range(count)
    ]


def _make_rc(home: Path, shell: str, state: str, content: bytes) -> Path | None:
    """The start-up file in `state`; the regular file it is (or links to), if any."""
    rc = home / (".zshrc" if shell == "zsh" else ".bashrc")
    if state == "missing":
        return None
    if state == "fifo":
        os.mkfifo(rc)
        return None
    if state == "folder":
        rc.mkdir()
        return None
    if state == "dangling":
        rc.symlink_to(home / "nowhere")
        return None
    target = rc
    if state == "link":
        target = home / "dotfiles-rc"
        rc.symlink_to(target)
    target.write_bytes(b"" if state == "empty" else content)
    return target


def _make_script_place(home: Path, shell: str, state: str) -> None:
    script = {
        "bash": home / ".bash_completions" / "llmsim.sh",
        "zsh": home / ".zfunc" / "_llmsim",
        "fish": home / ".config" / "fish" / "completions" / "llmsim.fish",
    }[shell]
    if state == "missing":
        return
    if state == "file for folder":
        script.parent.parent.mkdir(parents=True, exist_ok=True)
        script.parent.write_bytes(b"not a folder\n")
        return
    script.parent.mkdir(parents=True, exist_ok=True)
    if state == "fifo for script":
        os.mkfifo(script)
    else:
        script.write_bytes(b"# an older llmsim completion script\n")


@pytest.mark.parametrize(
    ("shell", "rc_state", "script_state", "content_seed"), completion_cases(MUTANTS, SEED)
)
def test_installing_completion_keeps_the_users_files(
    shell: str,
    rc_state: str,
    script_state: str,
    content_seed: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever the start-up file and the script's place hold: 0 or one error line (exit 1),
    never a block on a FIFO, and the user's bytes kept: only ever appended to, the line once."""
    rng = random.Random(content_seed)
    line = (
        f"source '{tmp_path}/.bash_completions/llmsim.sh'"
        if shell == "bash"
        else "fpath+=~/.zfunc; autoload -Uz compinit; compinit"
    ).encode()
    mine = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    if rc_state == "has the line":
        mine = mine + b"\n" + line + b"\n"
    rc_file = _make_rc(tmp_path, shell, rc_state, mine) if shell != "fish" else None
    before = rc_file.read_bytes() if rc_file is not None else None
    _make_script_place(tmp_path, shell, script_state)
    monkeypatch.setenv("HOME", str(tmp_path))
    status, _out, err = call(["--install-completion", shell], cwd=tmp_path)
    case = (shell, rc_state, script_state)
    assert status in (0, 1), (case, status, err)
    assert_clean_lines(err)
    assert (err == "") == (status == 0), (case, err)
    assert len(err.splitlines()) <= 1, (case, err)
    if rc_file is not None and before is not None:
        after = rc_file.read_bytes()
        assert after.startswith(before), case  # appended to, never rewritten
        if status == 0:
            assert after.count(line) == max(1, before.count(line)), case
        else:
            assert after == before, case
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name], case


# ---------------------------------------------------------------- GIF options

# Each option: left out (None) or good values, then bad ones.
GIF_GOOD: dict[str, list[str | None]] = {
    "--cols": [None, "20", "40", "2"],
    "--rows": [None, "8", "12", "1"],
    "--font-size": [None, "6", "14", "72"],
    "--fps": [None, "1", "12", "50"],
    "--theme": [None, "dracula", "github-light", "solarized-dark"],
    "--length": ["1s", "2s", "3"],
    "-i": [None, "0.5", "0.1"],
}
GIF_BAD: dict[str, list[str]] = {
    "--cols": ["0", "-1", "100000", "x", "1e3"],
    "--rows": ["0", "-5", "50000", "nan"],
    "--font-size": ["5", "73", "1e9", "x"],
    "--fps": ["0", "51", "-3", "inf"],
    "--theme": ["bogus", "\x1b[31mred", ""],
    "--length": ["0", "-1s", "1e400s", "nan"],
    "-i": ["0", "-1", "nan", "1e400"],
}


def gif_cases(count: int, seed: int) -> list[tuple[tuple[str, str], ...]]:
    """Option sets for `cast -o x.gif`: each option left out or given a value, mostly good (a
    third of the sets are all good and make a GIF), sometimes bad."""
    rng = random.Random(seed ^ 0x61F)
    cases = []
    for _ in range(count):
        picked = (
            (name, rng.choice(GIF_BAD[name] if rng.random() < 0.15 else good))
            for name, good in GIF_GOOD.items()
        )
        cases.append(tuple((name, value) for name, value in picked if value is not None))
    return cases


@pytest.mark.parametrize("options", gif_cases(MUTANTS, SEED))
def test_gif_options_make_a_looping_gif_or_one_line(
    options: tuple[tuple[str, str], ...], synthetic_trace: Path, tmp_path: Path
) -> None:
    """Any mix of the GIF options: a GIF that loops (exit 0) or one error line and no file."""
    from gifinfo import read_gif

    out = tmp_path / "x.gif"
    argv = ["cast", str(synthetic_trace), "-o", str(out)]
    for name, value in options:
        argv += [f"{name}={value}"]
    status, stdout, err = call(argv, cwd=tmp_path)
    assert stdout == "", (options, stdout)
    assert status in (0, 2), (options, status, err)
    assert_clean_lines(err)
    if status == 0:
        assert read_gif(out.read_bytes()).loops == 0, options
        assert sorted(p.name for p in tmp_path.iterdir()) == ["x.gif"], options
    else:
        assert len(err.splitlines()) == 1, (options, err)
        assert list(tmp_path.iterdir()) == [], options


# Builders of cases for the fuzzed surfaces: name -> (count, seed) -> cases.
SURFACES: dict[str, Callable[[int, int], list[Any]]] = {
    "trace mutants": mutants,
    "cache states": cache_states,
    "stop signals": signal_cases,
    "completion files": completion_cases,
    "GIF options": gif_cases,
}
