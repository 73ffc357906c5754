"""One bank of weights for the relaxed supernet and every child it re-elaborates.

A module is keyed by its stable path (sema: spec position + loop indices), the label of
the candidate it implements when it sits on a choice (a `mixed` node of the relaxed
graph), and its constructor signature (impl class, dims, constructor arguments:
channels, kernel...): `"enc[2]/n[0]/p1~3fa9c01b2e"`. The relaxed graph's candidates and
a child's op at the same place, for the same label and with the same signature, are the
same module, so no child holds a copy, a weight never reaches a layer of another shape
or place, and two candidates of one edge never share a module (NAS-Unet's `conv` and
`shuffle_conv` build the same layer: with one module their alphas would get identical
gradients and could never separate).

The norm's affine flag is not part of the key: a relaxed search builds its candidates
without affine (DARTS appendix A.1.1; the NAS-Unet authors' MixedOp), the derived
network with; the missing scale and shift hand over as their initial values (1 and 0),
which is what the affine-free norm computes (`affine_fill`).
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch
import torch.nn as nn

from nasdsl.ir.types import TensorType
from nasdsl.ops import REGISTRY
from nasdsl.ops import torch_impl


def signature(dims: int, impl: str, kwargs: dict[str, Any], label: str | None = None) -> str:
    kw = dict(kwargs)
    if "affine" in kw:
        kw["affine"] = True   # one key whatever the search-time flag (module docstring)
    text = repr((impl, dims, sorted(kw.items())))
    if label is not None:
        text += f"@{label!r}"
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
            out_type: TensorType, path: tuple[str, ...], label: str | None = None
            ) -> str | None:
        opdef = REGISTRY[op]
        if opdef.impl is None:
            return None
        return bank_key(path, signature(self.dims, opdef.impl,
                                        opdef.ctor(attrs, in_types, out_type), label))

    def fetch(self, op: str, attrs: dict, in_types: tuple[TensorType, ...],
              out_type: TensorType, path: tuple[str, ...], label: str | None = None,
              affine: bool | None = None) -> nn.Module | None:
        """The module of `op` at `path` for candidate `label` (created on first use);
        None = inline op. `affine=False` builds its norms without scale and shift (a
        relaxed search); None keeps the op's own flag."""
        key = self.key(op, attrs, in_types, out_type, path, label)
        if key is None:
            return None
        if key not in self.entries:
            opdef = REGISTRY[op]
            kwargs = opdef.ctor(attrs, in_types, out_type)
            if affine is not None and "affine" in kwargs:
                kwargs["affine"] = bool(kwargs["affine"]) and affine
            module = getattr(torch_impl, opdef.impl)(**kwargs, dims=self.dims)
            module.to(device=self.anchor.device, dtype=self.anchor.dtype)
            module.train(self.training)  # a module made after .eval() is in eval mode too
            self.entries[key] = module
            self._new.extend(module.parameters())
        return self.entries[key]

    def new_parameters(self) -> list[nn.Parameter]:
        """Parameters created since the last call (add them to the optimizer)."""
        out, self._new = self._new, []
        return out


def affine_fill(op: str, attrs: dict, in_types: tuple[TensorType, ...],
                out_type: TensorType, dims: int, have: set[str]) -> dict[str, torch.Tensor]:
    """The entries (relative keys) that the op's standalone module holds and a search-time
    module lacks: the affine scale and shift of its norms, at their initial values (1, 0),
    which is the affine-free norm's function. Empty when nothing is missing."""
    opdef = REGISTRY[op]
    kwargs = opdef.ctor(attrs, in_types, out_type)
    if opdef.impl is None or not kwargs.get("affine"):
        return {}
    fresh = getattr(torch_impl, opdef.impl)(**kwargs, dims=dims).state_dict()
    missing = {k: v for k, v in fresh.items() if k not in have}
    for k in missing:
        if not k.rsplit(".", 1)[-1] in ("weight", "bias"):
            raise AssertionError(f"{op}: `{k}` is missing from the search-time module "
                                 "and is not an affine norm parameter")
    return missing
