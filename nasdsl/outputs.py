"""Writing outputs: never over an input spec or a special file, always atomically.

Every file nasdsl writes goes to a temporary file beside the target and is renamed
into place (`os.replace`), so a crash or a failed verification never leaves half a
file, and a reader never sees one.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from nasdsl.errors import UsageError
from nasdsl.spec_files import printable, same_file


class OutputError(UsageError):
    """An output path that must not be written (reported as a usage error)."""


def check_output(output: Path, inputs: Iterable[str]) -> None:
    """Refuse to write over a spec that was read, a directory or a special file."""
    for spec in inputs:
        if same_file(output, spec):
            raise OutputError(f"-o {printable(str(output))}: refusing to write over the "
                              f"input spec {printable(spec)}")
    try:
        st = os.stat(output)
    except OSError:
        return  # absent (or unreachable: the write itself will say why)
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(f"-o {printable(str(output))}: is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(f"-o {printable(str(output))}: is not a regular file; nasdsl "
                          "replaces its outputs, so give a file path")


@contextlib.contextmanager
def temp_beside(path: Path) -> Iterator[Path]:
    """A temporary path next to `path`, removed unless it was renamed into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".",
                               prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write beside the target and rename: a crash never leaves half a file. The file
    keeps the mode of the one it replaces (a new one gets the umask's default, not
    mkstemp's 0600)."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with temp_beside(path) as tmp:
        tmp.write_bytes(payload)
        os.chmod(tmp, mode_for(path))
        os.replace(tmp, path)


def mode_for(path: Path) -> int:
    """The mode a replacing file gets: the old file's, else the umask's default."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
