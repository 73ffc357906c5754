"""Children of a space for the sampling engines (ENAS, random), on one shared set of
weights.

  SupernetChildren  every decision is held by the supernet (cell-edge ops, cell inputs):
                    one Supernet with all candidates; a child is a one-path forward
  BankChildren      the space has structural decisions (patch size, strides, optional
                    stages): each child is re-elaborated and built, and every parameter
                    and buffer of it *is* an entry of one weight bank — no per-child
                    copies — keyed by the module's path, op, attributes and shape, so two
                    layers can share a tensor only when they are the same op at the same
                    place with the same shape

NOTE (adapter): issue 8 provides a bank keyed by stable spec paths; until it lands, paths
are the standalone module paths of each child and the op signature keeps shapes and ops
from aliasing.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

import torch
import torch.nn as nn

from nasdsl.backends.supernet import Supernet, restrict_state_dict
from nasdsl.engines.space import SearchSpace


class Bound(nn.Module):
    """A supernet with one architecture fixed: what train_step calls as `model(x)`."""

    def __init__(self, net: nn.Module, assignment: dict[str, Any]):
        super().__init__()
        self.net = net
        self.assignment = assignment

    def forward(self, x: torch.Tensor) -> Any:
        return self.net(x, self.assignment)


class SupernetChildren:
    def __init__(self, space: SearchSpace, device: torch.device):
        self.space = space
        self.net = Supernet(space.graph).to(device)

    def module(self, assignment: dict[str, Any]) -> nn.Module:
        return Bound(self.net, assignment)

    def input_size(self, assignment: dict[str, Any]) -> tuple[int, ...] | None:
        return self.space.compiled.input_size

    def parameters(self) -> list[nn.Parameter]:
        return list(self.net.parameters())

    def export(self, assignment: dict[str, Any]) -> dict[str, torch.Tensor]:
        state = {k: v.detach().cpu() for k, v in self.net.state_dict().items()}
        return restrict_state_dict(state, self.space.graph, assignment)

    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])

    def on_new_parameter(self, callback) -> None:
        pass


class BankChildren:
    def __init__(self, space: SearchSpace, device: torch.device):
        self.space = space
        self.device = device
        self.params: "OrderedDict[str, nn.Parameter]" = OrderedDict()
        self.buffers: "OrderedDict[str, torch.Tensor]" = OrderedDict()
        self._cache: "OrderedDict[str, tuple[nn.Module, tuple]]" = OrderedDict()
        self._listeners: list = []

    def on_new_parameter(self, callback) -> None:
        self._listeners.append(callback)

    def module(self, assignment: dict[str, Any]) -> nn.Module:
        key = _assignment_key(assignment)
        if key not in self._cache:
            compiled = self.space.child(assignment)
            # fresh entries start from values that depend on the child only, so a
            # resumed run (empty cache) initialises them exactly as the first run did
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(hashlib.sha1(key.encode()).hexdigest()[:8], 16))
                net = Supernet(compiled.graph).to(self.device)
            self._bind(net, compiled.graph)
            self._cache[key] = (Bound(net, {}), compiled.input_size)
            if len(self._cache) > 16:
                self._cache.popitem(last=False)
        return self._cache[key][0]

    def input_size(self, assignment: dict[str, Any]) -> tuple[int, ...] | None:
        self.module(assignment)
        return self._cache[_assignment_key(assignment)][1]

    def _bind(self, net: Supernet, graph) -> None:
        """Replace every parameter/buffer of the child by its bank entry."""
        for nid, path in net.paths.items():
            node = graph.node(nid)
            sig = f"{node.op}:{_attrs_sig(node.attrs)}"
            mod = net.get_submodule(path)
            for sub_name, sub in mod.named_modules():
                where = f"{path}.{sub_name}" if sub_name else path
                for name, p in list(sub._parameters.items()):
                    if p is not None:
                        sub._parameters[name] = self._param(f"{where}.{name}|{sig}", p)
                for name, b in list(sub._buffers.items()):
                    if b is not None:
                        sub._buffers[name] = self._buffer(f"{where}.{name}|{sig}", b)

    def _param(self, key: str, fresh: nn.Parameter) -> nn.Parameter:
        key = f"{key}|{tuple(fresh.shape)}"
        if key not in self.params:
            self.params[key] = fresh
            for cb in self._listeners:
                cb(fresh)
        return self.params[key]

    def _buffer(self, key: str, fresh: torch.Tensor) -> torch.Tensor:
        key = f"{key}|{tuple(fresh.shape)}"
        return self.buffers.setdefault(key, fresh)

    def parameters(self) -> list[nn.Parameter]:
        return list(self.params.values())

    def export(self, assignment: dict[str, Any]) -> dict[str, torch.Tensor]:
        net = self.module(assignment).net
        return {k: v.detach().cpu() for k, v in net.state_dict().items()}

    def state_dict(self) -> dict[str, Any]:
        return {"param_keys": list(self.params), "params": [p.detach() for p in self.params.values()],
                "buffer_keys": list(self.buffers), "buffers": list(self.buffers.values())}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Recreate the bank in its saved order (the optimizer's groups follow it)."""
        self._cache.clear()
        self.params.clear()
        self.buffers.clear()
        for key, t in zip(state["param_keys"], state["params"]):
            self._param(key.rsplit("|", 1)[0], nn.Parameter(t.clone().to(self.device)))
        for key, t in zip(state["buffer_keys"], state["buffers"]):
            self.buffers[key] = t.clone().to(self.device)


def _attrs_sig(attrs) -> str:
    return hashlib.sha1(repr(attrs).encode()).hexdigest()[:10]


def _assignment_key(assignment: dict[str, Any]) -> str:
    return repr(sorted(assignment.items()))


def make_children(space: SearchSpace, device: torch.device):
    return SupernetChildren(space, device) if space.relaxable() else BankChildren(space, device)


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
