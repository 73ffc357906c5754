"""Validation: whole cases through sliding-window (or one-shot) inference, mean Dice.

Engines use `validate` as their reward/selection signal, so it is the same function
`nasdsl train` uses to pick its best checkpoint. Under DDP each rank scores its share
of the cases and the sums are all-reduced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import nn

from nasdsl.train.sliding import predict_probabilities
from nasdsl.train import distributed as dist
from nasdsl.train.metrics import dice_per_class
from nasdsl.train.step import Precision, evaluating


@dataclass(frozen=True)
class InferShape:
    """How a network is applied to a whole case."""
    dims: int
    classes: int
    window: tuple[int, ...]               # sliding-window size (the training patch)
    multiple: tuple[int, ...]             # input sizes must be multiples of these
    mode: str = "sliding"                 # or "whole" (RONASMIS one-shot)
    overlap: float = 0.5
    main_output: int = 0


@dataclass(frozen=True)
class DiceResult:
    mean: float                           # over foreground classes
    per_class: list[float]                # classes 1..K-1 (NaN: absent everywhere)


def torch_predictor(model: nn.Module, precision: Precision, main_output: int = 0):
    """A callable B x C x spatial -> logits of the main head."""
    def run(x: torch.Tensor) -> torch.Tensor:
        with precision.autocast():
            out = model(precision.input(x))
        if isinstance(out, (tuple, list)):
            out = out[main_output]
        return out.float()
    return run


def predict_case(model: nn.Module, image: torch.Tensor, precision: Precision,
                 shape: InferShape, tta: bool = False) -> torch.Tensor:
    """Integer segmentation (spatial) of one C x spatial image."""
    with evaluating(model):
        probs = case_probabilities(torch_predictor(model, precision, shape.main_output),
                                   image, shape, tta)
    return probs.argmax(0).cpu()


def case_probabilities(predictor: Any, image: torch.Tensor, shape: InferShape,
                       tta: bool = False) -> torch.Tensor:
    """classes x spatial probabilities of one C x spatial image. A 2D network on a 3D
    volume (trained on slices) predicts every slice along the last axis."""
    image = torch.as_tensor(image).float()
    slices = image.dim() - 1 == shape.dims + 1
    batch = image.movedim(-1, 0) if slices else image[None]
    probs = predict_probabilities(predictor, batch, mode=shape.mode, window=shape.window,
                                  multiple=shape.multiple, overlap=shape.overlap, tta=tta,
                                  batch=4 if slices else 1)
    return probs.movedim(0, -1) if slices else probs[0]


def case_arrays(case: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(image, label) of a validation case: a dict or a data.Preprocessed."""
    if isinstance(case, dict):
        return torch.as_tensor(case["image"]), torch.as_tensor(case["label"])
    return torch.as_tensor(case.image), torch.as_tensor(case.label)


def validate(model: nn.Module, cases: Sequence[dict[str, Any]], precision: Precision,
             shape: InferShape) -> DiceResult:
    k = shape.classes - 1
    sums = torch.zeros(k, dtype=torch.float64)
    counts = torch.zeros(k, dtype=torch.float64)
    for case in cases:
        image, label = case_arrays(case)
        pred = predict_case(model, image, precision, shape)
        label = label.reshape(pred.shape)
        d = dice_per_class(pred, label, shape.classes).double()
        ok = ~torch.isnan(d)
        sums += torch.where(ok, d, torch.zeros_like(d))
        counts += ok.double()
    sums, counts = dist.sum_tensor(sums), dist.sum_tensor(counts)
    per_class = [float(s / c) if c else math.nan for s, c in zip(sums, counts)]
    defined = [v for v in per_class if not math.isnan(v)]
    return DiceResult(sum(defined) / len(defined) if defined else 0.0, per_class)


__all__ = ["InferShape", "DiceResult", "validate", "predict_case", "case_probabilities",
           "case_arrays", "torch_predictor"]
