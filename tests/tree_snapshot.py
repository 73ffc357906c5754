"""A snapshot of a folder tree (every file's kind, mode and content hash, every link's
target), to show that a command changed nothing outside its output."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path


def snapshot(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, tuple]:
    """relative path -> (kind, mode, sha256 or link target); `skip`: output folders."""
    root = Path(root)
    skipped = {os.path.abspath(s) for s in skip}
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in list(dirnames):
            if os.path.abspath(os.path.join(dirpath, name)) in skipped:
                dirnames.remove(name)
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            if os.path.abspath(path) in skipped:
                continue
            st = os.lstat(path)
            rel = os.path.relpath(path, root)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                out[rel] = ("file", stat.S_IMODE(st.st_mode),
                            hashlib.sha256(Path(path).read_bytes()).hexdigest())
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir",)
            else:
                out[rel] = ("special", stat.S_IFMT(st.st_mode))
    return out


def changes(before: dict[str, tuple], after: dict[str, tuple]) -> list[str]:
    """What differs: added, removed or changed paths."""
    keys = sorted(set(before) | set(after))
    return [f"{'added' if k not in before else 'removed' if k not in after else 'changed'}"
            f" {k}" for k in keys if before.get(k) != after.get(k)]
