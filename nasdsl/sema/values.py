"""Values of the elaborator: what expressions in a spec evaluate to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nasdsl.ir.types import TensorType
from nasdsl.syntax import ast as A


@dataclass(frozen=True, slots=True)
class Symbol:
    """A bare name that is not bound: an enum member such as `relu` or `group`."""
    name: str


@dataclass(frozen=True, slots=True)
class Tensor:
    node: int
    type: TensorType


@dataclass(frozen=True, slots=True)
class OpRef:
    """An op (built-in or composite) with some keyword arguments bound."""
    name: str
    kwargs: tuple[tuple[str, Any], ...] = ()
    composite: A.OpDef | None = None
    via: str | None = field(default=None, compare=False)  # the op choice that chose it


@dataclass(frozen=True, slots=True)
class OpSetVal:
    name: str
    entries: tuple[tuple[str, OpRef], ...]  # (label, op)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(label for label, _ in self.entries)


@dataclass(frozen=True, slots=True)
class CellVal:
    defn: A.CellDef


class Poison:
    """The value of an expression that already produced an error (suppresses cascades)."""

    _instance: "Poison | None" = None

    def __new__(cls) -> "Poison":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<error>"


POISON = Poison()


def value_key(v: Any) -> Any:
    """A hashable key under which genotype values are compared with domain values."""
    if isinstance(v, Symbol):
        return ("sym", v.name)
    if isinstance(v, OpRef):
        return ("sym", v.name) if not v.kwargs else ("op", v.name, v.kwargs)
    if isinstance(v, tuple):
        return tuple(value_key(x) for x in v)
    if isinstance(v, bool):
        return ("bool", v)
    return v


def show(v: Any) -> str:
    """Spec-syntax text of a value, as used in genotypes and summaries."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Symbol):
        return v.name
    if isinstance(v, OpRef):
        if not v.kwargs:
            return v.name
        return f"{v.name}(" + ", ".join(f"{k}={show(x)}" for k, x in v.kwargs) + ")"
    if isinstance(v, tuple):
        inner = ", ".join(show(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, Tensor):
        return f"tensor ({v.type.describe()})"
    if isinstance(v, OpSetVal):
        return f"op set `{v.name}`"
    if isinstance(v, CellVal):
        return f"cell `{v.defn.name}`"
    return str(v)


def kind_of(v: Any) -> str:
    """A short type name for messages."""
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, Symbol):
        return f"the name `{v.name}`"
    if isinstance(v, Tensor):
        return "a tensor"
    if isinstance(v, OpRef):
        return f"the op `{v.name}`"
    if isinstance(v, OpSetVal):
        return "an op set"
    if isinstance(v, CellVal):
        return "a cell"
    if isinstance(v, tuple):
        return "a list"
    return type(v).__name__
