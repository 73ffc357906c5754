"""Writing outputs: never over an input spec or a special file, always atomically.

Every file nasdsl writes goes to a temporary file beside the target and is renamed
into place (`os.replace`), so a crash or a failed verification never leaves half a
file, and a reader never sees one. Folders nasdsl writes whole (the built-in datasets)
are built beside their target and swapped in the same way, and carry a mark
(`.nasdsl-made`): a folder without it is the user's and is never replaced.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Iterator

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


# ---- folders nasdsl makes whole (datasets) -----------------------------------------------
MADE_MARK = ".nasdsl-made"   # inside a folder nasdsl wrote whole: it may replace that folder


def made_by_nasdsl(folder: Path) -> bool:
    mark = Path(folder) / MADE_MARK
    return not Path(folder).is_symlink() and mark.is_file() and not mark.is_symlink()


def check_fresh_dir(target: Path, option: str = "--out",
                    hint: str = "choose a new folder, or remove this one yourself") -> None:
    """Refuse a folder nasdsl would replace but did not write: it may hold a user's data."""
    target = Path(target)
    where = f"{option} {printable(str(target))}" if option else printable(str(target))
    if target.is_symlink():
        raise OutputError(f"{where}: is a symbolic link; nasdsl replaces the folders it "
                          "writes, so give a real path")
    if not target.exists():
        return
    if not target.is_dir():
        raise OutputError(f"{where}: exists and is not a folder")
    if any(target.iterdir()) and not made_by_nasdsl(target):
        raise OutputError(f"{where}: exists, is not empty and was not written by nasdsl; "
                          f"refusing to replace it ({hint})")


def write_dir_atomic(target: Path, build: Callable[[Path], object], what: str,
                     option: str = "--out", hint: str | None = None) -> None:
    """Build a folder beside `target`, mark it as nasdsl's, and swap it in: a crash
    leaves the old folder or the new one, never a mix; a folder nasdsl did not write is
    never replaced (check_fresh_dir)."""
    target = Path(target)
    if hint is None:
        check_fresh_dir(target, option)
    else:
        check_fresh_dir(target, option, hint)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    old: Path | None = None
    try:
        build(work)
        (work / MADE_MARK).write_text(f"{what}, written whole by nasdsl; nasdsl may replace "
                                      "this folder\n", encoding="utf-8")
        if target.exists():
            old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.",
                                        suffix=".old"))
            os.replace(target, old / "replaced")  # rename: the old folder leaves whole
        os.replace(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        if old is not None and (old / "replaced").exists() and not target.exists():
            os.replace(old / "replaced", target)   # put the old folder back
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def check_output_dir(out_dir: Path, inputs: Iterable[str | Path], option: str = "--out") -> None:
    """An output folder must not be where the inputs live: outputs named after their
    inputs (segmentations) would replace them."""
    out = Path(out_dir)
    for item in map(Path, inputs):
        home = item if item.is_dir() else item.parent
        inside = item.is_dir() and _within(out, item)
        if same_file(out, home) or inside:
            raise OutputError(f"{option} {printable(str(out))}: holds the input "
                              f"{printable(str(item))}; outputs are named after their "
                              "inputs and would replace them, so choose another folder")


def _within(path: Path, folder: Path) -> bool:
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(folder))
        return True
    except ValueError:
        return False


def check_output_outside(output: Path, folder: str | Path, what: str,
                         option: str = "-o") -> None:
    """An output file must not land inside an input folder (a dataset, a prediction
    folder): it could replace one of its files (dataset.json, a scan)."""
    out = Path(output)
    if _within(out.parent if not out.exists() else out, Path(folder)):
        raise OutputError(f"{option} {printable(str(out))}: is inside {what} "
                          f"{printable(str(folder))}; nasdsl does not write into its "
                          "inputs, so choose a path outside it")
    check_output(out, [])


def check_pipeline_folder(out: Path, data: str | None,
                          records: tuple[str, ...] = ("stages.json", "plan.json")) -> None:
    """`nasdsl run --out`: a new or empty folder, one of nasdsl's own runs (it holds the
    stage record), or a folder holding only `data/` (the user's dataset, used with --data
    or refused by write_dir_atomic); never a dataset, never another folder of the user's,
    whose files the run would replace."""
    out = Path(out)
    if data is not None and (_within(out, Path(data))):
        raise OutputError(f"--out {printable(str(out))}: is inside the dataset "
                          f"{printable(str(data))}; choose a run folder outside it")
    if not out.is_dir() or any((out / r).is_file() for r in records):
        return
    others = sorted(p.name for p in out.iterdir() if p.name != "data")
    if others:
        shown = ", ".join(printable(n) for n in others[:5]) + (", ..." if len(others) > 5
                                                                  else "")
        raise OutputError(f"--out {printable(str(out))}: holds files nasdsl did not write "
                          f"({shown}) and is not a nasdsl run folder (no {records[0]}); a "
                          "run would replace its files, so choose a new or empty folder")
