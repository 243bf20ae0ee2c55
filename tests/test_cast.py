"""`llmsim cast`: casts read by the real asciinema, equal to what play writes, HTML in chromium."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pyte
import pytest
from browser import Browser

from llmsim.player.clock import Clock
from llmsim.player.options import PlayOptions
from llmsim.player.play import play

LLMSIM = [sys.executable, "-m", "llmsim"]
ASCIINEMA = shutil.which("asciinema") or str(Path(sys.executable).with_name("asciinema"))


def _cast(*args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run([*LLMSIM, "cast", *args], capture_output=True, timeout=300, check=False)
    if check:
        assert proc.returncode == 0, proc.stderr.decode()
    return proc


def _events(path: Path) -> tuple[dict[str, object], list[list[object]]]:
    lines = path.read_text("utf-8").splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]


def _output(events: list[list[object]]) -> str:
    return "".join(str(e[2]) for e in events if e[1] == "o")


@pytest.fixture(scope="module")
def v2_cast(tmp_path_factory: pytest.TempPathFactory, synthetic_trace: Path) -> Path:
    out = tmp_path_factory.mktemp("cast") / "run.cast"
    _cast(str(synthetic_trace), "-o", str(out), "--cols", "100", "--rows", "30")
    return out


def test_v2_header_markers_and_times(v2_cast: Path) -> None:
    header, events = _events(v2_cast)
    assert header["version"] == 2 and header["width"] == 100 and header["height"] == 30
    times = [float(e[0]) for e in events]  # type: ignore[arg-type]
    assert times == sorted(times) and times[0] == 0.0
    markers = [e[2] for e in events if e[1] == "m"]
    for label in ("Initialization", "Training", "Validation", "Export", "Summary"):
        assert label in markers


def test_asciinema_cat_prints_exactly_the_output(v2_cast: Path) -> None:
    _, events = _events(v2_cast)
    proc = subprocess.run(
        [ASCIINEMA, "cat", str(v2_cast)], capture_output=True, timeout=60, check=True
    )
    assert proc.stdout.decode("utf-8") == _output(events)


def test_cast_equals_what_play_writes_to_a_terminal(v2_cast: Path, synthetic_trace: Path) -> None:
    """Same trace, same size, a clock that never falls behind: identical bytes."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    received = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            received.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    now = [0.0]

    def fake_sleep(seconds: float) -> bool:
        now[0] += seconds
        return False

    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.ONLCR  # compare the bytes play wrote, not the tty's translation
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    options = PlayOptions(once=True, timestamps="trace", color="always", ascii=False)
    status = play([synthetic_trace], options, fd=slave, clock=Clock(lambda: now[0], fake_sleep))
    os.close(slave)
    reader.join(timeout=30)
    os.close(master)
    assert status == 0
    _, events = _events(v2_cast)
    assert received.decode("utf-8") == _output(events)


def test_asciinema_play_runs_to_the_end(v2_cast: Path) -> None:
    proc = subprocess.run(
        ["script", "-qfec", f"{ASCIINEMA} play -s 1000 -i 0.01 {v2_cast}", "/dev/null"],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Training completed successfully!" in proc.stdout.decode("utf-8", "replace")


def test_pyte_shows_the_summary_box_at_the_end(v2_cast: Path) -> None:
    header, events = _events(v2_cast)
    screen = pyte.Screen(int(header["width"]), int(header["height"]))  # type: ignore[call-overload]
    stream = pyte.Stream(screen)
    stream.feed(_output(events))
    text = "\n".join(screen.display)
    assert "Training completed successfully!" in text
    assert "Final loss" in text and "Total size" in text
    assert not screen.cursor.hidden


def test_v3_has_term_and_intervals(tmp_path: Path, synthetic_trace: Path, v2_cast: Path) -> None:
    out = tmp_path / "run3.cast"
    _cast(str(synthetic_trace), "-o", str(out), "--cols", "100", "--rows", "30", "--format", "v3")
    header, events = _events(out)
    assert header["version"] == 3
    assert header["term"] == {"cols": 100, "rows": 30, "type": "xterm-256color"}
    intervals = [float(e[0]) for e in events]  # type: ignore[arg-type]
    assert min(intervals) >= 0
    _, v2_events = _events(v2_cast)
    absolute = [float(e[0]) for e in v2_events]  # type: ignore[arg-type]
    running = 0.0
    for interval, expected in zip(intervals, absolute, strict=True):
        running += interval
        assert abs(running - expected) < 1e-3
    assert _output(events) == _output(v2_events)


def test_same_trace_same_bytes(tmp_path: Path, synthetic_trace: Path, v2_cast: Path) -> None:
    again = tmp_path / "again.cast"
    _cast(str(synthetic_trace), "-o", str(again), "--cols", "100", "--rows", "30")
    assert again.read_bytes() == v2_cast.read_bytes()


def test_stdout_and_several_traces(synthetic_trace: Path) -> None:
    proc = _cast(
        str(synthetic_trace), str(synthetic_trace), "-o", "-", "--cols", "80", "--rows", "24"
    )
    lines = proc.stdout.decode("utf-8").splitlines()
    assert json.loads(lines[0])["width"] == 80
    out = "".join(json.loads(line)[2] for line in lines[1:] if json.loads(line)[1] == "o")
    assert out.count("Training completed successfully!") == 2
    assert "Starting new training run..." in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cols", "5"], "--cols"),
        (["--rows", "0"], "--rows"),
        (["--speed", "0"], "--speed"),
        (["--speed", "nan"], "--speed"),
        (["--format", "v4"], "--format"),
        (["--idle-time-limit", "-1"], "--idle-time-limit"),
    ],
)
def test_bad_options(tmp_path: Path, synthetic_trace: Path, args: list[str], message: str) -> None:
    out = tmp_path / "x.cast"
    proc = _cast(str(synthetic_trace), "-o", str(out), *args, check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and message in err and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []


def test_unknown_extension_and_unwritable(tmp_path: Path, synthetic_trace: Path) -> None:
    proc = _cast(str(synthetic_trace), "-o", str(tmp_path / "x.txt"), check=False)
    assert proc.returncode == 2 and ".cast or .html" in proc.stderr.decode()
    missing = tmp_path / "no" / "such" / "dir" / "x.cast"
    proc = _cast(str(synthetic_trace), "-o", str(missing), check=False)
    assert proc.returncode == 1 and proc.stderr.decode().count("\n") == 1
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(0o500)
    try:
        proc = _cast(str(synthetic_trace), "-o", str(readonly / "x.cast"), check=False)
        if os.geteuid() != 0:  # root writes anyway; the missing-folder case covers root
            assert proc.returncode == 1
            assert list(readonly.iterdir()) == []
    finally:
        readonly.chmod(0o700)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ro"]


def test_existing_output_needs_force(tmp_path: Path, synthetic_trace: Path) -> None:
    out = tmp_path / "x.cast"
    out.write_text("precious")
    proc = _cast(str(synthetic_trace), "-o", str(out), check=False)
    assert proc.returncode == 1 and "exists" in proc.stderr.decode()
    assert out.read_text() == "precious"
    _cast(str(synthetic_trace), "-o", str(out), "--force")
    assert out.read_text().startswith('{"version": 2')


def test_bad_trace_is_an_error_without_output(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    out = tmp_path / "x.cast"
    proc = _cast(str(bad), "-o", str(out), check=False)
    assert proc.returncode == 1 and proc.stderr.decode().strip().count("\n") <= 1
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.parquet"]


def test_html_page_plays_to_the_end_in_chromium(tmp_path: Path, synthetic_trace: Path) -> None:
    page = tmp_path / "run.html"
    _cast(str(synthetic_trace), "-o", str(page), "--cols", "100", "--rows", "30", "--speed", "40")
    html = page.read_text("utf-8")
    # Self-contained: no external script, stylesheet or image for the browser to fetch.
    assert not re.search(r"<(script|link|img)\b[^>]*\b(src|href)=", html)
    header, events = _events_from_text(html)
    duration = float(events[-1][0])  # type: ignore[arg-type]
    with Browser(tmp_path / "profile") as browser:
        browser.open(page.as_uri())
        # The player draws the terminal as .ap-line elements; wait for the final frame.
        screen = (
            "Array.from(document.querySelectorAll('.ap-line')).map(e => e.textContent).join('\\n')"
        )
        text = browser.wait_for(
            f"(() => {{ const t = {screen}; return t.includes('Training completed') ? t : ''; }})()",
            timeout=duration + 60,
        )
        assert text, browser.evaluate(screen)
        assert "Training completed successfully!" in text
        assert "Final loss" in text and header["width"] == 100


def _events_from_text(html: str) -> tuple[dict[str, object], list[list[object]]]:
    """The cast embedded in the page (a JSON string literal assigned to `cast`)."""
    literal = re.search(r"var cast = (.*?);\n", html)
    assert literal
    lines = json.loads(literal.group(1)).splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
