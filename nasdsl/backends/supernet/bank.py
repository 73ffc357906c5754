"""One bank of weights for the relaxed supernet and every child it re-elaborates.

A module is keyed by its stable path (sema: spec position + loop indices) and its
constructor signature (impl class, dims, constructor arguments: channels, kernel...):
`"enc[2]/n[0]/p1~3fa9c01b2e"`. The relaxed graph's candidates and a child's ops at the
same place with the same signature are the same module, so no child holds a copy, and
a weight can never reach a layer of another shape or place.
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch
import torch.nn as nn

from nasdsl.ir.types import TensorType
from nasdsl.ops import REGISTRY
from nasdsl.ops import torch_impl


def signature(dims: int, impl: str, kwargs: dict[str, Any]) -> str:
    text = repr((impl, dims, sorted(kwargs.items())))
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def bank_key(path: tuple[str, ...], sig: str) -> str:
    # NOTE: path components are identifiers with [n] indices (never a "."), so the key
    # is a valid ModuleDict key; "/" keeps it readable in state dicts
    return "/".join(path) + "~" + sig


class WeightBank(nn.Module):
    def __init__(self, dims: int):
        super().__init__()
        self.dims = dims
        self.entries = nn.ModuleDict()
        self.register_buffer("anchor", torch.empty(0), persistent=False)
        self._new: list[nn.Parameter] = []

    def key(self, op: str, attrs: dict, in_types: tuple[TensorType, ...],
            out_type: TensorType, path: tuple[str, ...]) -> str | None:
        opdef = REGISTRY[op]
        if opdef.impl is None:
            return None
        return bank_key(path, signature(self.dims, opdef.impl,
                                        opdef.ctor(attrs, in_types, out_type)))

    def fetch(self, op: str, attrs: dict, in_types: tuple[TensorType, ...],
              out_type: TensorType, path: tuple[str, ...]) -> nn.Module | None:
        """The module of `op` at `path` (created on first use); None = inline op."""
        key = self.key(op, attrs, in_types, out_type, path)
        if key is None:
            return None
        if key not in self.entries:
            opdef = REGISTRY[op]
            module = getattr(torch_impl, opdef.impl)(
                self.dims, **opdef.ctor(attrs, in_types, out_type))
            module.to(device=self.anchor.device, dtype=self.anchor.dtype)
            module.train(self.training)  # a module made after .eval() is in eval mode too
            self.entries[key] = module
            self._new.extend(module.parameters())
        return self.entries[key]

    def new_parameters(self) -> list[nn.Parameter]:
        """Parameters created since the last call (add them to the optimizer)."""
        out, self._new = self._new, []
        return out
