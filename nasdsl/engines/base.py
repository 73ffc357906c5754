"""What every engine shares: settings, the weight phase (train's `train_step`), the
validation signal, deterministic per-step random generators, DDP agreement.

An engine is driven by the search loop (`loop.py`) through `step`, `end_epoch`,
`derive`, `state_dict`/`load_state_dict`. Everything random an engine draws comes from
`self.rng(epoch, step, purpose)`: a generator seeded from (seed, epoch, step, purpose),
identical on every DDP rank and after a resume, so all ranks agree on every sampled
architecture without a broadcast and a resumed run replays the same draws.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any, Callable

import torch
import torch.nn as nn

from nasdsl.space import SearchSpace
from nasdsl.train import distributed as dist
from nasdsl.train.loss import SegLoss
from nasdsl.train.metrics import dice_per_class
from nasdsl.train.step import Precision, evaluating

Batch = dict[str, torch.Tensor]
ValBatches = Callable[[int, int], Batch]      # (epoch, step) -> a validation batch


class Engine:
    name = "engine"
    shares_weights = True
    ranks_edges = False   # True: derive(top_k) ranks cell nodes' edges (gradient engines)

    def __init__(self, space: SearchSpace, settings: dict[str, Any], precision: Precision,
                 classes: int):
        self.space = space
        self.settings = settings
        self.precision = precision
        self.classes = classes
        self.seed = int(settings["seed"])
        self.loss_fn = SegLoss(classes)
        self.total_steps = 1

    # ---- randomness -----------------------------------------------------------------
    def rng(self, epoch: int, step: int, purpose: str) -> torch.Generator:
        text = f"{self.seed}:{epoch}:{step}:{purpose}".encode()
        seed = int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")
        return torch.Generator().manual_seed(seed & 0x7FFF_FFFF_FFFF_FFFF)

    # ---- the loop's interface ---------------------------------------------------------
    def setup(self, total_steps: int) -> None:
        self.total_steps = max(1, total_steps)

    def step(self, batch: Batch, val: ValBatches, epoch: int, step: int) -> dict[str, Any]:
        raise NotImplementedError

    def end_epoch(self, epoch: int, val: ValBatches) -> dict[str, Any]:
        return {}

    def derive(self, top_k: int | None = None, budget: float | None = None) -> dict[str, Any]:
        raise NotImplementedError

    def entropy(self) -> float:
        return float("nan")

    def probabilities(self) -> dict[str, list[float]]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def export_weights(self, assignment: dict[str, Any]) -> dict[str, torch.Tensor] | None:
        """Weights of the derived network under standalone keys (None: cannot)."""
        return None

    def supernet_state(self) -> dict[str, torch.Tensor]:
        return {}

    # ---- helpers --------------------------------------------------------------------
    def cosine_lr(self, base: float, step_index: int, floor: float = 0.0) -> float:
        t = min(1.0, step_index / self.total_steps)
        return floor + 0.5 * (base - floor) * (1 + math.cos(math.pi * t))

    def seg_loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        x = self.precision.input(batch["image"])
        y = batch["label"].to(self.precision.device)
        with self.precision.autocast():
            out = model(x)
        return self.loss_fn(out, y)

    def batch_dice(self, model: nn.Module, batch: Batch) -> float:
        """Mean foreground Dice of one validation batch (ENAS's reward signal),
        averaged over DDP ranks."""
        x = self.precision.input(batch["image"])
        y = batch["label"]
        with evaluating(model), self.precision.autocast():
            out = model(x)
        if isinstance(out, (tuple, list)):
            out = out[0]
        pred = out.float().argmax(1).cpu()
        scores = []
        for i in range(pred.shape[0]):
            d = dice_per_class(pred[i], y[i].reshape(pred[i].shape), self.classes)
            scores.extend(float(v) for v in d if not torch.isnan(v))
        value = sum(scores) / len(scores) if scores else 0.0
        return dist.mean_scalar(value)


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for g in opt.param_groups:
        g["lr"] = lr


def allreduce_grads(params: list[torch.Tensor], skip_none: bool = False) -> None:
    """Average gradients over DDP ranks (architecture parameters live outside DDP).

    skip_none: tensors without a gradient stay without one (every rank runs the same
    child, so the same tensors have gradients everywhere)."""
    if not dist.active():
        return
    import torch.distributed as tdist

    for p in params:
        if p.grad is None:
            if skip_none:
                continue
            p.grad = torch.zeros_like(p)
        tdist.all_reduce(p.grad)
        p.grad /= tdist.get_world_size()


class SyncedStep:
    """The shared-weight optimizer, averaging gradients over DDP ranks before stepping.

    NOTE: not the DDP wrapper: every child is its own module over one weight bank, and a
    DDP reducer binds to one module's parameters; an all-reduce of the gradients of the
    tensors that have one keeps every rank's bank identical just the same."""

    def __init__(self, opt: torch.optim.Optimizer):
        self.opt = opt

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.opt.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        params = [p for g in self.opt.param_groups for p in g["params"]]
        allreduce_grads([p for p in params if p.requires_grad], skip_none=True)
        self.opt.step()
