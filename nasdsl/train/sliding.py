"""Whole-volume prediction from a patch network: MONAI sliding window or one shot.

* sliding: MONAI `sliding_window_inference` with Gaussian weighting and overlap; the
  window is the training patch (a multiple of the network's stride), and inputs smaller
  than the window are padded by MONAI and cropped back.
* whole: RONASMIS's one-shot mode: the volume, padded up to the stride multiple, goes
  through the network at once and the padding is cropped off.
Flip test-time augmentation averages the softmax over every subset of flipped axes.
The predictor is any callable from a B x C x spatial tensor to logits (PyTorch module
or an ONNX Runtime session). It lives in train/ because validation uses it; infer/
(inference, evaluation, export) sits above train/.
"""

from __future__ import annotations

from itertools import combinations
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from monai.inferers import sliding_window_inference

Predictor = Callable[[torch.Tensor], torch.Tensor]
MODES = ("sliding", "whole")


def round_up(size: int, multiple: int) -> int:
    return -(-size // multiple) * multiple


def fit_window(patch: Sequence[int], multiple: Sequence[int]) -> tuple[int, ...]:
    """The patch rounded up to the stride multiple on each axis."""
    return tuple(round_up(int(p), int(m)) for p, m in zip(patch, multiple))


def predict_whole(predictor: Predictor, image: torch.Tensor,
                  multiple: Sequence[int]) -> torch.Tensor:
    """One pass over the zero-padded volume (image: B x C x spatial) -> logits."""
    spatial = image.shape[2:]
    target = [round_up(s, m) for s, m in zip(spatial, multiple)]
    pad: list[int] = []
    for s, t in reversed(list(zip(spatial, target))):
        pad += [0, t - s]
    logits = predictor(F.pad(image, pad))
    return logits[(slice(None), slice(None), *(slice(0, s) for s in spatial))]


def predict_sliding(predictor: Predictor, image: torch.Tensor, window: Sequence[int],
                    overlap: float = 0.5, batch: int = 1) -> torch.Tensor:
    return sliding_window_inference(image, tuple(window), batch, predictor, overlap=overlap,
                                    mode="gaussian", padding_mode="constant", cval=0.0)


def predict_probabilities(predictor: Predictor, image: torch.Tensor, *, mode: str,
                          window: Sequence[int], multiple: Sequence[int],
                          overlap: float = 0.5, tta: bool = False,
                          batch: int = 1) -> torch.Tensor:
    """Softmax probabilities (B x classes x spatial), averaged over flips with tta."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    dims = image.dim() - 2
    flips = _flip_sets(dims) if tta else [()]
    total: torch.Tensor | None = None
    for axes in flips:
        x = torch.flip(image, axes) if axes else image
        if mode == "whole":
            logits = predict_whole(predictor, x, multiple)
        else:
            logits = predict_sliding(predictor, x, window, overlap, batch)
        probs = torch.softmax(logits.float(), dim=1)
        probs = torch.flip(probs, axes) if axes else probs
        total = probs if total is None else total + probs
    assert total is not None
    return total / len(flips)


def _flip_sets(dims: int) -> list[tuple[int, ...]]:
    axes = [2 + i for i in range(dims)]
    return [c for k in range(dims + 1) for c in combinations(axes, k)]


__all__ = ["predict_probabilities", "predict_whole", "predict_sliding", "fit_window",
           "round_up", "MODES"]
