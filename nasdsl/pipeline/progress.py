"""What a run's metrics say about how far its search and its training got.

`search_progress` counts the steps a search took (weight and architecture) and reads
the architecture entropy at the start and the end: a search whose entropy did not move
derived its genotype from the initial noise (issue #14). `convergence_note` reads the
training's validation Dice per epoch and says when training stopped while it was still
rising — the run's scores then say more about the budget than about the network.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

RISING = 0.01        # Dice gained over the last few validations that counts as rising
WINDOW = 3           # validations the rise is measured over
FEW_EPOCHS = 5


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return out
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a line cut by a kill
        if isinstance(rec, dict):
            out.append(rec)
    return out


def _finite(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else None


def search_progress(metrics: Path) -> dict[str, Any]:
    records = read_jsonl(metrics)
    steps = [r for r in records if "event" not in r and "step" in r]
    epochs = [r for r in records if r.get("event") == "epoch"]
    start = next((r for r in records if r.get("event") == "start"), None)
    out: dict[str, Any] = {
        "search_steps": len(steps),
        "search_arch_steps": sum(1 for r in steps if "arch_loss" in r)
        + sum(1 for r in epochs if "reward" in r),
        "search_epochs": len(epochs),
        "entropy_start": _finite(start.get("entropy")) if start else None,
        "entropy_end": _finite(epochs[-1].get("entropy")) if epochs else None}
    if out["entropy_start"] is not None and out["entropy_end"] is not None:
        out["entropy_change"] = out["entropy_end"] - out["entropy_start"]
    return out


def convergence_note(metrics: Path, budget: Any) -> str | None:
    """None when training looks settled; else why the scores are an early snapshot."""
    records = read_jsonl(metrics)
    dice = [float(r["val_dice"]) for r in records
            if r.get("event") == "epoch" and _finite(r.get("val_dice")) is not None]
    done = next((r for r in reversed(records) if r.get("event") == "done"), {})
    epochs = int(done.get("epoch", len(dice)))
    steps = int(done.get("global_step", 0))
    cut = done.get("stopped") == "time_budget"
    why = []
    if len(dice) >= 2:
        first = dice[max(0, len(dice) - 1 - WINDOW)]
        gained = dice[-1] - first
        span = min(WINDOW, len(dice) - 1)
        over = "the last epoch" if span == 1 else f"the last {span} epochs"
        if dice[-1] >= max(dice[:-1]) and gained > RISING:
            why.append(f"validation Dice still rising ({first:.3f} \u2192 {dice[-1]:.3f} "
                       f"over {over})")
    elif dice:
        why.append("a single validation")
    if epochs < FEW_EPOCHS:
        why.append(f"few epochs ({epochs} < {FEW_EPOCHS})")
    if not why:
        return None
    where = f"after {epochs} epoch{'s' if epochs != 1 else ''} / {steps} steps"
    if cut:
        where += f" (the {budget.time_budget:.0f} s time budget ran out)"
    return (f"training stopped far from convergence {where}: " + "; ".join(why) +
            ". The scores are an early snapshot: give it more time (--time-budget 30m) "
            "or train fully (--full)")


__all__ = ["search_progress", "convergence_note", "read_jsonl"]
