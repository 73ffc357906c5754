"""AST: frozen dataclasses, every node keeps the span that produced it.

Spans are excluded from equality so that `parse(fmt(s)) == parse(s)` compares structure.
No semantics here: names are unresolved, expressions unevaluated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from nasdsl.source import Span


def _span() -> Span:
    return field(compare=False, repr=False)  # type: ignore[return-value]


# ---- expressions -------------------------------------------------------------------
@dataclass(frozen=True)
class IntLit:
    value: int
    span: Span = _span()


@dataclass(frozen=True)
class FloatLit:
    value: float
    span: Span = _span()


@dataclass(frozen=True)
class StrLit:
    value: str
    span: Span = _span()


@dataclass(frozen=True)
class BoolLit:
    value: bool
    span: Span = _span()


@dataclass(frozen=True)
class Name:
    id: str
    span: Span = _span()


@dataclass(frozen=True)
class Index:
    base: "Expr"
    index: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class Kwarg:
    name: str
    value: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class Call:
    func: "Expr"
    args: tuple["Expr", ...]
    kwargs: tuple[Kwarg, ...]
    span: Span = _span()


@dataclass(frozen=True)
class BinOp:
    op: str  # + - * / // % ** == != < <= > >= and or
    left: "Expr"
    right: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class UnaryOp:
    op: str  # - not
    operand: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class TupleLit:
    items: tuple["Expr", ...]
    span: Span = _span()


@dataclass(frozen=True)
class ListLit:
    items: tuple["Expr", ...]
    span: Span = _span()


@dataclass(frozen=True)
class Comprehension:
    element: "Expr"
    var: str
    lo: "Expr"
    hi: "Expr"
    span: Span = _span()
    reverse: bool = False  # `reversed(lo..hi)`: hi-1 down to lo


Expr = Union[IntLit, FloatLit, StrLit, BoolLit, Name, Index, Call, BinOp, UnaryOp,
             TupleLit, ListLit, Comprehension]


# ---- statements --------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    name: str
    indices: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Param:
    name: str
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Let:
    target: Target
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class OpSetEntry:
    label: str | None
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class OpSet:
    name: str
    entries: tuple[OpSetEntry, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Formal:
    name: str
    default: Expr | None
    span: Span = _span()


@dataclass(frozen=True)
class OpDef:
    name: str
    formals: tuple[Formal, ...]
    body: tuple["Stmt", ...]
    span: Span = _span()


@dataclass(frozen=True)
class CellDef:
    name: str
    formals: tuple[Formal, ...]
    body: tuple["Stmt", ...]
    span: Span = _span()


@dataclass(frozen=True)
class ValueChoice:
    target: Target
    domain: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Keep:
    kind: str  # exact | range | any
    lo: Expr | None
    hi: Expr | None
    span: Span = _span()


@dataclass(frozen=True)
class InputChoice:
    target: Target
    candidates: Expr
    keep: Keep
    span: Span = _span()


@dataclass(frozen=True)
class Input:
    name: str
    args: tuple[Expr, ...]
    kwargs: tuple[Kwarg, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Output:
    target: Target
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Assign:
    target: Target
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class For:
    var: str
    lo: Expr
    hi: Expr
    body: tuple["Stmt", ...]
    span: Span = _span()
    reverse: bool = False  # `reversed(lo..hi)`: hi-1 down to lo


@dataclass(frozen=True)
class If:
    cond: Expr
    then: tuple["Stmt", ...]
    orelse: tuple["Stmt", ...] | None  # an `else if` is a 1-tuple holding an If
    span: Span = _span()


@dataclass(frozen=True)
class FromClause:
    source: str  # a tensor name, or `nodes`
    role: str | None  # normal | down | up, when the op set alone does not say
    opset: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Nodes:
    name: str
    count: Expr
    keep: Expr
    clauses: tuple[FromClause, ...]
    span: Span = _span()
    options: tuple[Kwarg, ...] = ()  # `, join=resize_add`


@dataclass(frozen=True)
class Return:
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Setting:
    name: str
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Search:
    settings: tuple[Setting, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Constraint:
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Decision:
    path: tuple[str | int, ...]
    value: Expr
    span: Span = _span()


Stmt = Union[Param, Let, OpSet, OpDef, CellDef, ValueChoice, InputChoice, Input, Output,
             Assign, For, If, Nodes, Return, Search, Constraint, Decision]


# ---- compilation units -------------------------------------------------------------
@dataclass(frozen=True)
class Unit:
    kind: str  # space | arch | genotype
    name: str
    body: tuple[Stmt, ...]
    space_path: str | None  # genotype only: the `of "..."` path
    span: Span = _span()
    comments: tuple[tuple[int, str], ...] = field(default=(), compare=False, repr=False)


def path_text(path: tuple[str | int, ...]) -> str:
    """Decision id text: `DownSC.n[0].p1`."""
    out = ""
    for seg in path:
        if isinstance(seg, int):
            out += f"[{seg}]"
        else:
            out += ("." if out else "") + seg
    return out
