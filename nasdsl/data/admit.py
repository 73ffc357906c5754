"""Admitting the files a dataset names, as spec files are admitted (nasdsl/spec_files.py).

A dataset, a folder of scans or an MHD header comes from someone else, so every file it
names must (1) resolve, through every symlink and `..`, to a place inside the folder the
user handed over (the dataset root; for a loose image, its own folder), and (2) be a
regular file of bounded size. Both are decided from metadata before a byte is read; the
file is then opened non-blocking and `fstat`-ed to catch a swap in between, so a FIFO,
/dev/zero, a device or /etc/passwd is refused without reading from it or blocking.

The image libraries (nibabel, SimpleITK, Pillow, tifffile) open the admitted path again
themselves: a file replaced between our check and their open is outside what this
guards (someone who can write into the dataset while nasdsl reads it).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from nasdsl.data.errors import DataError
from nasdsl.data.limits import MAX_JSON_BYTES, max_file_bytes
from nasdsl.spec_files import printable

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)


def _real(path: str | Path) -> Path:
    try:
        return Path(os.path.realpath(path))
    except (OSError, ValueError):
        raise DataError(path, "cannot be resolved") from None


def inside(root: str | Path, path: str | Path) -> Path:
    """The real path of `path`, which must lie inside the real path of `root` (the
    dataset folder, or the folder a loose image or model came in)."""
    real_root, real = _real(root), _real(path)
    if real != real_root and real_root not in real.parents:
        shown = "" if str(real) == os.path.abspath(path) else \
            f" (it resolves to {printable(str(real))})"
        raise DataError(path, f"is outside the folder {printable(str(root))}{shown}; "
                              "nasdsl reads only files inside the folder it is given")
    return real


def admit_dir(path: str | Path, root: str | Path) -> Path:
    real = inside(root, path)
    if not real.is_dir():
        raise DataError(path, "is not a folder")
    return real


def admit_file(path: str | Path, root: str | Path, limit: int | None = None) -> Path:
    """Check `path` is a regular file inside `root` of at most `limit` bytes (default
    NASDSL_MAX_FILE_BYTES); returns its real path. Raises DataError naming the file."""
    real = inside(root, path)
    limit = max_file_bytes() if limit is None else limit
    st = _stat(path)
    _check(path, st, limit)
    fd = _open(path)
    try:
        again = os.fstat(fd)
    finally:
        os.close(fd)
    _check(path, again, limit)
    if (again.st_dev, again.st_ino) != (st.st_dev, st.st_ino):
        raise DataError(path, "changed while it was being checked")
    return real


def read_bytes(path: str | Path, root: str | Path, limit: int) -> bytes:
    """The bytes of an admitted file of at most `limit` bytes, read from the checked fd."""
    inside(root, path)
    fd = _open(path)
    try:
        _check(path, os.fstat(fd), limit)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise DataError(path, f"cannot read ({exc.strerror or type(exc).__name__})") from None
    finally:
        os.close(fd)
    if size > limit:  # /proc-like files report size 0
        raise DataError(path, f"is too large (at most {limit:,} bytes)")
    return b"".join(chunks)


def read_head(path: str | Path, root: str | Path, n: int) -> bytes:
    """At most the first `n` bytes of an admitted regular file (of any size)."""
    inside(root, path)
    fd = _open(path)
    try:
        _check(path, os.fstat(fd), max_file_bytes())
        return os.read(fd, n)
    except OSError as exc:
        raise DataError(path, f"cannot read ({exc.strerror or type(exc).__name__})") from None
    finally:
        os.close(fd)


def read_json(path: str | Path, root: str | Path, what: str = "JSON file",
              limit: int = MAX_JSON_BYTES, nonfinite: bool = False) -> Any:
    """A JSON document from an admitted file. NaN/Infinity (not JSON) are refused, or with
    `nonfinite` read as floats for a schema to refuse by field name."""
    raw = read_bytes(path, root, limit)
    try:
        return json.loads(raw.decode("utf-8"),
                          parse_constant=float if nonfinite else _no_constant)
    except UnicodeDecodeError:
        raise DataError(path, f"unreadable {what} (not UTF-8 text)") from None
    except json.JSONDecodeError as err:
        raise DataError(path, f"unreadable {what} (line {err.lineno} column {err.colno}: "
                              f"{err.msg})") from None
    except ValueError as err:
        raise DataError(path, f"unreadable {what} ({err})") from None
    except RecursionError:
        raise DataError(path, f"unreadable {what} (nested too deeply)") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _stat(path: str | Path) -> os.stat_result:
    try:
        return os.stat(path)
    except FileNotFoundError:
        raise DataError(path, "no such file") from None
    except PermissionError:
        raise DataError(path, "permission denied") from None
    except (OSError, ValueError) as exc:
        raise DataError(path, f"cannot read ({getattr(exc, 'strerror', None) or exc})") from None


def _open(path: str | Path) -> int:
    try:
        return os.open(path, _FLAGS)
    except OSError as exc:
        raise DataError(path, f"cannot read ({exc.strerror or type(exc).__name__})") from None


def _check(path: str | Path, st: os.stat_result, limit: int) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise DataError(path, "is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise DataError(path, "is not a regular file (a device, FIFO or socket); nasdsl "
                              "reads data from regular files only")
    if st.st_size > limit:
        knob = ", NASDSL_MAX_FILE_BYTES" if limit == max_file_bytes() else ""
        raise DataError(path, f"is too large ({st.st_size:,} bytes; at most {limit:,}{knob})")


__all__ = ["inside", "admit_file", "admit_dir", "read_bytes", "read_head", "read_json"]
