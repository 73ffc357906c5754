"""Children of a space for the sampling engines (ENAS, random), on one weight bank.

Every child is re-elaborated from its assignment (any decision kind: patch size,
strides, optional stages, cell edges) and built from the supernet's weight bank
(`Supernet.child_module`): its modules *are* the bank's, keyed by stable path,
candidate label and constructor signature, so no child holds a copy. New bank entries start from values
that depend only on the child that created them, and the order of the children that
created entries is kept, so a resumed run rebuilds the same bank (and optimizer groups)
before loading the checkpoint.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable

import torch
import torch.nn as nn

from nasdsl.backends.supernet import Supernet
from nasdsl.space import SearchSpace


class SharedChildren:
    def __init__(self, space: SearchSpace, device: torch.device):
        self.space = space
        self.net = Supernet(space).to(device)
        self.net.new_parameters()                 # the relaxed graph's: in parameters()
        self.created: list[dict[str, Any]] = []   # children that added bank entries
        self._listeners: list[Callable[[nn.Parameter], None]] = []

    def on_new_parameter(self, callback: Callable[[nn.Parameter], None]) -> None:
        self._listeners.append(callback)

    def module(self, assignment: dict[str, Any]) -> nn.Module:
        key = repr(sorted(_plain(assignment).items()))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(hashlib.sha1(key.encode()).hexdigest()[:8], 16))
            child = self.net.child_module(assignment)
        new = self.net.new_parameters()
        if new:
            self.created.append(_plain(assignment))
            for p in new:
                for cb in self._listeners:
                    cb(p)
        return child

    def input_size(self, assignment: dict[str, Any]) -> tuple[int, ...] | None:
        return self.space.child(assignment).input_size

    def parameters(self) -> list[nn.Parameter]:
        return list(self.net.parameters())

    def export(self, assignment: dict[str, Any]) -> dict[str, torch.Tensor]:
        self.module(assignment)
        return {k: v.detach().cpu() for k, v in self.net.child_state_dict(assignment).items()}

    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict(), "created": list(self.created)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        listeners, self._listeners = self._listeners, []
        for assignment in state["created"]:
            self.module(_unplain(assignment))
        self._listeners = listeners
        self.net.load_state_dict(state["net"])
        self.created = [dict(a) for a in state["created"]]


def _plain(a: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in a.items()}


def _unplain(a: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in a.items()}


def fit_to(batch: dict[str, torch.Tensor], size: tuple[int, ...] | None) -> dict[str, torch.Tensor]:
    """Centre-crop (or zero-pad) a batch's spatial axes to a child's input size."""
    if size is None:
        return batch
    out = dict(batch)
    for k in ("image", "label"):
        out[k] = _crop_or_pad(batch[k], size)
    return out


def _crop_or_pad(t: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    spatial = t.shape[2:]
    if tuple(spatial) == tuple(size):
        return t
    slices = [slice(None), slice(None)]
    pads: list[int] = []
    for have, want in zip(spatial, size):
        start = max(0, (have - want) // 2)
        slices.append(slice(start, start + min(have, want)))
    t = t[tuple(slices)]
    for have, want in reversed(list(zip(t.shape[2:], size))):
        extra = max(0, want - have)
        pads += [extra // 2, extra - extra // 2]
    return torch.nn.functional.pad(t, pads) if any(pads) else t
