"""Running trials: in this process (`--workers 0`) or as Ray tasks.

NOTE: why Ray core and not Ray Tune: a trial here is one whole training with its own run
directory, checkpoint/resume, fingerprint and summary, which nasdsl already has. What is
missing is placing trials on CPUs/GPUs and surviving dead workers; Ray core's tasks give
exactly that (`num_cpus`/`num_gpus` per task, `max_retries` re-runs a task whose worker
died, `ray.wait` streams results). Tune would add its own trial directories, checkpoint
syncing, result logging and search algorithms that duplicate (and would have to be
reconciled with) the run directories, and its schedulers (ASHA...) stop trials early,
which a fixed table of trainings does not want.

Fault handling: a worker that dies (killed, OOM) makes Ray re-run its task, up to
`retries` times; the re-run resumes the trial from its last checkpoint (the training's
own resume). An exception inside a trial is not retried: it is reported and the other
trials go on. Finished trials (trial.json with the same fingerprint) are skipped before
anything is submitted.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from nasdsl.api import UsageError
from nasdsl.trials.table import Trial
from nasdsl.trials.work import finished, run_trial_or_failure

OBJECT_STORE_BYTES = 100 * 1024 ** 2   # results are small dicts; Ray's minimum is ~75 MB
STARTUP_WARNING_S = 120.0


@dataclass
class Outcome:
    trial: Trial
    state: str                      # done | reused | failed
    record: dict[str, Any] | None   # trial.json
    error: str | None = None


@dataclass
class Execution:
    workers: int | None = None      # trials at once on a local Ray; 0: this process
    address: str | None = None      # an existing Ray cluster ("auto", "ray://host:10001")
    cpus: float = 1.0               # per trial (also its torch threads)
    gpus: float = 0.0               # per trial; fractions share a GPU
    retries: int = 2                # re-runs of a trial whose worker died

    @property
    def threads(self) -> int:
        return max(1, int(self.cpus))


class Progress:
    """One line per trial and state change, and the running aggregate after each end."""

    def __init__(self, trials: list[Trial], echo: Callable[[str], None]):
        self.total, self.echo = len(trials), echo
        self.width = max((len(t.id) for t in trials), default=10)
        self.ended: dict[str, Outcome] = {}

    def state(self, trial: Trial, state: str, detail: str = "") -> None:
        self.echo(f"{trial.id.ljust(self.width)}  {state}{'  ' + detail if detail else ''}")

    def end(self, outcome: Outcome) -> None:
        self.ended[outcome.trial.id] = outcome
        if outcome.state == "failed":
            self.state(outcome.trial, "failed", outcome.error or "")
        else:
            rec = outcome.record or {}
            extra = (f"  (attempts {rec['attempts']}, resumed from its checkpoint)"
                     if rec.get("attempts", 1) > 1 and outcome.state == "done" else "")
            when = ("finished by an earlier call" if outcome.state == "reused"
                    else f"{rec.get('train_seconds', 0):.1f} s")
            dice = ", ".join(f"{cases} Dice {_num(rec.get(cases + '_dice'))}"
                             for cases in outcome.trial.evaluate)
            self.state(outcome.trial, outcome.state,
                       f"{dice}, {rec.get('steps', '?')} steps, {when}{extra}")
        self._aggregate()

    def _aggregate(self) -> None:
        from nasdsl.trials.summary import groups, metric_of

        ok = [o for o in self.ended.values() if o.state != "failed"]
        failed = len(self.ended) - len(ok)
        line = f"  {len(self.ended)}/{self.total} ended ({failed} failed)"
        rows = groups(list(self.ended.values()))
        if rows and rows[0]["mean"] is not None:
            best = rows[0]
            what = metric_of(list(self.ended.values())).removesuffix("_dice")
            line += (f"; leading: {best['group']} mean {what} Dice {_num(best['mean'])} "
                     f"(n={best['n']})")
        self.echo(line)


def run_trials(trials: list[Trial], ex: Execution,
               echo: Callable[[str], None] = print) -> list[Outcome]:
    progress = Progress(trials, echo)
    outcomes: dict[str, Outcome] = {}
    pending = []
    for t in trials:
        record = finished(t.to_dict())
        if record is None:
            pending.append(t)
            continue
        outcomes[t.id] = Outcome(t, "reused", record)
        progress.end(outcomes[t.id])
    for t in pending:
        progress.state(t, "queued")
    if pending:
        runner = _in_process if ex.workers == 0 else _on_ray
        for outcome in runner(pending, ex, progress):
            outcomes[outcome.trial.id] = outcome
            progress.end(outcome)
    return [outcomes[t.id] for t in trials]


# ---- in this process ---------------------------------------------------------------------
def _in_process(trials: list[Trial], ex: Execution, progress: Progress):
    import torch

    before = torch.get_num_threads()
    try:
        for t in trials:
            progress.state(t, "running", "in this process")
            yield _outcome(t, run_trial_or_failure(t.to_dict(), ex.threads))
    finally:
        torch.set_num_threads(before)


# ---- on Ray --------------------------------------------------------------------------------
def _import_ray():
    try:
        import ray
    except ImportError:
        raise UsageError("Ray is not installed: pip install 'nasdsl[ray]' (or run the "
                         "trials one after another in this process: --workers 0)") from None
    return ray


def _on_ray(trials: list[Trial], ex: Execution, progress: Progress):
    ray = _import_ray()
    started_here = not ray.is_initialized()  # then ours to stop (or to disconnect from)
    if started_here:
        _init(ray, ex, progress.echo)
    try:
        before = {t.id: len(_attempts(t)) for t in trials}  # read before any task starts
        # errors come back as failure records: the trial's exception classes need not
        # travel between processes (some do not unpickle), and only a dead worker retries
        task = ray.remote(max_retries=ex.retries, retry_exceptions=False)(run_trial_or_failure)
        refs = {task.options(num_cpus=ex.cpus, num_gpus=ex.gpus,
                             name=f"trial {t.id}").remote(t.to_dict(), ex.threads): t
                for t in trials}
        seen = {t.id: 0 for t in trials}
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=0.5)
            for t in refs.values():
                _report_attempts(t, before, seen, progress)
            for ref in ready:
                t = refs.pop(ref)
                try:
                    yield _outcome(t, ray.get(ref))
                except Exception as err:  # noqa: BLE001 - a failed trial, not the command
                    yield Outcome(t, "failed", {"attempts": len(_attempts(t))},
                                  _ray_failure(err, t))
    finally:
        if started_here:
            ray.shutdown()


def _init(ray, ex: Execution, echo: Callable[[str], None]) -> None:
    import threading

    # seen once on the shared VM: with the machine out of memory a local Ray never
    # finished starting (its first workers were OOM-killed); say so instead of silence
    slow = threading.Timer(STARTUP_WARNING_S, lambda: echo(
        f"Ray has not started after {STARTUP_WARNING_S:.0f} s (short of memory or CPU?); "
        "still waiting: interrupt and use --workers 0 to run without Ray"))
    slow.daemon = True
    slow.start()
    try:
        _connect(ray, ex)
    finally:
        slow.cancel()


def _connect(ray, ex: Execution) -> None:
    env = {"OMP_NUM_THREADS": str(ex.threads), "MKL_NUM_THREADS": str(ex.threads)}
    common = dict(include_dashboard=False, log_to_driver=False,
                  logging_level=logging.ERROR, runtime_env={"env_vars": env})
    try:
        if ex.address is not None:
            _reachable(ex.address)
            ray.init(address=ex.address, **common)
            return
        workers = ex.workers or max(1, int((os.cpu_count() or 1) // max(ex.cpus, 1)))
        # address="local": always a new Ray of our own, even when `ray start` left a
        # cluster (or its address file) on this machine
        ray.init(address="local", num_cpus=max(ex.cpus, 1) * workers,
                 object_store_memory=OBJECT_STORE_BYTES, **common)
    except (ConnectionError, RuntimeError, OSError, ValueError) as err:
        where = (f"connect to the Ray cluster at {ex.address} (is it running, and does "
                 "this machine hold the cluster's auth token? On a node of the cluster "
                 "`--address auto` finds both)" if ex.address is not None
                 else "start a local Ray")
        raise UsageError(f"could not {where}: {' '.join(str(err).split())[:300]} (or run "
                         "the trials in this process: --workers 0)") from None


def _reachable(address: str, timeout_s: float = 10.0) -> None:
    """A TCP connect to HOST:PORT first: Ray's own connect retries an address where
    nothing listens for many minutes. "auto" (find the local cluster) is left to Ray."""
    import socket

    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as err:
        raise ConnectionError(f"nothing answers at {hostport} ({err.strerror or err})") \
            from None


def _attempts(t: Trial) -> list[dict[str, Any]]:
    try:
        found = json.loads((t.out / "attempts.json").read_text())
    except (OSError, ValueError):
        return []
    return found if isinstance(found, list) else []


def _report_attempts(t: Trial, before: dict[str, int], seen: dict[str, int],
                     progress: Progress) -> None:
    """A new entry in attempts.json: the trial started (again) on a worker. Attempts of
    earlier invocations (`before`) do not count, so each run counts its own from 1."""
    attempts = _attempts(t)
    now = len(attempts) - before[t.id]
    if now > seen[t.id]:
        seen[t.id] = now
        a = attempts[-1] if isinstance(attempts[-1], dict) else {}
        what = "running" if now == 1 else f"retrying (attempt {now}: the last worker died)"
        progress.state(t, what, f"pid {a.get('pid')} on {a.get('host')}")


def _outcome(t: Trial, record: dict[str, Any]) -> Outcome:
    if record.get("state") == "failed":
        return Outcome(t, "failed", record, record.get("error"))
    return Outcome(t, "done", record)


def _ray_failure(err: BaseException, t: Trial) -> str:
    """What Ray itself raised: the worker died on every attempt, or the task could not
    run at all."""
    name = type(err).__name__
    if name in ("WorkerCrashedError", "NodeDiedError", "OutOfMemoryError"):
        return f"its worker died on every attempt ({name}); see {t.out}/attempts.json"
    return f"{name}: {' '.join(str(err).split())[:300]}"


def _num(v: Any) -> str:
    return "n/a" if not isinstance(v, (int, float)) or v != v else f"{v:.4f}"


__all__ = ["Execution", "Outcome", "run_trials"]
