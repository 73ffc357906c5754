"""One training step, shared by `nasdsl train` and by every search engine's weight phase.

The step owns what must be identical everywhere: device placement, channels-last,
autocast, the finite-loss check (agreed over all DDP ranks before backward, so that no
rank steps on NaN gradients), gradient clipping and the optimizer step.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch
from torch import nn

from nasdsl.train import distributed as dist


class NonFiniteLoss(Exception):
    """The loss became NaN/Inf: training stops, the last good checkpoint is kept."""

    def __init__(self, value: float, step: int | None = None):
        self.value = value
        self.step = step
        where = f" at step {step}" if step is not None else ""
        super().__init__(f"the loss became {value}{where}")


@dataclass(frozen=True)
class Precision:
    """Device, autocast dtype and memory format of a run."""
    device: torch.device
    autocast_dtype: torch.dtype | None = None
    channels_last: bool = False

    @classmethod
    def for_device(cls, device: torch.device | str, mode: str = "auto",
                   channels_last: bool | None = None) -> Precision:
        """auto: bf16 autocast and channels-last on CUDA, fp32 on CPU."""
        device = torch.device(device)
        cuda = device.type == "cuda"
        if mode not in ("auto", "fp32", "bf16"):
            raise ValueError(f"precision must be auto, fp32 or bf16, not {mode!r}")
        dtype = torch.bfloat16 if (mode == "bf16" or mode == "auto" and cuda) else None
        return cls(device, dtype, cuda if channels_last is None else channels_last)

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def memory_format(self, dims: int) -> torch.memory_format:
        if not self.channels_last:
            return torch.contiguous_format
        return torch.channels_last if dims == 2 else torch.channels_last_3d

    def prepare_model(self, model: nn.Module, dims: int) -> nn.Module:
        model = model.to(self.device)
        if self.channels_last:
            model = model.to(memory_format=self.memory_format(dims))
        return model

    def input(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        if self.channels_last:
            x = x.contiguous(memory_format=self.memory_format(x.dim() - 2))
        return x


@dataclass(frozen=True)
class StepResult:
    loss: float
    grad_norm: float | None


LossFn = Callable[[Any, torch.Tensor], torch.Tensor]


def train_step(model: nn.Module, batch: dict[str, torch.Tensor], loss_fn: LossFn,
               optimizer: torch.optim.Optimizer, precision: Precision,
               scaler: torch.amp.GradScaler | None = None,
               clip_grad: float | None = None) -> StepResult:
    """Forward, loss, backward, (clip), optimizer step. Raises NonFiniteLoss before
    touching the weights when any rank's loss is NaN/Inf."""
    model.train()
    x = precision.input(batch["image"])
    y = batch["label"].to(precision.device, non_blocking=True)
    optimizer.zero_grad(set_to_none=True)
    with precision.autocast():
        outputs = model(x)
    loss = loss_fn(outputs, y)
    _check_finite(loss)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
    else:
        loss.backward()
    norm = None
    if clip_grad is not None:
        norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad))
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    return StepResult(dist.mean_scalar(float(loss.detach())), norm)


def _check_finite(loss: torch.Tensor) -> None:
    finite = bool(torch.isfinite(loss.detach()).all())
    if not dist.all_true(finite):
        raise NonFiniteLoss(float(loss.detach()) if not finite else float("nan"))


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """eval() + no_grad for the block, restoring the previous mode after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


__all__ = ["train_step", "Precision", "StepResult", "NonFiniteLoss", "evaluating"]
