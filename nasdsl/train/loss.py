"""Dice + cross-entropy (MONAI DiceCELoss), with deep supervision over several heads.

Deep supervision as nnU-Net does it: every output is compared with the label resized
(nearest) to its resolution; weights halve per head away from the main one and are
normalised to sum to one. A single-output net gets the plain loss.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from monai.losses import DiceCELoss
from torch import nn


class SegLoss(nn.Module):
    def __init__(self, classes: int, main_output: int = 0, deep_supervision: bool = True):
        super().__init__()
        if classes < 2:
            raise ValueError("segmentation needs at least two classes (background and one "
                             "structure); the network has one output channel")
        # NOTE: batch=False makes the loss a mean over samples, so DDP's gradient average
        # over ranks equals one process on the global batch (tested).
        self.dice_ce = DiceCELoss(to_onehot_y=True, softmax=True, include_background=False,
                                  batch=False)
        self.main_output = main_output
        self.deep_supervision = deep_supervision

    def forward(self, outputs: Any, label: torch.Tensor) -> torch.Tensor:
        if not isinstance(outputs, (tuple, list)):
            return self.dice_ce(outputs.float(), label)
        heads = list(outputs)
        if not self.deep_supervision:
            return self.dice_ce(heads[self.main_output].float(), label)
        weights = _weights(len(heads), self.main_output)
        total = torch.zeros((), device=label.device)
        for w, out in zip(weights, heads):
            total = total + w * self.dice_ce(out.float(), _resize_label(label, out.shape[2:]))
        return total


def _weights(n: int, main: int) -> list[float]:
    raw = [0.5 ** abs(i - main) for i in range(n)]
    s = sum(raw)
    return [r / s for r in raw]


def _resize_label(label: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    if tuple(label.shape[2:]) == tuple(size):
        return label
    return F.interpolate(label.float(), size=tuple(size), mode="nearest").long()


__all__ = ["SegLoss"]
