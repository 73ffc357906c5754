"""Run directories: the unit of work of `nasdsl train` and of every search engine.

A run directory holds
  manifest.json        seed, versions, spec paths and hashes, command line, data split,
                       config, and the fingerprint of
  network.json         the run's network: embedded spec text, typed -D values, genotype
                       hash (nasdsl.artifact); every later stage rebuilds from this
  metrics.jsonl        one JSON object per line (steps, epochs, events)
  checkpoints/last.pt  newest complete training state (model, optimizer, scheduler,
                       scaler, RNG states, data position); best.pt: best validation
Every file is written beside its target and renamed (os.replace), so a kill at any
moment leaves the previous complete file, never half a one. Checkpoints load with
`weights_only=True`: they hold only tensors and plain Python values.

A run directory may come from someone else, so nothing in it is followed out of it: a
symbolic link anywhere below the run folder (manifest.json, metrics.jsonl, checkpoints/,
cache/, a checkpoint) is refused before it is read or written, files are opened with
O_NOFOLLOW, reads are bounded, and the manifest is checked against its schema
(nasdsl.manifests) before a field is used. The run folder itself may be a link: the user
named it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import platform
import random
import shlex
import stat
import sys
import tempfile
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from nasdsl.errors import UsageError

MANIFEST = "manifest.json"
NETWORK = "network.json"
METRICS = "metrics.jsonl"
CHECKPOINTS = "checkpoints"
CACHE = "cache"
MAX_MANIFEST_BYTES = 16 << 20       # a manifest holds a split and a plan: kilobytes
MAX_METRICS_BYTES = 512 << 20       # one line per step
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class RunError(UsageError):
    """A run directory that cannot be used (exists without --resume, missing, corrupt)."""


# ---- atomic writes -----------------------------------------------------------------------
def _atomic(path: Path, write: Callable[[Any], None]) -> None:
    """Write beside the target, fsync, rename: readers see the old or the new file.
    The new file keeps the replaced one's mode (nasdsl.outputs.mode_for)."""
    from nasdsl.outputs import mode_for

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode_for(path))
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    _atomic(path, lambda f: f.write(data))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def atomic_torch_save(path: Path, obj: Any) -> None:
    import torch

    _atomic(path, lambda f: torch.save(obj, f))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """torch.load with weights_only=True from a regular file opened without following a
    link; a damaged file is a RunError naming it (never torch's advice to retry with
    weights_only=False)."""
    import torch

    try:
        f = open_regular(Path(path), os.O_RDONLY)
    except FileNotFoundError:
        raise RunError(f"{path}: no such checkpoint") from None
    try:
        with f, warnings.catch_warnings():
            warnings.simplefilter("ignore")   # torch's pickle-protocol advice is not ours
            return torch.load(f, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise RunError(f"{path}: not a readable nasdsl checkpoint ({_load_reason(exc)}); "
                       "nasdsl loads only tensors and plain values from a checkpoint and "
                       "never runs code from one") from None


def _load_reason(exc: Exception) -> str:
    """torch's reason without its advice to retry with weights_only=False (which would
    run whatever code the file holds: the one thing nasdsl must never suggest)."""
    import re

    from nasdsl.safe_text import for_terminal, strip_ansi

    text = strip_ansi(str(exc))
    found = re.search(r"WeightsUnpickler error:\s*(.*?)\s*(?:Please use|Check the "
                      r"documentation|$)", text, re.S)
    if found and found.group(1).strip():
        reason = found.group(1)
    elif "weights_only" in text:
        reason = "it holds objects other than tensors and plain values"
    else:
        reason = text
    reason = " ".join(reason.split())
    return for_terminal(reason[:200] + ("..." if len(reason) > 200 else ""))


def open_regular(path: Path, flags: int, mode: int = 0o666):
    """Open a run file without following a link; refuse anything but a regular file."""
    try:
        fd = os.open(path, flags | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0), mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RunError(f"{path}: is a symbolic link; nasdsl does not follow links in a "
                           "run directory") from None
        if isinstance(exc, FileNotFoundError):
            raise
        raise RunError(f"{path}: cannot open ({exc.strerror})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise RunError(f"{path}: is not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb" if (flags & os.O_ACCMODE) == os.O_RDONLY else "ab")


def read_bounded(path: Path, limit: int) -> bytes:
    with open_regular(path, os.O_RDONLY) as f:
        if os.fstat(f.fileno()).st_size > limit:
            raise RunError(f"{path}: larger than {limit >> 20} MiB; not a file nasdsl wrote")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise RunError(f"{path}: larger than {limit >> 20} MiB; not a file nasdsl wrote")
    return data


# ---- provenance ----------------------------------------------------------------------------
def file_hash(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def versions() -> dict[str, str | None]:
    from nasdsl import __version__

    out: dict[str, str | None] = {"nasdsl": __version__, "python": platform.python_version()}
    try:
        import torch

        out["torch"] = torch.__version__
        out["cuda"] = torch.version.cuda
    except ImportError:  # pragma: no cover - the backends need torch
        out["torch"] = None
    try:
        import monai

        out["monai"] = monai.__version__
    except ImportError:
        out["monai"] = None
    return out


def command_line() -> str:
    return shlex.join(sys.argv)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ---- RNG state (all plain tensors/ints so that weights_only loads it) -------------------
def rng_state() -> dict[str, Any]:
    import numpy as np
    import torch

    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)),
                  "pos": int(pos), "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "python": _python_state_plain(random.getstate()),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import numpy as np
    import torch

    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["gauss"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _python_state_plain(state: tuple) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _finite(value: Any) -> Any:
    """NaN/Inf -> None: metrics.jsonl stays strict JSON."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


# ---- the directory -----------------------------------------------------------------------
def is_run_dir(path: str | Path) -> bool:
    """Whether `path` holds a run (its manifest; a link or special file there counts, so
    that the run's own checks refuse it instead of it being taken for something else)."""
    return os.path.lexists(Path(path) / MANIFEST)


class RunDir:
    """One run's folder. Only rank 0 writes (`writer=False` on the other ranks)."""

    def __init__(self, path: str | Path, writer: bool = True):
        self.path = Path(path)
        self.writer = writer

    @property
    def manifest_path(self) -> Path:
        return self.inside(MANIFEST)

    @property
    def metrics_path(self) -> Path:
        return self.inside(METRICS)

    def checkpoint_path(self, name: str = "last") -> Path:
        return self.inside(CHECKPOINTS, f"{name}.pt")

    def subdir(self, name: str) -> Path:
        """A folder of the run (e.g. cache/), refused when it or its contents' parent is a
        link: its files would be written wherever the link points."""
        return self.inside(name)

    def inside(self, *parts: str) -> Path:
        """RUN/parts..., with every component below RUN checked not to be a link."""
        path = self.path
        for part in parts:
            path = path / part
            if path.is_symlink():
                raise RunError(f"{path}: is a symbolic link; nasdsl does not follow links "
                               "in a run directory (they could lead its reads and writes "
                               "outside it)")
        return path

    # -- creation ------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, manifest: dict[str, Any], resume: bool = False,
               writer: bool = True) -> RunDir:
        """A new run (refuses a folder holding one) or, with resume, the existing one."""
        run = cls(path, writer)
        run.check_layout()
        exists = run.manifest_path.exists() or run.manifest_path.is_symlink()
        if resume:
            if not exists:
                raise RunError(f"{run.path}: no run to resume (no {MANIFEST})")
            return run
        if exists:
            raise RunError(f"{run.path}: already holds a run; pass --resume to continue it "
                           "or choose another --out")
        if writer:
            run.path.mkdir(parents=True, exist_ok=True)
            record = {"created": now(), "command": command_line(), "versions": versions(),
                      **manifest}
            atomic_write_json(run.manifest_path, record)
        return run

    def manifest(self) -> dict[str, Any]:
        """The manifest, checked against its schema (a ManifestError names the field)."""
        from nasdsl.manifests import validate_manifest

        self.check_layout()   # a reader refuses links before it writes anything back
        return validate_manifest(self.raw_manifest(), str(self.manifest_path))

    def raw_manifest(self) -> dict[str, Any]:
        """The manifest as a JSON object, not checked further: for the fields that only
        name files to protect (export's output check), never for values that are used."""
        path = self.manifest_path
        try:
            raw = read_bounded(path, MAX_MANIFEST_BYTES)
        except FileNotFoundError:
            raise RunError(f"{self.path}: not a run directory (no {MANIFEST})") from None
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise RunError(f"{path}: damaged (not JSON: {str(exc)[:200]})") from None
        if not isinstance(value, dict):
            raise RunError(f"{path}: damaged (not a JSON object)")
        return value

    def update_manifest(self, **fields: Any) -> None:
        if self.writer:
            atomic_write_json(self.manifest_path, {**self.raw_manifest(), **fields})

    # -- metrics ---------------------------------------------------------------------------
    def log(self, record: dict[str, Any]) -> None:
        """Append one JSON line (flushed: a kill loses at most the line being written)."""
        if not self.writer:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(_finite(record), sort_keys=True) + "\n").encode("utf-8")
        with open_regular(self.metrics_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT) as f:
            f.write(line)

    def records(self) -> Iterator[dict[str, Any]]:
        """Complete lines of metrics.jsonl that hold JSON objects (a torn last line, or
        anything else, is skipped)."""
        try:
            raw = read_bounded(self.metrics_path, MAX_METRICS_BYTES)
        except FileNotFoundError:
            return
        for line in raw.decode("utf-8", errors="replace").splitlines():
            try:
                value = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                continue
            if isinstance(value, dict):
                yield value

    # -- checkpoints ---------------------------------------------------------------------
    def save(self, state: dict[str, Any], name: str = "last") -> Path:
        path = self.checkpoint_path(name)   # refuses a linked checkpoints/
        if self.writer:
            atomic_torch_save(path, state)
        return path

    def load(self, name: str = "last") -> dict[str, Any]:
        return load_checkpoint(self.checkpoint_path(name))

    def has_checkpoint(self, name: str = "last") -> bool:
        path = self.checkpoint_path(name)
        return path.exists() or path.is_symlink()   # a link is there, and load refuses it

    def check_layout(self) -> None:
        """Refuse links where nasdsl reads or writes before any work starts."""
        for parts in ((MANIFEST,), (NETWORK,), (METRICS,), (CHECKPOINTS,), (CACHE,)):
            self.inside(*parts)
        folder = self.path / CHECKPOINTS
        if folder.is_dir():
            for entry in folder.iterdir():
                self.inside(CHECKPOINTS, entry.name)


__all__ = ["RunDir", "RunError", "is_run_dir", "open_regular", "read_bounded", "atomic_write_bytes", "atomic_write_json",
           "atomic_torch_save", "load_checkpoint", "file_hash", "versions", "rng_state",
           "set_rng_state", "seed_everything", "command_line"]
