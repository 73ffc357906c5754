"""OpDef: the single definition of an op, shared by the front end and all backends.

An op is defined once: its attributes (validated and normalised here), its shape rule,
its exact parameter count and FLOP formula, and the torch class that implements it
(by name, in ``nasdsl.ops.torch_impl``; this module never imports torch so that the
front end stays instant). Backends only look ops up; they never re-derive semantics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Mapping

from nasdsl.ir.types import TensorType

# Attribute kinds:
#   int     a non-negative integer
#   axes    an int broadcast to every spatial axis, or a tuple with one int per axis
#   symbol  one of AttrSpec.symbols (written as a bare name in a spec)
#   bool    true / false
#   float   a real number
ATTR_KINDS = ("int", "axes", "symbol", "bool", "float")
ROLES = ("normal", "down", "up")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class OpError(Exception):
    """An op cannot be applied as written (bad attribute, incompatible input)."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True, slots=True)
class AttrSpec:
    name: str
    kind: str
    default: Any = None          # None = required
    symbols: tuple[str, ...] = ()
    minimum: int | None = None
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is None


# Attrs as seen by the formulas: name -> normalised value ("axes" are tuples of ints).
Attrs = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class OpDef:
    """One op.

    arity: number of tensor inputs (None = one or more, e.g. concat).
    roles: for ops usable on a cell edge (unary, channels in == out): the roles they
        serve. An op listing several roles takes a ``role`` attribute filled in by the
        cell (e.g. DARTS ops stride 2 on down edges).
    infer(attrs, in_types) -> out TensorType, raising OpError.
    params(attrs, in_types, out_type) -> exact parameter count.
    flops(attrs, in_types, out_type, in_sizes, out_size) -> multiply-accumulates x 2.
    impl: class name in nasdsl.ops.torch_impl (None for ops lowered inline, e.g. add).
    ctor(attrs, in_types, out_type) -> keyword arguments of impl's constructor
        (``dims=`` is always passed in addition, by keyword).
    """

    name: str
    arity: int | None
    attrs: tuple[AttrSpec, ...]
    infer: Callable[[Attrs, tuple[TensorType, ...]], TensorType]
    params: Callable[[Attrs, tuple[TensorType, ...], TensorType], int]
    flops: Callable[..., int]
    impl: str | None
    ctor: Callable[[Attrs, tuple[TensorType, ...], TensorType], dict[str, Any]]
    roles: tuple[str, ...] = ()
    doc: str = ""
    family: str = "core"
    tags: frozenset[str] = field(default_factory=frozenset)
    # Output-sized tensors autograd keeps for the backward pass (memory estimate);
    # a conv-norm-act block keeps about three, an inline add none.
    saved: float = 1.0

    def attr(self, name: str) -> AttrSpec | None:
        for a in self.attrs:
            if a.name == name:
                return a
        return None

    @property
    def is_edge_op(self) -> bool:
        return bool(self.roles)

    @property
    def has_role_attr(self) -> bool:
        return self.attr("role") is not None

    def normalise(self, given: Mapping[str, Any], dims: int) -> dict[str, Any]:
        """Validate attribute values and fill defaults; raises OpError."""
        out: dict[str, Any] = {}
        known = {a.name for a in self.attrs}
        for key in given:
            if key not in known:
                raise OpError(f"op `{self.name}` has no attribute `{key}`",
                              _attr_hint(self, key))
        for spec in self.attrs:
            if spec.name in given:
                out[spec.name] = _check_attr(self, spec, given[spec.name], dims)
            elif spec.required:
                raise OpError(f"op `{self.name}` needs attribute `{spec.name}`",
                              f"write `{spec.name}=...`")
            else:
                out[spec.name] = _check_attr(self, spec, spec.default, dims)
        return out


def _attr_hint(op: OpDef, key: str) -> str | None:
    import difflib

    names = [a.name for a in op.attrs]
    close = difflib.get_close_matches(key, names, n=1)
    if close:
        return f"did you mean `{close[0]}`?"
    return "its attributes are: " + ", ".join(f"`{n}`" for n in names) if names else None


def _check_attr(op: OpDef, spec: AttrSpec, value: Any, dims: int) -> Any:
    where = f"attribute `{spec.name}` of `{op.name}`"
    if spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise OpError(f"{where} must be an integer, found {describe_value(value)}")
        if spec.minimum is not None and value < spec.minimum:
            raise OpError(f"{where} must be at least {spec.minimum}, found {value}")
        return value
    if spec.kind == "axes":
        if isinstance(value, int) and not isinstance(value, bool):
            value = (value,) * dims
        if not isinstance(value, tuple) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise OpError(f"{where} must be an integer or one integer per axis, "
                          f"found {describe_value(value)}")
        if len(value) != dims:
            raise OpError(f"{where} has {len(value)} values but the network has {dims} "
                          f"spatial axes", "give one value per axis, or a single integer")
        lo = 1 if spec.minimum is None else spec.minimum
        if any(v < lo for v in value):
            raise OpError(f"{where} must be at least {lo} on every axis, found {value}")
        return value
    if spec.kind == "symbol":
        name = getattr(value, "name", value)
        if not isinstance(name, str) or name not in spec.symbols:
            import difflib

            close = difflib.get_close_matches(str(name), spec.symbols, n=1)
            hint = f"did you mean `{close[0]}`?" if close else (
                "one of " + ", ".join(f"`{s}`" for s in spec.symbols))
            raise OpError(f"{where} must be one of {', '.join(spec.symbols)}; "
                          f"found {describe_value(value)}", hint)
        return name
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise OpError(f"{where} must be true or false, found {describe_value(value)}")
        return value
    if spec.kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise OpError(f"{where} must be a number, found {describe_value(value)}")
        return float(value)
    raise AssertionError(f"unknown attribute kind {spec.kind}")


def describe_value(value: Any) -> str:
    name = getattr(value, "name", None)
    if isinstance(name, str):
        return f"`{name}`"
    if isinstance(value, tuple):
        return "(" + ", ".join(describe_value(v) for v in value) + ")"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


REGISTRY: dict[str, OpDef] = {}


def register(opdef: OpDef) -> OpDef:
    """Add an op; names are lowercase snake_case and unique (as onnxscript's torch_op)."""
    if not _NAME.match(opdef.name):
        raise ValueError(f"bad op name {opdef.name!r}")
    if opdef.name in REGISTRY:
        raise ValueError(f"op {opdef.name!r} registered twice")
    for role in opdef.roles:
        if role not in ROLES:
            raise ValueError(f"op {opdef.name!r}: unknown role {role!r}")
    for a in opdef.attrs:
        if a.kind not in ATTR_KINDS:
            raise ValueError(f"op {opdef.name!r}: unknown attribute kind {a.kind!r}")
    REGISTRY[opdef.name] = opdef
    return opdef


def get_op(name: str) -> OpDef | None:
    return REGISTRY.get(name)


def halve(t: TensorType) -> TensorType:
    return t.scaled(tuple(Fraction(2) for _ in t.stride))


def double(t: TensorType) -> TensorType:
    return t.scaled(tuple(Fraction(1, 2) for _ in t.stride))
