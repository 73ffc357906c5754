"""The CPU threads a pipeline run uses, chosen from the cores it may use and the load.

Torch's default is one thread per core. On a shared machine whose other processes keep
the cores busy, those threads wait on each other (OpenMP spin and barriers): at a load
of 5 on 2 cores a training step was 23x slower than idle (issue #18). So the run takes
the cores that the 1-minute load average leaves free (at least one), unless the user or
the environment (OMP_NUM_THREADS) says otherwise; the choice, the core count and the
load are recorded in RUN/plan.json and RUN/summary.json and printed at the start.
"""

from __future__ import annotations

import os
from typing import Any


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except (AttributeError, OSError):
        return None


def choose_threads(requested: int | None, cpus: int, load: float | None,
                   env: str | None) -> tuple[int, str]:
    """(threads, why): the user's number, OMP_NUM_THREADS, or the cores left free."""
    if requested is not None:
        return max(1, requested), "--threads"
    if env and env.strip().isdigit() and int(env) > 0:
        return int(env), "OMP_NUM_THREADS"
    if load is None:
        return cpus, "one per usable core (load average unknown)"
    free = int(cpus - load + 0.5)
    return max(1, min(cpus, free)), "the usable cores the 1-minute load leaves free"


def machine_report(requested: int | None = None, apply: bool = True) -> dict[str, Any]:
    """Choose and set torch's thread count; what was chosen and why, for the records."""
    cpus = usable_cpus()
    load = load_average()
    threads, why = choose_threads(requested, cpus, load[0] if load else None,
                                  os.environ.get("OMP_NUM_THREADS"))
    if apply:
        import torch

        torch.set_num_threads(threads)
    shown = "unknown" if load is None else " / ".join(f"{x:.2f}" for x in load)
    line = (f"{cpus} usable CPU core(s), load average {shown} (1/5/15 min): "
            f"{threads} torch thread(s) ({why})")
    if load is not None and load[0] > cpus:
        line += "; the machine is busier than its cores: timings and time budgets stretch"
    return {"cpus": cpus, "load_average": list(load) if load else None,
            "threads": threads, "threads_why": why, "line": line}


__all__ = ["choose_threads", "machine_report", "usable_cpus", "load_average"]
