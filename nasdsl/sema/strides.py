"""E0301: the patch size must be a multiple of the network's total stride.

Checked once after elaboration, so the message names the real requirement (the lcm of
every op's stride on each axis, e.g. 64 for NAS-Unet at depth 5) rather than the first
stride that fails, and nothing downstream of that op is reported as a second error.
"""

from __future__ import annotations

import math
from fractions import Fraction

from nasdsl.diagnostics import Note
from nasdsl.sema.context import Elaboration
from nasdsl.source import Span



def divides(size: tuple[int, ...], stride: tuple[Fraction, ...]) -> bool:
    """Every axis of a tensor at `stride` has a whole, non-zero size."""
    for n, s in zip(size, stride):
        q = Fraction(n) / s
        if q.denominator != 1 or q < 1:
            return False
    return True


def total_stride(el: Elaboration) -> tuple[int, ...]:
    """Per axis, the smallest size every op's stride divides: lcm of the numerators
    (a stride p/q in lowest terms divides n*q/p exactly when p divides n)."""
    dims = len(el.input_size or ())
    out = [1] * dims
    for node in el.nodes:
        for axis, s in enumerate(node.type.stride[:dims]):
            out[axis] = math.lcm(out[axis], Fraction(s).numerator)
    return tuple(out)


def report(el: Elaboration, first: tuple[Span, tuple[Note, ...]]) -> None:
    """One E0301 at the first op that breaks the size, with the spec's call stack."""
    size = el.input_size
    assert size is not None
    need = total_stride(el)
    bad = [a for a, (n, m) in enumerate(zip(size, need)) if n % m]
    if not bad:
        bad = list(range(len(size)))   # a stride larger than the patch itself
    if len(set(size)) == 1 and len(set(need)) == 1 and len(bad) == len(size):
        message = (f"the patch size {size[0]} is not a multiple of the network's total "
                   f"stride {need[0]}")
        hint = f"use a multiple of {need[0]}: {_near(size[0], need[0])}"
    elif len(bad) == 1:
        a = bad[0]
        message = (f"the patch size {size[a]} on axis {a} is not a multiple of the "
                   f"network's total stride {need[a]}")
        hint = f"use a multiple of {need[a]} on axis {a}: {_near(size[a], need[a])}"
    else:
        message = (f"the patch size {_x(size)} is not a multiple of the network's total "
                   f"stride {_x(need)}")
        hint = "use a multiple on every axis: " + _x(
            tuple(_round(n, m) for n, m in zip(size, need)))
    el.sink.error("E0301", message, first[0], hint + " (or fewer downsampling steps)",
                  first[1])


def _near(n: int, m: int) -> str:
    lo = (n // m) * m
    options = [v for v in (lo, lo + m) if v > 0]
    return " or ".join(str(v) for v in options)


def _round(n: int, m: int) -> int:
    return max(m, round(n / m) * m)


def _x(t: tuple[int, ...]) -> str:
    return "x".join(str(v) for v in t)
