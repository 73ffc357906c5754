"""Expression evaluation with effects: op, composite and cell application add IR nodes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nasdsl.diagnostics import suggest
from nasdsl.ir.graph import CellInstance
from nasdsl.ir.types import TensorType
from nasdsl.ops import REGISTRY, OpError
from nasdsl.sema import exprs as X
from nasdsl.sema.choices import Pending, force, force_all, has_pending, mixed_attr, mixed_call
from nasdsl.sema.exprs import EvalError, Silent
from nasdsl.sema.values import POISON, CellVal, OpRef, OpSetVal, Symbol, Tensor, kind_of, show
from nasdsl.source import Span
from nasdsl.syntax import ast as A
from nasdsl.syntax.fmt import expr as fmt_expr

if TYPE_CHECKING:
    from nasdsl.sema.elaborate import Elaborator, Env

FUNCTIONS = ("len", "min", "max", "sum")


def eval_expr(el: "Elaborator", e: A.Expr, env: "Env") -> Any:
    if isinstance(e, (A.IntLit, A.FloatLit, A.StrLit, A.BoolLit)):
        return e.value
    if isinstance(e, (A.Name, A.Index)):
        return force(eval_lazy(el, e, env))
    if isinstance(e, A.BinOp):
        left = eval_expr(el, e.left, env)
        right = eval_expr(el, e.right, env)
        if left is POISON or right is POISON:
            raise Silent()
        if e.op == "+" and isinstance(left, Tensor) and isinstance(right, Tensor):
            return el.apply_op(OpRef("add"), [left, right], {}, e.span)
        return X.arith(e.op, left, right, e.span)
    if isinstance(e, A.UnaryOp):
        v = eval_expr(el, e.operand, env)
        if v is POISON:
            raise Silent()
        return X.negate(v, e.span) if e.op == "-" else X.logical_not(v, e.span)
    if isinstance(e, (A.TupleLit, A.ListLit)):
        return tuple(eval_expr(el, i, env) for i in e.items)
    if isinstance(e, A.Comprehension):
        return comprehension(el, e, env)
    if isinstance(e, A.Call):
        return call(el, e, env)
    raise TypeError(f"no evaluation for {type(e).__name__}")


def eval_lazy(el: "Elaborator", e: A.Expr, env: "Env") -> Any:
    """A name or index may evaluate to an undecided choice (`Pending`); see choices.py."""
    if isinstance(e, A.Name):
        return lookup(el, e, env)
    if isinstance(e, A.Index):
        base = eval_expr(el, e.base, env) if not isinstance(e.base, (A.Name, A.Index)) \
            else eval_lazy(el, e.base, env)
        key = eval_expr(el, e.index, env)
        if base is POISON or key is POISON:
            raise Silent()
        force(base)
        return X.index_value(base, key, e.span, fmt_expr(e.base))
    return eval_expr(el, e, env)


def lookup(el: "Elaborator", e: A.Name, env: "Env") -> Any:
    try:
        value = env.lookup(e.id)
    except KeyError:
        pass
    else:
        if value is POISON:
            raise Silent()
        return value
    if e.id in REGISTRY:
        return OpRef(e.id)
    if e.id in el.symbols or e.id in FUNCTIONS:
        return Symbol(e.id)
    known = env.names() | set(REGISTRY) | el.symbols
    raise EvalError("E0200", f"unknown name `{e.id}`", e.span, suggest(e.id, known))


def comprehension(el: "Elaborator", e: A.Comprehension, env: "Env") -> tuple:
    lo = X.as_int(eval_expr(el, e.lo, env), e.lo.span, "a range bound")
    hi = X.as_int(eval_expr(el, e.hi, env), e.hi.span, "a range bound")
    if hi - lo > 10_000:
        raise EvalError("E0220", "range is too long", e.span)
    saved = env.vars.get(e.var, _MISSING)
    out = []
    for i in range(lo, hi):
        env.vars[e.var] = i
        out.append(eval_expr(el, e.element, env))
    if saved is _MISSING:
        env.vars.pop(e.var, None)
    else:
        env.vars[e.var] = saved
    return tuple(out)


_MISSING = object()


def call(el: "Elaborator", e: A.Call, env: "Env") -> Any:
    func = eval_lazy(el, e.func, env)
    args = [eval_lazy(el, a, env) for a in e.args]
    kwargs = {k.name: eval_lazy(el, k.value, env) for k in e.kwargs}
    if any(v is POISON for v in [func, *args, *kwargs.values()]):
        raise Silent()
    if isinstance(func, Pending):
        return _call_pending(el, func, args, kwargs, e)
    if isinstance(func, Symbol) and func.name in FUNCTIONS:
        force_all(args)
        force_all(kwargs)
        return builtin_function(el, func.name, args, kwargs, e)
    if isinstance(func, OpRef) and func.composite is not None:
        return call_composite(el, func, args, kwargs, e)
    if isinstance(func, OpRef):
        tensors, attrs = split_args(func, args, kwargs, e)
        if has_pending(attrs):
            return mixed_attr(el, func, tensors, attrs, e.span)
        return el.apply_op(func, tensors, attrs, e.span)
    if isinstance(func, CellVal):
        return call_cell(el, func, args, kwargs, e)
    if isinstance(func, Symbol):
        raise EvalError("E0200", f"unknown op `{func.name}`", e.func.span,
                        suggest(func.name, set(REGISTRY) | env.names()))
    raise EvalError("E0206", f"{kind_of(func)} cannot be called", e.func.span)


def _call_pending(el: "Elaborator", func: Pending, args: list, kwargs: dict,
                  e: A.Call) -> Any:
    """Calling an undecided op-set choice: a mixed node when every op is a built-in."""
    first = func.point.domain[0]
    if not isinstance(first, OpRef) or first.composite is not None:
        force(func)
    tensors, attrs = split_args(OpRef(first.name), args, kwargs, e)
    return mixed_call(el, func, tensors, attrs, e.span)


def builtin_function(el: "Elaborator", name: str, args: list, kwargs: dict,
                     e: A.Call) -> Any:
    if kwargs:
        raise EvalError("E0207", f"`{name}` takes no keyword arguments", e.span)
    flat = _flatten(args)
    if name == "sum":
        tensors = [t for t in flat if isinstance(t, Tensor)]
        if len(tensors) != len(flat) or not tensors:
            raise EvalError("E0207", "`sum` adds one or more tensors", e.span)
        if len(tensors) == 1:
            return tensors[0]
        return el.apply_op(OpRef("add"), tensors, {}, e.span)
    if name == "len":
        if len(args) != 1 or not isinstance(args[0], tuple):
            raise EvalError("E0207", "`len` takes one list", e.span)
        return len(args[0])
    if not flat or not all(X.is_number(v) for v in flat):
        raise EvalError("E0207", f"`{name}` takes numbers", e.span)
    return min(flat) if name == "min" else max(flat)


def _flatten(values: list) -> list:
    out: list = []
    for v in values:
        out.extend(_flatten(list(v)) if isinstance(v, tuple) else [v])
    return out


def _spread_tensor_lists(args: list) -> list:
    out: list = []
    for a in args:
        flat = _flatten([a]) if isinstance(a, tuple) else [a]
        if isinstance(a, tuple) and flat and all(isinstance(t, Tensor) for t in flat):
            out.extend(flat)
        else:
            out.append(a)
    return out


def split_args(op: OpRef, args: list, kwargs: dict, e: A.Call) -> tuple[list, dict]:
    """Tensors first (lists of tensors are spread), then attributes by position."""
    opdef = REGISTRY[op.name]
    # lists of tensors are spread (`concat(n)`); other tuples are attribute values
    flat = _spread_tensor_lists(args)
    tensors = []
    i = 0
    while i < len(flat) and isinstance(flat[i], Tensor):
        tensors.append(flat[i])
        i += 1
    rest = flat[i:]
    if any(isinstance(v, Tensor) for v in rest):
        raise EvalError("E0208", f"tensor arguments of `{op.name}` must come first", e.span)
    attrs = dict(op.kwargs)
    names = [a.name for a in opdef.attrs if a.name != "role"]
    if len(rest) > len(names):
        raise EvalError("E0208", f"`{op.name}` takes at most {len(names)} attribute "
                        f"argument(s) after its tensors, found {len(rest)}", e.span,
                        "attributes: " + ", ".join(names) if names else None)
    for name, value in zip(names, rest):
        attrs[name] = value
    for k, v in kwargs.items():
        if k in dict(zip(names, rest)):
            raise EvalError("E0208", f"attribute `{k}` of `{op.name}` is given twice", e.span)
        attrs[k] = v
    return tensors, attrs


def apply_builtin(el: "Elaborator", op: OpRef, tensors: list[Tensor], attrs: dict,
                  span: Span, path: tuple[str, ...] | None) -> Tensor:
    dims = el._need_dims(span)
    opdef = REGISTRY[op.name]
    if opdef.arity is not None and len(tensors) != opdef.arity:
        raise EvalError("E0209", f"`{op.name}` takes {opdef.arity} tensor input(s), found "
                        f"{len(tensors)}", span)
    if opdef.arity is None and not tensors:
        raise EvalError("E0209", f"`{op.name}` needs at least one tensor", span)
    in_types = tuple(t.type for t in tensors)
    try:
        norm = opdef.normalise({**dict(op.kwargs), **attrs}, dims)
        out = opdef.infer(norm, in_types)
    except OpError as err:
        raise EvalError(_op_code(err), err.message, span, err.hint) from None
    if opdef.name == "identity":
        return tensors[0]
    if path is None:
        path = el.fresh_op_path(op.via or op.name)
    nid = el._node(op.name, tuple(sorted(norm.items())), tuple(t.node for t in tensors),
                   out, path, span)
    return Tensor(nid, out)


def _op_code(err: OpError) -> str:
    text = err.message
    if "stride" in text and ("concat" in text or "add" in text or "differ" in text):
        return "E0302"
    if "channel" in text and ("add" in text or "differ" in text):
        return "E0303"
    return "E0300"


def _bind_formals(defn: A.OpDef | A.CellDef, args: list, kwargs: dict, e: A.Call,
                  el: "Elaborator", env: "Env") -> None:
    formals = defn.formals
    if len(args) > len(formals):
        raise EvalError("E0208", f"`{defn.name}` takes {len(formals)} argument(s), found "
                        f"{len(args)}", e.span)
    names = [f.name for f in formals]
    for k in kwargs:
        if k not in names:
            raise EvalError("E0208", f"`{defn.name}` has no argument `{k}`", e.span,
                            suggest(k, names))
    for i, f in enumerate(formals):
        if i < len(args):
            if f.name in kwargs:
                raise EvalError("E0208", f"argument `{f.name}` is given twice", e.span)
            env.vars[f.name] = args[i]
        elif f.name in kwargs:
            env.vars[f.name] = kwargs[f.name]
        elif f.default is not None:
            env.vars[f.name] = eval_expr(el, f.default, env)
        else:
            raise EvalError("E0208", f"`{defn.name}` needs argument `{f.name}`", e.span)


def _enter(el: "Elaborator", e: A.Call, name: str) -> tuple:
    from nasdsl.sema.elaborate import MAX_CALL_DEPTH

    if el.depth >= MAX_CALL_DEPTH:
        raise EvalError("E0234", f"`{name}` calls itself too deeply (recursion?)", e.span)
    saved = (el.scope, el.hint, el.cell, el.loops)
    el.loops = ()  # a body's loop indices qualify names within that body only
    el.depth += 1
    el.scope = el.fresh_path(el.hint or name)
    return saved


def _leave(el: "Elaborator", saved: tuple) -> None:
    el.scope, el.hint, el.cell, el.loops = saved
    el.depth -= 1


def _run_body(el: "Elaborator", defn: A.OpDef | A.CellDef, env: "Env") -> Any:
    from nasdsl.sema.elaborate import _Return

    errors_before = len(el.sink.errors)
    try:
        el.block(defn.body, env)
    except _Return as ret:
        value = ret.value
    else:
        raise EvalError("E0235", f"`{defn.name}` does not `return` a value", defn.span)
    if len(el.sink.errors) > errors_before:
        raise Silent()
    return value


def call_composite(el: "Elaborator", op: OpRef, args: list, kwargs: dict,
                   e: A.Call) -> Any:
    from nasdsl.sema.elaborate import Env

    defn = op.composite
    assert defn is not None
    env = Env(el.root_env)
    _bind_formals(defn, args, {**dict(op.kwargs), **kwargs}, e, el, env)
    saved = _enter(el, e, defn.name)
    try:
        return _run_body(el, defn, env)
    finally:
        _leave(el, saved)


def call_cell(el: "Elaborator", cell: CellVal, args: list, kwargs: dict, e: A.Call) -> Any:
    from nasdsl.sema.elaborate import Env

    defn = cell.defn
    if el.cell is not None:
        raise EvalError("E0236", "cells cannot be nested inside cells", e.span)
    env = Env(el.root_env)
    _bind_formals(defn, args, kwargs, e, el, env)
    saved = _enter(el, e, defn.name)
    instance = el.scope[-1]
    el.cell = defn.name
    try:
        value = _run_body(el, defn, env)
    finally:
        _leave(el, saved)
    if not isinstance(value, Tensor):
        raise EvalError("E0237", f"cell `{defn.name}` must return a tensor, found "
                        f"{show(value)}", defn.span)
    ins = tuple(a.node for a in _flatten(args) if isinstance(a, Tensor))
    el.cells.append(CellInstance(instance, defn.name, ins, value.node, e.span))
    return value


def out_type(el: "Elaborator", op: OpRef, x: TensorType, role: str | None,
             span: Span) -> TensorType:
    """Type an edge op would give, without adding a node (for mixed edges)."""
    opdef = REGISTRY[op.name]
    attrs = dict(op.kwargs)
    if role is not None and opdef.has_role_attr:
        attrs["role"] = role
    try:
        return opdef.infer(opdef.normalise(attrs, x.dims), (x,))
    except OpError as err:
        raise EvalError("E0300", err.message, span, err.hint) from None


__all__ = ["eval_expr", "OpSetVal", "Symbol"]
