"""Stage bookkeeping of a pipeline run directory: which stage produced what, and reuse.

`RUN/stages.json` records, per stage, its status, the fingerprint of what it was asked
to do (its settings and the content ids of what it read, plus the fingerprint and the
output content of the stage before it), the paths it owns, its outputs with their content
ids, and its wall time. A second run skips a stage whose record is `done` with the same
fingerprint and whose outputs still hold the content recorded; anything else reruns it
and every stage after it (their fingerprints chain). A rerun for changed inputs first
removes what the stage's earlier record owns (nasdsl wrote it); a stage interrupted
with the *same* fingerprint is resumed instead (`Attempt.resume`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from nasdsl.errors import UsageError
from nasdsl.outputs import write_atomic

RECORD = "stages.json"
FORMAT = 3  # bump when a stage starts recording other values: old records rerun


def fingerprint(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def write_json_atomic(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"
    write_atomic(path, text)


@dataclass
class StageResult:
    outputs: dict[str, str]                  # name -> file path relative to the run dir
    values: dict[str, Any] = field(default_factory=dict)   # numbers for the report


@dataclass
class Attempt:
    """What a stage function is told: continue an interrupted attempt or start clean."""
    resume: bool = False


class StageConflict(UsageError):
    """A path a stage writes exists but no record says nasdsl wrote it (exit 2)."""


class StageBook:
    """The run directory's stage records; `run_stage` executes or reuses one stage."""

    def __init__(self, run_dir: Path, log: Callable[[str], None] = print,
                 output_id: Callable[[Path], str] | None = None):
        self.dir = run_dir
        self.log = log
        self.path = run_dir / RECORD
        self.output_id = output_id or _file_digest
        self.records: dict[str, dict] = {}
        if self.path.exists():
            try:
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
                self.records = loaded if isinstance(loaded, dict) else {}
            except (OSError, json.JSONDecodeError):
                self.records = {}  # unreadable record: every stage reruns
        self._chain = ""

    def _outputs_id(self, outputs: dict[str, str]) -> dict[str, str]:
        return {name: self.output_id(self.dir / rel) for name, rel in sorted(outputs.items())}

    def _reusable(self, name: str, fp: str) -> bool:
        rec = self.records.get(name)
        if not isinstance(rec, dict) or rec.get("status") != "done" \
                or rec.get("fingerprint") != fp:
            return False
        outputs = rec.get("outputs", {})
        if not all((self.dir / p).exists() for p in outputs.values()):
            return False
        return rec.get("output_ids") == self._outputs_id(outputs)

    def run_stage(self, name: str, settings: dict[str, Any],
                  fn: Callable[[Attempt], StageResult],
                  owns: tuple[str, ...] = ()) -> StageResult:
        """Run (or reuse) stage `name`; `owns` are the paths (relative to the run) it
        writes, removed before a rerun for changed inputs."""
        fp = fingerprint({"settings": settings, "after": self._chain, "format": FORMAT})
        if self._reusable(name, fp):
            rec = self.records[name]
            self._chain = fingerprint([fp, rec["output_ids"]])
            self.log(f"[{name}] reused from an earlier run ({rec['seconds']:.1f} s then)")
            return StageResult(rec["outputs"], rec.get("values", {}))
        old = self.records.get(name) if isinstance(self.records.get(name), dict) else {}
        resume = old.get("fingerprint") == fp and old.get("status") in ("running", "failed")
        if not resume:
            self._clear(name, old, owns)
        self.log(f"[{name}] {'resuming' if resume else 'running'}")
        self.records[name] = {"status": "running", "fingerprint": fp, "owns": list(owns),
                              "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
        write_json_atomic(self.path, self.records)
        t0 = time.perf_counter()
        try:
            result = fn(Attempt(resume))
        except BaseException:
            self.records[name]["status"] = "failed"
            write_json_atomic(self.path, self.records)
            raise
        seconds = time.perf_counter() - t0
        ids = self._outputs_id(result.outputs)
        self.records[name] = {"status": "done", "fingerprint": fp, "seconds": seconds,
                              "owns": list(owns), "outputs": result.outputs,
                              "output_ids": ids, "values": result.values,
                              "settings": settings}
        write_json_atomic(self.path, self.records)
        self._chain = fingerprint([fp, ids])
        self.log(f"[{name}] done in {seconds:.1f} s")
        return result

    def _clear(self, name: str, old: dict[str, Any], owns: tuple[str, ...]) -> None:
        """Remove what an earlier attempt of this stage wrote; refuse to touch a path
        that no record of this run directory says nasdsl wrote."""
        ours = set(old.get("owns", [])) | set(old.get("outputs", {}).values())
        for rel in owns:
            target = self.dir / rel
            if not (target.exists() or target.is_symlink()):
                continue
            if rel not in ours:
                raise StageConflict(
                    f"{target} exists but this run directory's {RECORD} does not say "
                    f"nasdsl wrote it (stage `{name}`); move it away or choose another --out")
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink()


def _file_digest(path: Path) -> str:
    """Content id of an output file (a folder: its file names and sizes)."""
    if path.is_dir():
        items = sorted((str(p.relative_to(path)), p.stat().st_size)
                       for p in path.rglob("*") if p.is_file())
        return fingerprint(items)
    if not path.is_file():
        return "missing"
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()[:16]
