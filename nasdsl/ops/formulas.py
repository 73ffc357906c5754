"""Shape, parameter and FLOP formulas shared by the op definitions (pure Python, no torch).

FLOP convention (one forward pass of one sample):
  - conv / transposed conv / linear: 2 x multiply-accumulates, plus 1 per output element
    for a bias;
  - elementwise ops, normalisation, activations, pooling, nearest interpolation, the
    gating multiply: 1 per output element; the add of n tensors: n - 1 per output element;
  - linear (bi/trilinear) interpolation: 2 x 2^dims per output element (a MAC per corner);
  - global reductions (the squeeze of squeeze-and-excitation): 1 per input element;
  - identity, concat, zero and dropout (inference) cost nothing beyond the above.
The counts are exact for this convention, so they can be compared across specs; they are
not a model of kernel run time.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Iterable, Sequence

from nasdsl.ir.types import TensorType
from nasdsl.ops.registry import OpError, double, halve


def prod(values: Iterable[int]) -> int:
    return math.prod(values)


# ---- shapes ------------------------------------------------------------------------------

def same_padding(op: str, kernel: tuple[int, ...], stride: tuple[int, ...],
                 dilation: tuple[int, ...]) -> tuple[int, ...]:
    """Padding that makes a conv or pool give exactly input / stride on every axis.

    Odd kernels pad dilation*(kernel-1)/2 (output = ceil(n / stride) = n / stride when the
    stride divides n, which the front end checks); an even kernel works only as a
    non-overlapping window (kernel == stride, no dilation, no padding).
    """
    pads = []
    for axis, (k, s, d) in enumerate(zip(kernel, stride, dilation)):
        if k % 2 == 1:
            pads.append(d * (k - 1) // 2)
        elif k == s and d == 1:
            pads.append(0)
        else:
            raise OpError(
                f"`{op}` with kernel {k}, stride {s} and dilation {d} on axis {axis} would "
                f"not give exactly input/stride elements",
                "use an odd kernel, or an even kernel equal to the stride without dilation")
    return tuple(pads)


def transpose_padding(op: str, kernel: tuple[int, ...], stride: tuple[int, ...]
                      ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(padding, output_padding) making a transposed conv give exactly stride x input.

    out = (n-1)*s - 2p + k + op must equal s*n, i.e. op = s + 2p - k. For k >= s take the
    smallest p with op >= 0 (op is then 0 or 1); for k < s, p = 0 and op = s - k. torch
    needs op < s, which fails only for an even kernel with stride 1.
    """
    pads, extra = [], []
    for axis, (k, s) in enumerate(zip(kernel, stride)):
        p = (k - s + 1) // 2 if k >= s else 0
        o = s + 2 * p - k
        if not 0 <= o < s:
            raise OpError(
                f"`{op}` with kernel {k} and stride {s} on axis {axis} cannot give exactly "
                f"{s} x the input size", "use an odd kernel where the stride is 1")
        pads.append(p)
        extra.append(o)
    return tuple(pads), tuple(extra)


def strided(t: TensorType, stride: tuple[int, ...]) -> TensorType:
    """Type after a layer with this stride (down-sampling multiplies the stride)."""
    return t.scaled(tuple(Fraction(s) for s in stride))


def upscaled(t: TensorType, scale: tuple[int, ...]) -> TensorType:
    return t.scaled(tuple(Fraction(1, s) for s in scale))


def gn_groups(channels: int) -> int:
    """NAS-Unet's GroupNorm rule: groups of 16 channels when 16 divides C, else one group."""
    return channels // 16 if channels % 16 == 0 else 1


def se_hidden(channels: int) -> int:
    """NAS-Unet's squeeze-and-excitation bottleneck C//16 (at least 1; see lib_nasunet)."""
    return max(1, channels // 16)


# ---- parameters --------------------------------------------------------------------------

def conv_params(cin: int, cout: int, kernel: Sequence[int], groups: int = 1,
                bias: bool = False) -> int:
    return cout * (cin // groups) * prod(kernel) + (cout if bias else 0)


def conv_transpose_params(cin: int, cout: int, kernel: Sequence[int], groups: int = 1,
                          bias: bool = False) -> int:
    # torch stores (cin, cout/groups, *kernel): the same count as a conv
    return cin * (cout // groups) * prod(kernel) + (cout if bias else 0)


def norm_params(channels: int, affine: bool) -> int:
    """Group, instance and batch norm: a scale and a shift per channel (buffers excluded)."""
    return 2 * channels if affine else 0


def linear_params(fin: int, fout: int, bias: bool = True) -> int:
    return fin * fout + (fout if bias else 0)


# ---- FLOPs -------------------------------------------------------------------------------

def conv_flops(cin: int, cout: int, kernel: Sequence[int], out_size: Sequence[int],
               groups: int = 1, bias: bool = False) -> int:
    outputs = cout * prod(out_size)
    return 2 * outputs * (cin // groups) * prod(kernel) + (outputs if bias else 0)


def conv_transpose_flops(cin: int, cout: int, kernel: Sequence[int], in_size: Sequence[int],
                         out_size: Sequence[int], groups: int = 1, bias: bool = False) -> int:
    # every input element scatters into kernel x cout/groups outputs
    macs = cin * prod(in_size) * (cout // groups) * prod(kernel)
    return 2 * macs + (cout * prod(out_size) if bias else 0)


def linear_flops(fin: int, fout: int, bias: bool = True) -> int:
    return 2 * fin * fout + (fout if bias else 0)


def elementwise_flops(channels: int, size: Sequence[int]) -> int:
    return channels * prod(size)


def se_params(channels: int) -> int:
    """Squeeze-and-excitation gate: Linear(C, h) -> ReLU -> Linear(h, C), with biases."""
    h = se_hidden(channels)
    return linear_params(channels, h) + linear_params(h, channels)


def se_flops(channels: int, size: Sequence[int]) -> int:
    """Squeeze (global mean), the two linears, ReLU, sigmoid, and the gating multiply."""
    h = se_hidden(channels)
    squeeze = channels * prod(size)
    excite = linear_flops(channels, h) + h + linear_flops(h, channels) + channels
    return squeeze + excite + elementwise_flops(channels, size)


def by_role(t: TensorType, role: str) -> TensorType:
    """An edge op's output type: down edges halve the resolution, up edges double it."""
    if role == "down":
        return halve(t)
    if role == "up":
        return double(t)
    return t


def describe_stride(t: TensorType) -> str:
    return "(" + ",".join(str(s) for s in t.stride) + ")"
