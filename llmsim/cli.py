"""The `llmsim` command line: generate, play, cast, info. Thin: parse, call, report.

Errors from any command reach one place (`main`) and become one line on stderr and a
non-zero exit status: 2 for bad usage, 1 for bad input or a failed write; Ctrl-C, SIGHUP and
SIGTERM end quietly with 130, 129 and 143 (a file being written is removed first).
Heavy modules (numpy, pyarrow, the player) are imported inside the commands that need them,
so `llmsim --help` and the first frame of `llmsim play` start fast.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Annotated, NoReturn

import typer

# typer >= 0.24 vendors click as typer._click, older ones use click itself: find the
# exception classes through a public typer name instead of importing either.
_CLICK_ERRORS = {c.__name__: c for c in typer.BadParameter.__mro__}
_UsageError: type[Exception] = _CLICK_ERRORS["UsageError"]
_ClickException: type[Exception] = _CLICK_ERRORS["ClickException"]

app = typer.Typer(
    name="llmsim",
    help="Make a terminal look like a large language model is training on a GPU cluster.\n\n"
    "Examples:\n\n"
    "  llmsim play                      # play the bundled runs, forever\n\n"
    "  llmsim generate -o runs --count 3 --seed 7\n\n"
    "  llmsim cast -o demo.cast --cols 120 --rows 36\n\n"
    "  llmsim info runs/*.parquet",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class UsageProblem(Exception):
    """A bad option value found after parsing; reported like a click usage error (exit 2)."""


class Terminated(BaseException):
    """SIGTERM or SIGHUP while a file is written: unwinds like Ctrl-C, so temp files go.

    A BaseException, so no `except Exception` swallows it, and not a KeyboardInterrupt,
    which typer would turn into exit status 130.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    for sig in (signal.SIGTERM, signal.SIGHUP):  # the clean-up must not be cut short again
        signal.signal(sig, signal.SIG_IGN)
    raise Terminated(signum)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """While writing files, SIGTERM and SIGHUP raise Terminated instead of killing at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, _raise_terminated) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def _duration(value: str | None, option: str) -> float | None:
    from llmsim.units import parse_duration

    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise UsageProblem(f"{option}: {exc}") from None


@app.command()
def generate(
    output: Annotated[
        Path,
        typer.Option(
            "-o", "--output", help="Folder for the traces (or a .parquet file with --count 1)."
        ),
    ] = Path("llmsim-traces"),
    count: Annotated[
        int, typer.Option("--count", "-n", min=1, max=1000, help="How many runs.")
    ] = 1,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the first run (the next get seed+1, …).")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Model name from the catalogue (see `--model list`).")
    ] = None,
    gpus: Annotated[
        int | None, typer.Option(help="GPU count: 1, 2, 4, or 8 per node up to 4096.")
    ] = None,
    gpu_type: Annotated[
        str | None, typer.Option("--gpu-type", help="GPU type, e.g. H100 or A100.")
    ] = None,
    kind: Annotated[str | None, typer.Option(help="pretrain or finetune.")] = None,
    epochs: Annotated[int | None, typer.Option(min=1, max=1000)] = None,
    steps_per_epoch: Annotated[int | None, typer.Option("--steps-per-epoch", min=1)] = None,
    duration: Annotated[
        str | None, typer.Option(help="Target simulated length: 20m, 1h, 900s.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", "-f", help="Overwrite existing traces.")
    ] = False,
) -> None:
    """Precompute training runs into Parquet traces.

    Example: llmsim generate -o runs --count 3 --seed 7 --model Llama-3-8B --gpus 64
    """
    if kind is not None and kind not in ("pretrain", "finetune"):
        raise UsageProblem(f"--kind must be pretrain or finetune, not {kind!r}")
    seconds = _duration(duration, "--duration")
    single_file = output.suffix == ".parquet"
    if single_file and count != 1:
        raise UsageProblem("-o names one .parquet file; use a folder with --count > 1")
    from llmsim.generator import MODEL_NAMES, GenerateOptions, build_config, write_trace

    if model is not None and model.lower() == "list":
        typer.echo("\n".join(MODEL_NAMES))
        return

    configs = []
    for i in range(count):
        opts = GenerateOptions(
            seed=None if seed is None else seed + i,
            model=model,
            gpus=gpus,
            gpu_type=gpu_type,
            kind=kind,  # type: ignore[arg-type]
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            duration=seconds,
        )
        configs.append(build_config(opts))
    targets = [output if single_file else output / f"{c.name}.parquet" for c in configs]
    if not force:
        for target in targets:
            if target.exists():
                raise _InputProblem(f"{target} exists (use --force to overwrite)")
    for config, target in zip(configs, targets, strict=True):
        with _terminate_as_interrupt():
            rows = write_trace(config, target, overwrite=force)
        size = target.stat().st_size
        typer.echo(
            f"wrote {target}  ({config.model}, {config.kind}, {config.gpus} x {config.gpu_short}, "
            f"{config.total_steps:,} steps, {rows:,} rows, {size / 1e6:.1f} MB)"
        )


class _InputProblem(Exception):
    """Bad input found by the CLI itself (exit 1)."""


@app.command()
def play(
    traces: Annotated[
        list[Path] | None, typer.Argument(help="Trace files or folders (default: bundled runs).")
    ] = None,
    speed: Annotated[float, typer.Option(help="Playback speed factor (2 = twice as fast).")] = 1.0,
    once: Annotated[bool, typer.Option("--once", help="Play each trace once, then exit.")] = False,
    shuffle: Annotated[
        bool, typer.Option("--shuffle", help="New random order every cycle.")
    ] = False,
    exit_after: Annotated[
        str | None, typer.Option("--exit-after", help="Stop after this wall time: 10m, 1h.")
    ] = None,
    color: Annotated[
        str, typer.Option(help="auto, always or never (NO_COLOR is honoured).")
    ] = "auto",
    timestamps: Annotated[
        str, typer.Option(help="wall: clock of now; trace: the run's own recorded start time.")
    ] = "wall",
) -> None:
    """Stream traces to the terminal with their original timing, looping forever.

    Example: llmsim play --speed 10 --exit-after 5m
    """
    if not (speed > 0 and speed <= 1e6):
        raise UsageProblem(f"--speed must be > 0 and <= 1e6, not {speed:g}")
    if color not in ("auto", "always", "never"):
        raise UsageProblem(f"--color must be auto, always or never, not {color!r}")
    if timestamps not in ("wall", "trace"):
        raise UsageProblem(f"--timestamps must be wall or trace, not {timestamps!r}")
    from llmsim.player.play import PlayOptions
    from llmsim.player.play import play as run_play

    options = PlayOptions(
        speed=speed,
        once=once,
        shuffle=shuffle,
        exit_after=_duration(exit_after, "--exit-after"),
        color=color,  # type: ignore[arg-type]
        timestamps=timestamps,  # type: ignore[arg-type]
    )
    status = run_play(list(traces or []), options)
    if status:
        raise typer.Exit(status)


@app.command()
def cast(
    traces: Annotated[
        list[Path] | None, typer.Argument(help="Trace files or folders (default: bundled runs).")
    ] = None,
    output: Annotated[
        str, typer.Option("-o", "--output", help="OUT.cast, OUT.html, or - for stdout.")
    ] = "",
    cols: Annotated[int, typer.Option(help="Terminal width of the recording.")] = 120,
    rows: Annotated[int, typer.Option(help="Terminal height of the recording.")] = 36,
    speed: Annotated[float, typer.Option(help="Speed factor applied to the trace times.")] = 1.0,
    fmt: Annotated[str, typer.Option("--format", help="asciicast v2 (default) or v3.")] = "v2",
    idle_time_limit: Annotated[
        float | None, typer.Option("--idle-time-limit", help="Cap pauses at this many seconds.")
    ] = None,
    title: Annotated[str | None, typer.Option(help="Title stored in the cast header.")] = None,
    force: Annotated[
        bool, typer.Option("--force", "-f", help="Overwrite an existing file.")
    ] = False,
) -> None:
    """Export traces as an asciinema cast or a self-contained HTML player page.

    Example: llmsim cast -o demo.cast --cols 120 --rows 36 && asciinema play demo.cast
    """
    if not output:
        raise UsageProblem("-o/--output is required: OUT.cast, OUT.html or -")
    if output != "-" and Path(output).suffix not in (".cast", ".html"):
        raise UsageProblem(f"-o must end in .cast or .html (or be -), not {output!r}")
    if not 20 <= cols <= 1000:
        raise UsageProblem(f"--cols must be between 20 and 1000, not {cols}")
    if not 5 <= rows <= 500:
        raise UsageProblem(f"--rows must be between 5 and 500, not {rows}")
    if not (speed > 0 and speed <= 1e6):
        raise UsageProblem(f"--speed must be > 0 and <= 1e6, not {speed:g}")
    if fmt not in ("v2", "v3"):
        raise UsageProblem(f"--format must be v2 or v3, not {fmt!r}")
    if idle_time_limit is not None and not idle_time_limit > 0:
        raise UsageProblem("--idle-time-limit must be > 0")
    from llmsim.player.cast import CastOptions, export_cast

    options = CastOptions(
        cols=cols,
        rows=rows,
        speed=speed,
        version=3 if fmt == "v3" else 2,
        idle_time_limit=idle_time_limit,
        title=title,
        overwrite=force,
    )
    try:
        with _terminate_as_interrupt():
            export_cast(list(traces or []), output, options)
    except BrokenPipeError:  # `-o - | head`: stop quietly, as play does (typer would say 1)
        _quiet_pipe()
        raise typer.Exit(141) from None


@app.command()
def info(
    trace: Annotated[Path, typer.Argument(help="A trace file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON.")] = False,
) -> None:
    """Show a trace's config, phase timings, steps, final loss, summary and a loss sparkline.

    Example: llmsim info traces/llama-3-8b-sft.parquet --json
    """
    import json

    from llmsim.info import describe, to_text

    data = describe(trace)
    typer.echo(json.dumps(data, indent=2, sort_keys=True) if as_json else to_text(data))


def _fail(message: str, status: int) -> NoReturn:
    # One line, and inert: a file name from the user's disk may hold escape sequences.
    text = "".join(ch if ch.isprintable() else "?" for ch in " ".join(message.split()))
    try:
        sys.stderr.write(f"llmsim: error: {text}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    raise SystemExit(status)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run the app and map every error to one line and a status."""
    from llmsim.errors import LlmsimError
    from llmsim.trace.errors import TraceError

    try:
        result = app(args=argv, prog_name="llmsim", standalone_mode=False)
    except _UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            sys.stdout.write(exc.format_message().rstrip() + "\n")  # type: ignore[attr-defined]
            return 0
        ctx = getattr(exc, "ctx", None)
        cmd = ctx.command_path if ctx is not None else "llmsim"
        _fail(f"{exc.format_message()} (see '{cmd} --help')", 2)  # type: ignore[attr-defined]
    except _ClickException as exc:
        _fail(exc.format_message(), 1)  # type: ignore[attr-defined]
    except UsageProblem as exc:
        _fail(str(exc), 2)
    except LlmsimError as exc:
        _fail(str(exc), exc.status)
    except (TraceError, _InputProblem) as exc:
        _fail(str(exc), 1)
    except ValueError as exc:  # GeneratorError and friends: a bad option value
        _fail(str(exc), 2)
    except Terminated as exc:  # quiet, like Ctrl-C (130) and `play`'s own stop signals
        return 128 + exc.signum
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except BrokenPipeError:
        _quiet_pipe()
        return 0
    except OSError as exc:
        _fail(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""), 1)
    except Exception as exc:  # a bug of ours: still one line, the traceback on request
        if os.environ.get("LLMSIM_DEBUG"):
            raise
        _fail(
            f"internal error: {type(exc).__name__}: {exc} (LLMSIM_DEBUG=1 shows the traceback)", 70
        )
    if isinstance(result, int):
        return result
    return 0


def _quiet_pipe() -> None:
    # stdout's reader went away: point stdout at /dev/null so the interpreter's final flush
    # does not raise a second BrokenPipeError while exiting.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
