"""The end of a search: `genotype.nas`, the supernet weights, the derived network's
inherited weights (weight-sharing engines), and the manifest's final genotype hash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nasdsl.engines.archparams import assignment_labels
from nasdsl.engines.genotype_out import genotype_text
from nasdsl.space import SearchSpace
from nasdsl.runs import RunDir, atomic_torch_save, atomic_write_bytes

GENOTYPE = "genotype.nas"
SUPERNET = "supernet.pt"
WEIGHTS = "weights.pt"
RANKING = "ranking.json"


def write_outputs(run: RunDir, engine, space: SearchSpace, name: str, opts: Any,
                  top_k: int | None = None, budget: float | None = None,
                  out_name: str = GENOTYPE, export: bool = True) -> dict[str, Any]:
    """The end of a search (out_name = genotype.nas: also the supernet weights and the
    `best` checkpoint `train --init-from RUN/` reads) or a re-derivation (`derive`)."""
    main = out_name == GENOTYPE
    derived = engine.derive(top_k, budget)
    child = space.child(derived)
    comments = [f"derived by nasdsl search --engine {name} (run {run.path.name})",
                f"spec hash {space.spec_hash()}, decision table {space.fingerprint()}",
                f"entropy {engine.entropy():.4f}"]
    comments += [f"p[{did}] = {', '.join(f'{x:.3f}' for x in probs)}"
                 for did, probs in engine.probabilities().items()]
    path = run.path / out_name
    text = genotype_text(space, derived, path, "Searched", comments)
    atomic_write_bytes(path, text.encode())
    if main:
        atomic_torch_save(run.path / SUPERNET, engine.supernet_state())
        _write_ranking(run, engine, derived)
    weights = engine.export_weights(derived) if engine.shares_weights and export else None
    weights_path = run.path / (WEIGHTS if main else f"{Path(out_name).stem}.weights.pt")
    if weights is not None:
        atomic_torch_save(weights_path, weights)
        if main:  # `nasdsl train GENOTYPE --init-from RUN/` reads best.pt's "model"
            run.save({"model": weights, "genotype": str(path)}, "best")
    from nasdsl.analysis.resources import param_bounds

    result = {"genotype": str(path), "genotype_hash": child.genotype_hash(),
              "params": param_bounds(child.graph).lo,
              "assignment": assignment_labels(derived),
              "weights": str(weights_path) if weights is not None else None}
    if main:
        run.update_manifest(final=result)
    run.log({"event": "done", **{k: v for k, v in result.items() if k != "assignment"}})
    return result


def _write_ranking(run: RunDir, engine, derived: dict[str, Any]) -> None:
    """The sampling engines' end-of-search choice, best first (ranking.json)."""
    rows = getattr(engine, "ranking", None)
    if not rows:
        return
    from nasdsl.engines.selection import plain_rows

    body = {"engine": engine.name, "derived": assignment_labels(derived),
            "order": ("whole-validation Dice, then subset Dice" if "val_dice" in rows[0]
                      else "Dice on the fixed validation subset"),
            "candidates": plain_rows(rows)}
    atomic_write_bytes(run.path / RANKING, (json.dumps(body, indent=1) + "\n").encode())


def summary(result: dict[str, Any]) -> str:
    return json.dumps({k: result.get(k) for k in ("genotype", "genotype_hash", "params", "rank", "digest")})
