"""A recorded train/validation split: k folds over the case ids, shuffled under a seed.
Written as JSON into the run directory, so a resumed or re-evaluated run uses the same."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from nasdsl.data.errors import DataError
from nasdsl.data.index import DatasetIndex


def make_split(index: DatasetIndex, seed: int = 0, k_folds: int = 5, fold: int = 0
               ) -> dict[str, Any]:
    """{"train": [ids], "val": [ids], "seed", "k_folds", "fold"}: fold `fold` of k.
    k_folds=1 puts every case in train and val (the whole-data fit nnU-Net calls `all`)."""
    ids = sorted(c.id for c in index.cases)
    if k_folds < 1 or not 0 <= fold < k_folds:
        raise DataError(index.root, f"fold {fold} is not one of 0..{k_folds - 1}")
    if k_folds == 1:
        return {"train": ids, "val": ids, "seed": seed, "k_folds": 1, "fold": 0}
    if len(ids) < k_folds:
        raise DataError(index.root, f"{len(ids)} case(s) cannot make {k_folds} folds; "
                                    "use fewer folds (k_folds=1 trains and validates on all)")
    order = np.random.default_rng(seed).permutation(len(ids))
    folds = np.array_split(order, k_folds)
    val = sorted(ids[i] for i in folds[fold])
    train = sorted(set(ids) - set(val))
    return {"train": train, "val": val, "seed": seed, "k_folds": k_folds, "fold": fold}


def save_split(split: dict[str, Any], path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(split, f, indent=1)
    os.replace(tmp, p)
    return p


def load_split(path: str | Path, index: DatasetIndex | None = None) -> dict[str, Any]:
    """Read a recorded split; with `index`, every id must still be in the dataset."""
    p = Path(path)
    try:
        split = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(p, f"unreadable split file ({err})") from None
    if not isinstance(split, dict) or not {"train", "val"} <= split.keys():
        raise DataError(p, "a split file holds {\"train\": [...], \"val\": [...]}")
    if index is not None:
        known = {c.id for c in index.cases}
        missing = sorted((set(split["train"]) | set(split["val"])) - known)
        if missing:
            raise DataError(p, f"case ids not in the dataset: {missing[:5]}")
    return split
