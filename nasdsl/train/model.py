"""A compiled genotype/arch as a trainable nn.Module, plus what training needs to know.

NOTE: the module is built from the IR through the op registry (the supernet backend's
interpreter running a frozen graph: `ChildNet`), not by exec'ing emitted source: no generated
code runs in the training process. Its parameter names are those of the emitted
standalone module, so a training checkpoint loads into `nasdsl compile`'s `.py` and into
the ONNX export with `strict=True`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import torch

from nasdsl.api import Compiled
from nasdsl.backends.standalone import require_frozen
from nasdsl.backends.supernet import ChildNet
from nasdsl.backends.supernet.net import fresh_modules


class GenotypeNet(ChildNet):
    """The network of a frozen spec; forward(x) returns its output(s) like `Model`."""

    def __init__(self, compiled: Compiled):
        require_frozen(compiled)
        super().__init__(compiled.graph, fresh_modules(compiled.graph))
        self.choice: dict[str, Any] = dict(compiled.decided)


@dataclass(frozen=True)
class NetInfo:
    """Facts about a compiled network that training, inference and export rely on."""
    dims: int
    in_channels: int
    classes: int                      # channels of the main output
    outputs: tuple[str, ...]
    main_output: int                  # index of the full-resolution head
    aux_scales: tuple[tuple[float, ...], ...]   # per output: its size / input size
    stride_multiple: tuple[int, ...]  # input sizes must be multiples of these per axis
    patch: tuple[int, ...] | None     # the spec's input size, if it declares one


def net_info(c: Compiled) -> NetInfo:
    g = c.graph
    inp = g.node(g.inputs[0]).type
    out_types = [g.node(nid).type for _, nid in g.outputs]
    scales = tuple(tuple(float(1 / Fraction(s)) for s in t.stride) for t in out_types)
    main = next((i for i, t in enumerate(out_types) if all(s == 1 for s in t.stride)), 0)
    multiple = tuple(_axis_multiple(g.nodes, axis) for axis in range(g.dims))
    return NetInfo(g.dims, inp.channels, out_types[main].channels,
                   tuple(name for name, _ in g.outputs), main, scales, multiple,
                   tuple(c.input_size) if c.input_size else None)


def _axis_multiple(nodes, axis: int) -> int:
    """Least common multiple of the integer strides on an axis (down-sampling depth)."""
    m = 1
    for n in nodes:
        s = Fraction(n.type.stride[axis])
        if s.denominator == 1:
            m = math.lcm(m, s.numerator)
    return m


def main_output(outputs: Any, info: NetInfo) -> torch.Tensor:
    if isinstance(outputs, (tuple, list)):
        return outputs[info.main_output]
    return outputs


__all__ = ["GenotypeNet", "NetInfo", "net_info", "main_output"]
