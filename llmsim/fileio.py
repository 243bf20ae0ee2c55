"""The one atomic-file writer: traces, casts, HTML pages and GIFs all go through `atomic_path`.

A file is written under a hidden temp name beside its target and given its final name only
when complete, so a failure, Ctrl-C or a kill never leaves a half-written file under the name
the user asked for, and an existing file is never replaced unless the user said so (--force).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from llmsim.errors import InputError, os_reason

EXISTS = "{path} exists (use --force to overwrite)"


def exists_error(path: Path | str) -> InputError:
    """The one wording of "this file is there already"."""
    return InputError(EXISTS.format(path=path))


def check_target(target: Path, *, overwrite: bool) -> None:
    """Refuse a target that exists (unless `overwrite`) or that is not a regular file."""
    try:
        st = target.stat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise InputError(f"cannot write {target}: {reason(exc)}") from None
    if not stat.S_ISREG(st.st_mode):
        what = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise InputError(f"cannot write {target}: it is {what}")
    if not overwrite:
        raise exists_error(target)


def temp_prefix(target: Path) -> str:
    """`.NAME.` for the temp file of `target`, NAME shortened so that the temp name (the prefix,
    8 random characters and `.tmp`) is no longer than the longest name the folder takes: a
    name of 242 to 255 bytes is a good name for an output, and its temp file must be too."""
    room = _name_max(target.parent) - len(TEMP_EXTRA)
    name = target.name
    while len(os.fsencode(name)) > room and name:
        name = name[:-1]  # by characters, so that a multi-byte one is never cut in half
    return f".{name}."


TEMP_EXTRA = "..XXXXXXXX.tmp"  # what the temp name adds to the target's: 14 bytes


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # no such folder yet, no pathconf (Windows)
        return 255


def umask() -> int:
    """The process umask (read without changing it for longer than a moment)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: Path, *, overwrite: bool = False, mkdir: bool = False) -> Iterator[Path]:
    """Yield a temp path beside `target`; publish it as `target` if the block ends cleanly.

    InputError (one line naming the file) when the folder cannot be written, the target
    exists without `overwrite`, or the final rename fails. The temp file is removed on any
    exception, KeyboardInterrupt and SystemExit included.
    """
    target = Path(target)
    check_target(target, overwrite=overwrite)
    directory = target.parent
    try:
        if mkdir:
            directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=temp_prefix(target), suffix=".tmp", dir=directory)
        os.close(fd)
        # mkstemp makes the file 0600; outputs are shareable data files: honour the umask.
        os.chmod(name, 0o666 & ~umask())
    except OSError as exc:
        raise InputError(f"cannot write {target}: {reason(exc)}") from None
    tmp = Path(name)
    try:
        yield tmp
        publish(tmp, target, overwrite=overwrite)
    except OSError as exc:
        raise InputError(f"cannot write {target}: {reason(exc)}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def publish(tmp: Path, target: Path, *, overwrite: bool) -> None:
    """Give a finished temp file its final name in one step; never replace a file unless asked.

    Without `overwrite` the file is hard-linked to the final name, which fails if that name
    exists (even if it appeared after the caller's check), then the temp name is dropped. File
    systems without hard links fall back to a checked rename.
    """
    if overwrite:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise exists_error(target) from None
    except OSError:  # no hard links here (FAT, some network file systems)
        if os.path.lexists(target):
            raise exists_error(target) from None
        os.replace(tmp, target)
        return
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def reason(exc: BaseException) -> str:
    """The OS's words for a failed write ("No space left on device"), on one short line."""
    return os_reason(exc, writing=True)
