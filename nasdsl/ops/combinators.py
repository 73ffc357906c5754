"""Edge combinators, defined once for every backend: the ops without a module.

A combinator is data: an infix operator folded left to right over its operands, or a
torch function called on their list along the channel axis; a single operand passes
through. `source` writes it as Python for the emitted modules, `run` applies it to
tensors in the supernet interpreter. Both read the same entry, so an emitted model and
the supernet add the same tensors in the same order (float sums depend on it).
This module imports torch only inside `run`, so the front end stays torch-free.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from typing import Any, Sequence

from nasdsl.diagnostics import InternalError


@dataclass(frozen=True)
class Combinator:
    name: str
    infix: str | None = None       # "+": x0 + x1 + x2, i.e. (x0 + x1) + x2
    function: str | None = None    # "cat": torch.cat([x0, x1, x2], dim=1)


COMBINATORS = {c.name: c for c in (Combinator("add", infix="+"),
                                   Combinator("concat", function="cat"))}
_INFIX = {"+": operator.add}


def _get(op: str) -> Combinator:
    if op not in COMBINATORS:
        raise InternalError(f"op `{op}` has no module and is no combinator")
    return COMBINATORS[op]


def source(op: str, operands: Sequence[str]) -> str:
    """The combinator as a Python expression over operand texts."""
    c = _get(op)
    if len(operands) == 1:
        return operands[0]
    if c.infix is not None:
        return f" {c.infix} ".join(operands)
    return f"torch.{c.function}([{', '.join(operands)}], dim=1)"


def run(op: str, tensors: Sequence[Any]) -> Any:
    """The combinator applied to tensors: what `source` writes, evaluated."""
    c = _get(op)
    if len(tensors) == 1:
        return tensors[0]
    if c.infix is not None:
        return functools.reduce(_INFIX[c.infix], tensors)
    import torch

    return getattr(torch, str(c.function))(list(tensors), dim=1)
