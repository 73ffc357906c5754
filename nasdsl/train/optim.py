"""Optimizers and per-step learning-rate schedules (nnU-Net's SGD + poly, or AdamW)."""

from __future__ import annotations

import math

import torch
from torch import nn

OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("poly", "cosine", "constant")


def make_optimizer(model: nn.Module, name: str, lr: float,
                   weight_decay: float) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if name == "sgd":
        # nnU-Net's settings: momentum 0.99, Nesterov
        return torch.optim.SGD(params, lr=lr, momentum=0.99, nesterov=True,
                               weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {name!r}")


def make_schedule(optimizer: torch.optim.Optimizer, name: str,
                  total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """A LambdaLR stepped once per training step (its state resumes exactly)."""
    total = max(1, total_steps)
    if name == "poly":
        def factor(step: int) -> float:
            return (1 - min(step, total) / total) ** 0.9
    elif name == "cosine":
        def factor(step: int) -> float:
            return 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
    elif name == "constant":
        def factor(step: int) -> float:
            return 1.0
    else:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, not {name!r}")
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


__all__ = ["make_optimizer", "make_schedule", "OPTIMIZERS", "SCHEDULES"]
