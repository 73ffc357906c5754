"""Stage bookkeeping of a pipeline run directory: which stage produced what, and reuse.

`RUN/stages.json` records, per stage, its status, the fingerprint of what it was
asked to do (settings plus the fingerprints of the stages it consumed), its outputs and
its wall time. A second run skips a stage whose record is `done` with the same
fingerprint and whose outputs still exist; anything else reruns it and every stage
after it (their fingerprints chain).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from nasdsl.outputs import write_atomic

RECORD = "stages.json"
FORMAT = 2  # bump when a stage starts recording other values: old records rerun


def fingerprint(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def write_json_atomic(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"
    write_atomic(path, text)


@dataclass
class StageResult:
    outputs: dict[str, str]                  # name -> path relative to the run dir
    values: dict[str, Any] = field(default_factory=dict)   # numbers for the report


class StageBook:
    """The run directory's stage records; `run_stage` executes or reuses one stage."""

    def __init__(self, run_dir: Path, log: Callable[[str], None] = print):
        self.dir = run_dir
        self.log = log
        self.path = run_dir / RECORD
        self.records: dict[str, dict] = {}
        if self.path.exists():
            try:
                self.records = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                self.records = {}  # unreadable record: every stage reruns
        self._chain = ""

    def _reusable(self, name: str, fp: str) -> bool:
        rec = self.records.get(name)
        if not rec or rec.get("status") != "done" or rec.get("fingerprint") != fp:
            return False
        return all((self.dir / p).exists() for p in rec.get("outputs", {}).values())

    def run_stage(self, name: str, settings: dict[str, Any],
                  fn: Callable[[], StageResult]) -> StageResult:
        fp = fingerprint({"settings": settings, "after": self._chain, "format": FORMAT})
        self._chain = fp
        if self._reusable(name, fp):
            rec = self.records[name]
            self.log(f"[{name}] reused from an earlier run ({rec['seconds']:.1f} s then)")
            return StageResult(rec["outputs"], rec.get("values", {}))
        self.log(f"[{name}] running")
        self.records[name] = {"status": "running", "fingerprint": fp,
                              "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
        write_json_atomic(self.path, self.records)
        t0 = time.perf_counter()
        try:
            result = fn()
        except BaseException:
            self.records[name]["status"] = "failed"
            write_json_atomic(self.path, self.records)
            raise
        seconds = time.perf_counter() - t0
        self.records[name] = {"status": "done", "fingerprint": fp, "seconds": seconds,
                              "outputs": result.outputs, "values": result.values,
                              "settings": settings}
        write_json_atomic(self.path, self.records)
        self.log(f"[{name}] done in {seconds:.1f} s")
        return result
