"""Segmentation metrics per case and class (MONAI): Dice, IoU, HD95, surface Dice.

Conventions (nnU-Net's): background (class 0) is not scored; a class absent from both
prediction and reference scores NaN and is left out of means; distances are in mm
(the case's spacing); HD95 is inf where the class is in only one of the two. Surface
Dice uses a tolerance in mm (default 1 mm).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from monai.metrics import (compute_dice, compute_hausdorff_distance, compute_iou,
                           compute_surface_dice)

METRICS = ("dice", "iou", "hd95", "surface_dice")


@dataclass(frozen=True)
class CaseScores:
    case: str
    scores: dict[str, dict[int, float]]     # metric -> class -> value


def one_hot(seg: torch.Tensor, classes: int) -> torch.Tensor:
    """spatial int map -> 1 x classes x spatial (float)."""
    seg = torch.as_tensor(seg).long()
    return torch.nn.functional.one_hot(seg, classes).movedim(-1, 0)[None].float()


def dice_per_class(pred: torch.Tensor, label: torch.Tensor, classes: int) -> torch.Tensor:
    """Fast Dice (foreground classes) of integer maps; NaN where both are empty."""
    p, y = one_hot(pred, classes), one_hot(label, classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = compute_dice(p, y, include_background=False, ignore_empty=False)[0]
    both_empty = (p[0, 1:].flatten(1).sum(1) == 0) & (y[0, 1:].flatten(1).sum(1) == 0)
    return torch.where(both_empty, torch.full_like(d, math.nan), d)


def case_scores(case: str, pred: np.ndarray | torch.Tensor, label: np.ndarray | torch.Tensor,
                classes: int, spacing: Sequence[float] | None = None,
                tolerance_mm: float = 1.0) -> CaseScores:
    """All metrics of one case (integer maps of the same spatial shape)."""
    pred_t, label_t = torch.as_tensor(np.asarray(pred)), torch.as_tensor(np.asarray(label))
    if pred_t.shape != label_t.shape:
        raise ValueError(f"{case}: prediction shape {tuple(pred_t.shape)} differs from the "
                         f"reference {tuple(label_t.shape)}")
    p, y = one_hot(pred_t, classes), one_hot(label_t, classes)
    sp = None if spacing is None else [float(s) for s in spacing]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MONAI warns on empty classes; we report NaN
        raw = {
            "dice": compute_dice(p, y, include_background=False, ignore_empty=False),
            "iou": compute_iou(p, y, include_background=False, ignore_empty=False),
            "hd95": compute_hausdorff_distance(p, y, include_background=False, percentile=95,
                                               spacing=sp),
            "surface_dice": compute_surface_dice(p, y, [tolerance_mm] * (classes - 1),
                                                 include_background=False, spacing=sp),
        }
    scores: dict[str, dict[int, float]] = {m: {} for m in METRICS}
    for c in range(1, classes):
        in_pred, in_ref = bool(p[0, c].any()), bool(y[0, c].any())
        for m in METRICS:
            value = float(raw[m][0, c - 1])
            if not (in_pred or in_ref):
                value = math.nan          # nothing to score
            elif m == "hd95" and not (in_pred and in_ref):
                value = math.inf          # a structure missed or invented: no distance
            scores[m][c] = value
    return CaseScores(case, scores)


def mean_scores(cases: Sequence[CaseScores]) -> dict[str, dict[int, float]]:
    """Per metric and class: mean over cases where defined (NaN if never)."""
    out: dict[str, dict[int, float]] = {}
    for m in METRICS:
        classes = sorted({c for cs in cases for c in cs.scores[m]})
        out[m] = {c: _nanmean([cs.scores[m][c] for cs in cases]) for c in classes}
    return out


def _nanmean(values: Sequence[float]) -> float:
    ok = [v for v in values if not math.isnan(v)]
    return sum(ok) / len(ok) if ok else math.nan


__all__ = ["case_scores", "mean_scores", "dice_per_class", "CaseScores", "METRICS", "one_hot"]
