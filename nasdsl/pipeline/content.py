"""Content identities of a pipeline's inputs and outputs: what a stage fingerprint covers.

A stage is reused only when what it read is the same *content* as last time, not the
same path: a dataset whose label maps were rewritten, an edited spec or a retrained
checkpoint reruns the stages that read them. Files are hashed (sha256) once; the hash is
kept in RUN/file_hashes.json keyed by (size, mtime_ns, inode), as git's index does, so a
second run re-reads only files that changed. Only regular files are read (a FIFO or a
device named by a hostile dataset is refused by the dataset reader before this, and
skipped here rather than opened).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any, Iterable

from nasdsl.outputs import write_atomic

CACHE = "file_hashes.json"
_CHUNK = 1 << 20


class HashCache:
    """sha256 of files, remembered by (size, mtime_ns, inode) across runs."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / CACHE
        self.entries: dict[str, list[Any]] = {}
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                self.entries = {k: v for k, v in loaded.items()
                                if isinstance(v, list) and len(v) == 4}
        except (OSError, ValueError):
            pass  # no cache or an unreadable one: every file is hashed again
        self.dirty = False

    def file_id(self, path: Path) -> str:
        """`sha256:<hex16>` of a regular file, `missing` or `not-a-file:<kind>`."""
        try:
            st = os.stat(path)
        except OSError:
            return "missing"
        if not stat.S_ISREG(st.st_mode):
            return f"not-a-file:{stat.S_IFMT(st.st_mode):o}"
        key = str(Path(path).resolve())
        stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
        known = self.entries.get(key)
        if known is not None and known[:3] == stamp:
            return known[3]
        digest = "sha256:" + _sha256(path)[:16]
        self.entries[key] = stamp + [digest]
        self.dirty = True
        return digest

    def files_id(self, paths: Iterable[Path]) -> str:
        h = hashlib.sha256()
        for p in paths:
            h.update(f"{p}\0{self.file_id(p)}\n".encode())
        return h.hexdigest()[:16]

    def save(self) -> None:
        if self.dirty and self.path.parent.is_dir():
            write_atomic(self.path, json.dumps(self.entries, sort_keys=True) + "\n")
            self.dirty = False


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def dataset_id(data_dir: str | Path, cache: HashCache) -> str:
    """Content of every file the dataset's index names (images, labels, test cases and
    the index file itself), in the index's order, with their paths inside the root."""
    from nasdsl.data import load_dataset

    index = load_dataset(str(data_dir))
    root = Path(index.root)
    files: list[Path] = [index.source] if index.source is not None else []
    for case in tuple(index.cases) + tuple(index.test_cases):
        files += list(case.images) + ([case.label] if case.label is not None else [])
    return cache.files_id(_relative(root, f) for f in files) + ":" + \
        cache.files_id(files)


def _relative(root: Path, path: Path) -> Path:
    try:
        return Path(path).relative_to(root)
    except ValueError:
        return Path(path)


def spec_id(compiled: Any) -> str:
    """The spec's own text and, for a genotype, the space text it names."""
    h = hashlib.sha256()
    h.update(compiled.unit.span.file.text.encode())
    h.update(compiled.space_unit.span.file.text.encode())
    return h.hexdigest()[:16]


__all__ = ["HashCache", "dataset_id", "spec_id"]
