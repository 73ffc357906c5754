"""One trial: train (or resume) and evaluate into its own run directory.

The same function runs in this process (`--workers 0`) and as a Ray task, so both paths
produce the same files and, on CPU with the same thread count, the same weights.

A trial's run directory is a `nasdsl train` run directory plus:
  trial_job.json   the trial as first started (its fingerprint guards the folder)
  attempts.json    one entry per start (pid, host, time): a retried trial shows two
  eval.csv         `nasdsl eval RUN`'s per-case scores on the fold's validation cases
  eval_test.csv    the same on the dataset's held-out test cases (`evaluate` has "test")
  trial.json       written last, atomically: the results; its presence with a matching
                   fingerprint is what "finished" means to a re-run
  error.txt        the traceback of a failed attempt (removed when a later one succeeds)
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import time
import traceback
from pathlib import Path
from typing import Any

from nasdsl.errors import UsageError

FORMAT = 1
EVAL_CSV = {"val": "eval.csv", "test": "eval_test.csv"}


class TrialMismatch(UsageError):
    """The run directory belongs to another trial (the table changed): exit 2."""


def finished(trial: dict[str, Any]) -> dict[str, Any] | None:
    """The recorded result when the trial's run directory is complete and was made by
    exactly this trial (same fingerprint); None otherwise."""
    try:
        record = json.loads((Path(trial["request"]["out"]) / "trial.json").read_text())
    except (OSError, ValueError):
        return None
    if (isinstance(record, dict) and record.get("format") == FORMAT
            and record.get("fingerprint") == trial["fingerprint"]
            and record.get("state") == "done" and _spec_unchanged(trial)):
        return record
    return None


def _spec_unchanged(trial: dict[str, Any]) -> bool:
    """The genotype's hash is in the fingerprint; the space it names is checked here
    against the run's manifest (a changed space makes the trial run again, and its run,
    which would resume the old network from RUN/network.json, is refused by name)."""
    try:
        return _changed_spec(Path(trial["request"]["out"])) is None
    except Exception:  # noqa: BLE001 - unreadable or missing: not a finished trial
        return False


def _changed_spec(out: Path) -> str | None:
    """The spec file (genotype or space) whose content differs from what the run in
    `out` recorded when it started, or None. Provenance only: the run's network is its
    network.json, whatever these files say now."""
    from nasdsl.runs import RunDir, file_hash

    spec = RunDir(out).manifest()["spec"]
    for key, hkey in (("path", "file_hash"), ("space_path", "space_hash")):
        p = Path(spec[key])
        if not p.is_file() or file_hash(p) != spec[hkey]:
            return str(p)
    return None


def run_trial(trial: dict[str, Any], threads: int = 1) -> dict[str, Any]:
    """Train and evaluate one trial (a Trial.to_dict()); returns its trial.json record.
    Raises on failure after writing error.txt into the run directory."""
    import torch

    from nasdsl.runs import atomic_write_json

    done = finished(trial)
    if done is not None:
        return {**done, "reused": True}
    out = Path(trial["request"]["out"])
    torch.set_num_threads(threads)  # results depend on it: same count, same weights
    attempt = _start(out, trial)
    try:
        record = _train_and_evaluate(trial, out, attempt)
    except BaseException:
        (out / "error.txt").write_text(traceback.format_exc(), encoding="utf-8")
        raise
    (out / "error.txt").unlink(missing_ok=True)
    atomic_write_json(out / "trial.json", record)
    return record


def run_trial_or_failure(trial: dict[str, Any], threads: int = 1) -> dict[str, Any]:
    """run_trial, with an exception turned into a failure record (state "failed", a one
    line reason, the attempts so far): what both executors call. Only the death of the
    process itself escapes, which Ray answers by re-running the trial."""
    try:
        return run_trial(trial, threads)
    except Exception as err:  # noqa: BLE001 - one trial's failure, reported by the caller
        out = Path(trial["request"]["out"])
        try:
            attempts = len(json.loads((out / "attempts.json").read_text()))
        except (OSError, ValueError, TypeError):
            attempts = 0
        return {"state": "failed", "id": trial["id"], "error": describe(err, out),
                "attempts": attempts}


def describe(err: BaseException, out: Path) -> str:
    """One line: a user-facing reason as it is; anything else with where its traceback is."""
    from nasdsl.api import UsageError
    from nasdsl.data import DataError
    from nasdsl.diagnostics import NasError
    from nasdsl.outputs import OutputError
    from nasdsl.runs import RunError
    from nasdsl.train.loop import TrainingStopped

    expected = (UsageError, DataError, RunError, TrainingStopped, TrialMismatch, NasError,
                OutputError)
    if isinstance(err, NasError):
        heads = [d.render(False).splitlines()[0] for d in err.diagnostics
                 if d.severity == "error"]  # file:line:col: error[CODE]: message
        return " / ".join(heads)[:500] or "spec error"
    text = " ".join(str(err).split())
    if isinstance(err, expected):
        return text
    return f"{type(err).__name__}: {text[:300]} (traceback: {out / 'error.txt'})"


def _start(out: Path, trial: dict[str, Any]) -> int:
    """Claim the run directory for this trial and count the attempt."""
    from nasdsl.runs import atomic_write_json

    out.mkdir(parents=True, exist_ok=True)
    job = out / "trial_job.json"
    if job.exists():
        try:
            recorded = json.loads(job.read_text()).get("fingerprint")
        except ValueError:
            recorded = None
        if recorded != trial["fingerprint"]:
            raise TrialMismatch(f"{out}: holds a run of another trial (its genotype, data "
                                "or settings differ from the table's); move it away or "
                                "choose another --out")
    elif (out / "manifest.json").exists():
        raise TrialMismatch(f"{out}: holds a run that `nasdsl trials` did not start")
    else:
        atomic_write_json(job, trial)
    attempts_path = out / "attempts.json"
    try:
        attempts = json.loads(attempts_path.read_text())
    except (OSError, ValueError):
        attempts = []
    attempts.append({"pid": os.getpid(), "host": socket.gethostname(),
                     "started": time.time()})
    atomic_write_json(attempts_path, attempts)
    return len(attempts)


def _train_and_evaluate(trial: dict[str, Any], out: Path, attempt: int) -> dict[str, Any]:
    from nasdsl.runs import RunDir, atomic_write_bytes
    from nasdsl.infer.evaluate import evaluate, to_csv
    from nasdsl.train.metrics import mean_scores
    from nasdsl.train.session import TrainRequest, train

    request = TrainRequest.from_dict(trial["request"])
    resume = RunDir(out).manifest_path.exists()  # a killed attempt's checkpoint, if any
    changed = _changed_spec(out) if resume else None
    if changed is not None:   # resuming would continue the old network (train's rule)
        raise TrialMismatch(f"{changed}: changed since this run was trained; {out} holds "
                            "a run of the old network: move it away or choose another "
                            "--out")
    t0 = time.perf_counter()
    result = train(request, resume=resume)
    train_s = time.perf_counter() - t0
    scored: dict[str, Any] = {}
    for cases in trial.get("evaluate", ["val"]):
        scores, names = evaluate(out, request.data, cases, progress=False)
        atomic_write_bytes(out / EVAL_CSV[cases], to_csv(scores, names).encode())
        per_class = {names[c]: v for c, v in mean_scores(scores)["dice"].items()}
        fg = [v for v in per_class.values() if not math.isnan(v)]
        scored.update({f"{cases}_dice": sum(fg) / len(fg) if fg else math.nan,
                       f"{cases}_dice_per_class": per_class, f"{cases}_cases": len(scores)})
    pos = result.position
    return {"format": FORMAT, "state": "done", "id": trial["id"],
            "fingerprint": trial["fingerprint"], "label": trial["label"],
            "setting": trial["setting"], "seed": trial["seed"], "fold": trial["fold"],
            **scored,
            "best_val_dice_training": None if pos.best == -math.inf else pos.best,
            "steps": pos.global_step, "epochs": pos.epoch, "stopped": result.stopped,
            "train_seconds": round(train_s, 3), "attempts": attempt, "resumed": resume,
            "params": sum(p.numel() for p in result.model.parameters()),
            "weights_sha256": weights_hash(out / "checkpoints" / "last.pt"),
            "finished": time.time()}


def weights_hash(checkpoint: Path) -> str:
    """SHA-256 over the trained tensors' names, dtypes, shapes and bytes, in name order:
    equal hashes mean bitwise-equal weights (the file's own bytes also hold RNG state
    and pickling details)."""
    import torch

    from nasdsl.runs import load_checkpoint

    state = load_checkpoint(checkpoint)["model"]
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


__all__ = ["run_trial", "run_trial_or_failure", "describe", "finished", "weights_hash",
           "TrialMismatch"]
