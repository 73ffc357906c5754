"""Expression evaluation: constants, arithmetic, names and indexing.

Op and cell application lives in the elaborator; this module only computes values.
"""

from __future__ import annotations

import operator
from typing import Any, Callable

from nasdsl.source import Span
from nasdsl.syntax import ast as A
from nasdsl.sema.values import POISON, Symbol, Tensor, kind_of

MAX_INT = 2 ** 53
MAX_LIST = 10_000  # as nasdsl.sema.budget.MAX_LIST (imported there; no cycle here)


class EvalError(Exception):
    """A spec error found while evaluating; the statement loop turns it into a diagnostic."""

    def __init__(self, code: str, message: str, span: Span | None, hint: str | None = None,
                 notes: tuple = ()):
        super().__init__(message)
        self.code, self.message, self.span, self.hint, self.notes = \
            code, message, span, hint, notes


class Indexed:
    """Values bound to indexed names such as `X[1][2]` (nested by index)."""

    def __init__(self, name: str):
        self.name = name
        self.items: dict[int, Any] = {}

    def get(self, key: int, span: Span, text: str) -> Any:
        if key not in self.items:
            have = ", ".join(str(k) for k in sorted(self.items)) or "none"
            raise EvalError("E0201", f"`{text}[{key}]` is not defined", span,
                            f"defined indices: {have}")
        return self.items[key]


_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "//": operator.floordiv,
    "%": operator.mod,
}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
}


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_range(v: Any, span: Span) -> Any:
    if is_int(v) and abs(v) > MAX_INT:
        raise EvalError("E0202", "number is out of range", span,
                        "values in specs stay below 2**53")
    if isinstance(v, float) and (v != v or abs(v) == float("inf")):
        raise EvalError("E0202", "number is out of range", span)
    return v


def arith(op: str, left: Any, right: Any, span: Span) -> Any:
    """Numbers, and `+` on lists. Tensor `+` is handled by the caller (it adds a node)."""
    if op in _COMPARE:
        if isinstance(left, Tensor) or isinstance(right, Tensor):
            raise EvalError("E0203", "tensors cannot be compared", span)
        try:
            return _COMPARE[op](_cmp_key(left), _cmp_key(right))
        except TypeError:
            raise EvalError("E0203", f"cannot compare {kind_of(left)} with {kind_of(right)}",
                            span) from None
    if op in ("and", "or"):
        for v in (left, right):
            if not isinstance(v, bool):
                raise EvalError("E0203", f"`{op}` needs booleans, found {kind_of(v)}", span)
        return (left and right) if op == "and" else (left or right)
    if op == "+" and isinstance(left, tuple) and isinstance(right, tuple):
        if len(left) + len(right) > MAX_LIST:
            raise EvalError("E0220", f"list has {len(left) + len(right)} items", span,
                            f"lists are limited to {MAX_LIST} items")
        return left + right
    if not (is_number(left) and is_number(right)):
        raise EvalError("E0203", f"`{op}` needs numbers, found {kind_of(left)} and "
                        f"{kind_of(right)}", span)
    if op in ("/", "//", "%") and right == 0:
        raise EvalError("E0204", "division by zero", span)
    if op == "/":
        if is_int(left) and is_int(right) and left % right == 0:
            return left // right
        return check_range(left / right, span)
    if op == "**":
        if is_int(right) and not 0 <= right <= 64 or abs(left) > MAX_INT:
            raise EvalError("E0202", "exponent is out of range", span,
                            "exponents are integers from 0 to 64")
        return check_range(left ** right, span)
    return check_range(_ARITH[op](left, right), span)


def _cmp_key(v: Any) -> Any:
    if isinstance(v, Symbol):
        return ("sym", v.name)
    return v


def negate(v: Any, span: Span) -> Any:
    if not is_number(v):
        raise EvalError("E0203", f"`-` needs a number, found {kind_of(v)}", span)
    return -v


def logical_not(v: Any, span: Span) -> Any:
    if not isinstance(v, bool):
        raise EvalError("E0203", f"`not` needs a boolean, found {kind_of(v)}", span)
    return not v


def as_int(v: Any, span: Span, what: str) -> int:
    if v is POISON:
        raise _Silent()
    if not is_int(v):
        raise EvalError("E0205", f"{what} must be an integer, found {kind_of(v)}", span)
    return v


def index_value(base: Any, key: Any, span: Span, text: str) -> Any:
    if isinstance(base, Indexed):
        return base.get(as_int(key, span, "an index"), span, text)
    if isinstance(base, tuple):
        i = as_int(key, span, "an index")
        if not -len(base) <= i < len(base):
            raise EvalError("E0201", f"index {i} is out of range for `{text}` "
                            f"({len(base)} items)", span)
        return base[i]
    raise EvalError("E0205", f"`{text}` is {kind_of(base)} and cannot be indexed", span)


class _Silent(Exception):
    """Raised when an operand is already poisoned: the error was reported once."""


Silent = _Silent


def literal(e: A.Expr) -> Any:
    if isinstance(e, (A.IntLit, A.FloatLit, A.StrLit, A.BoolLit)):
        return e.value
    raise TypeError(e)
