"""Reading spec files safely: a spec is a regular `.nas` file of bounded size.

NOTE: every check is made on the path (suffix, then `stat`) before the file is opened,
so `/dev/zero`, a FIFO, a directory or a huge file is refused without reading a byte or
blocking; the open itself is non-blocking and re-checked with `fstat` (the path may have
changed in between). Only what passes is ever quoted in a diagnostic.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_SPEC_BYTES = 1 << 20  # 1 MiB: the largest shipped spec is ~6 KB
SPEC_SUFFIX = ".nas"


class SpecFileError(Exception):
    """A path that is not a readable spec file; the message names the path and why."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{printable(path)}: {reason}")
        self.path, self.reason = path, reason


def check_suffix(path: str) -> None:
    """Both the path as written and its final target (through symlinks) end in `.nas`."""
    if not path.endswith(SPEC_SUFFIX):
        raise SpecFileError(path, f"is not a {SPEC_SUFFIX} file")
    try:
        target = os.path.realpath(path)
    except (OSError, ValueError):
        raise SpecFileError(path, "cannot be resolved") from None
    if not target.endswith(SPEC_SUFFIX):
        raise SpecFileError(path, f"is a link to `{printable(target)}`, which is not a "
                            f"{SPEC_SUFFIX} file")


def check_spec_path(path: str) -> os.stat_result:
    """Refuse what is not a regular file of at most MAX_SPEC_BYTES, by its metadata."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise SpecFileError(path, "no such file") from None
    except NotADirectoryError:
        raise SpecFileError(path, "no such file (a parent is not a directory)") from None
    except PermissionError:
        raise SpecFileError(path, "permission denied") from None
    except (OSError, ValueError) as exc:
        raise SpecFileError(path, f"cannot read ({_reason(exc)})") from None
    _check_stat(path, st)
    return st


def _check_stat(path: str, st: os.stat_result) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise SpecFileError(path, "is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise SpecFileError(path, "is not a regular file (a device, FIFO or socket)")
    if st.st_size > MAX_SPEC_BYTES:
        raise SpecFileError(path, f"is too large ({st.st_size:,} bytes; a spec may have "
                            f"at most {MAX_SPEC_BYTES:,})")


def read_spec_bytes(path: str, require_suffix: bool = False) -> bytes:
    """The bytes of a spec file, after the path checks; raises SpecFileError."""
    if require_suffix:
        if os.path.isdir(path):  # say so, rather than "not a .nas file"
            raise SpecFileError(path, "is a directory")
        check_suffix(path)
    check_spec_path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise SpecFileError(path, f"cannot read ({_reason(exc)})") from None
    try:
        _check_stat(path, os.fstat(fd))  # the path may have been swapped since the stat
        data = _read_at_most(fd, MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecFileError(path, f"cannot read ({_reason(exc)})") from None
    finally:
        os.close(fd)
    if len(data) > MAX_SPEC_BYTES:  # e.g. /proc files report size 0
        raise SpecFileError(path, f"is too large (a spec may have at most "
                            f"{MAX_SPEC_BYTES:,} bytes)")
    return data


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(fd, min(1 << 16, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__


def printable(text: str) -> str:
    """A path for a message: control, line-breaking and bidi characters escaped."""
    return text if text.isprintable() else ascii(text)[1:-1]


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name one file (through links); False when either is missing."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return os.path.abspath(a) == os.path.abspath(b)
