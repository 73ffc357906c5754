"""Run directories: the unit of work of `nasdsl train` and of every search engine.

A run directory holds
  manifest.json        seed, versions, spec hash, command line, data split, config
  metrics.jsonl        one JSON object per line (steps, epochs, events)
  checkpoints/last.pt  newest complete training state (model, optimizer, scheduler,
                       scaler, RNG states, data position); best.pt: best validation
Every file is written beside its target and renamed (os.replace), so a kill at any
moment leaves the previous complete file, never half a one. Checkpoints load with
`weights_only=True`: they hold only tensors and plain Python values.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import shlex
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from nasdsl.errors import UsageError

MANIFEST = "manifest.json"
METRICS = "metrics.jsonl"
CHECKPOINTS = "checkpoints"


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
    """torch.load with weights_only=True; a damaged file is a RunError naming it."""
    import torch

    try:
        return torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise RunError(f"{path}: no such checkpoint") from None
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
class RunDir:
    """One run's folder. Only rank 0 writes (`writer=False` on the other ranks)."""

    def __init__(self, path: str | Path, writer: bool = True):
        self.path = Path(path)
        self.writer = writer

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS

    def checkpoint_path(self, name: str = "last") -> Path:
        return self.path / CHECKPOINTS / f"{name}.pt"

    # -- creation ------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, manifest: dict[str, Any], resume: bool = False,
               writer: bool = True) -> RunDir:
        """A new run (refuses a folder holding one) or, with resume, the existing one."""
        run = cls(path, writer)
        exists = run.manifest_path.exists()
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
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunError(f"{self.path}: not a run directory (no {MANIFEST})") from None
        except json.JSONDecodeError as exc:
            raise RunError(f"{self.manifest_path}: damaged ({exc})") from None

    def update_manifest(self, **fields: Any) -> None:
        if self.writer:
            atomic_write_json(self.manifest_path, {**self.manifest(), **fields})

    # -- metrics ---------------------------------------------------------------------------
    def log(self, record: dict[str, Any]) -> None:
        """Append one JSON line (flushed: a kill loses at most the line being written)."""
        if not self.writer:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(_finite(record), sort_keys=True) + "\n")

    def records(self) -> Iterator[dict[str, Any]]:
        """Complete lines of metrics.jsonl (a torn last line is skipped)."""
        if not self.metrics_path.exists():
            return
        for line in self.metrics_path.read_text(encoding="utf-8").splitlines():
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue

    # -- checkpoints ---------------------------------------------------------------------
    def save(self, state: dict[str, Any], name: str = "last") -> Path:
        path = self.checkpoint_path(name)
        if self.writer:
            atomic_torch_save(path, state)
        return path

    def load(self, name: str = "last") -> dict[str, Any]:
        return load_checkpoint(self.checkpoint_path(name))

    def has_checkpoint(self, name: str = "last") -> bool:
        return self.checkpoint_path(name).exists()


__all__ = ["RunDir", "RunError", "atomic_write_bytes", "atomic_write_json",
           "atomic_torch_save", "load_checkpoint", "file_hash", "versions", "rng_state",
           "set_rng_state", "seed_everything", "command_line"]
