"""Expression evaluation with effects: op, composite and cell application add IR nodes."""

from __future__ import annotations

from typing import Any

from nasdsl.diagnostics import suggest
from nasdsl.ir.graph import Call, CellInstance
from nasdsl.ir.types import TensorType
from nasdsl.ops import REGISTRY, OpError
from nasdsl.sema import exprs as X
from nasdsl.sema.budget import MAX_LIST, NODE_COST, Frame
from nasdsl.sema.context import Elaboration
from nasdsl.sema.choices import Pending, force, force_all, has_pending, mixed_attr, mixed_call
from nasdsl.sema.exprs import EvalError, Silent
from nasdsl.sema.scope import MAX_CALL_DEPTH, Env, Return, loop_range
from nasdsl.sema.values import POISON, CellVal, OpRef, OpSetVal, Symbol, Tensor, kind_of, show
from nasdsl.source import Span
from nasdsl.syntax import ast as A
from nasdsl.syntax.fmt import expr as fmt_expr


FUNCTIONS = ("len", "min", "max", "sum", "int", "round", "channels")


def eval_expr(el: Elaboration, e: A.Expr, env: "Env") -> Any:
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


def eval_lazy(el: Elaboration, e: A.Expr, env: "Env") -> Any:
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


def lookup(el: Elaboration, e: A.Name, env: "Env") -> Any:
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


def comprehension(el: Elaboration, e: A.Comprehension, env: "Env") -> tuple:
    lo = X.as_int(eval_expr(el, e.lo, env), e.lo.span, "a range bound")
    hi = X.as_int(eval_expr(el, e.hi, env), e.hi.span, "a range bound")
    if hi - lo > MAX_LIST:
        raise EvalError("E0220", f"range has {hi - lo} items", e.span,
                        f"lists and ranges are limited to {MAX_LIST} items")
    saved = env.vars.get(e.var, _MISSING)
    out = []
    el.budget.push(Frame("loop", e.var, e.span))
    try:
        for i in loop_range(lo, hi, e.reverse):
            el.budget.tick(e.span)
            el.budget.set_index(i)
            env.vars[e.var] = i
            out.append(eval_expr(el, e.element, env))
    finally:
        el.budget.pop()
        if saved is _MISSING:
            env.vars.pop(e.var, None)
        else:
            env.vars[e.var] = saved
    return tuple(out)


_MISSING = object()


def call(el: Elaboration, e: A.Call, env: "Env") -> Any:
    func = eval_lazy(el, e.func, env)
    args = [eval_lazy(el, a, env) for a in e.args]
    kwargs = {k.name: eval_lazy(el, k.value, env) for k in e.kwargs}
    if any(v is POISON for v in [func, *args, *kwargs.values()]):
        raise Silent()
    el.budget.tick(e.span)
    el.call_choices = _choices_in(el, e, env)
    if isinstance(func, Pending):
        return _call_pending(el, func, args, kwargs, e)
    if isinstance(func, Symbol) and func.name in FUNCTIONS:
        force_all(args)
        force_all(kwargs)
        return builtin_function(el, func.name, args, kwargs, e)
    if isinstance(func, OpRef) and not args and kwargs:
        return bind_attributes(func, kwargs, e)
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


def bind_attributes(op: OpRef, kwargs: dict, e: A.Call) -> OpRef:
    """`up_conv(output_padding=0)`: an op with attributes bound, for op sets and calls."""
    opdef = REGISTRY.get(op.name)
    if opdef is not None:
        for k in kwargs:
            if opdef.attr(k) is None or k == "role":
                raise EvalError("E0208", f"op `{op.name}` has no attribute `{k}`", e.span,
                                suggest(k, [a.name for a in opdef.attrs if a.name != "role"]))
    force_all(kwargs)   # a bound attribute is a decided value
    bound = {**dict(op.kwargs), **kwargs}
    return OpRef(op.name, tuple(sorted(bound.items())), op.composite)


def _choices_in(el: Elaboration, e: A.Call, env: "Env") -> str:
    """`dil[2] = 3` for arguments that name a value choice (for call-site notes)."""
    if not el.choice_values:
        return ""
    out = []
    for arg in [*e.args, *(k.value for k in e.kwargs)]:
        if isinstance(arg, (A.Name, A.Index)):
            try:
                text = el.candidate_label(arg, env)
            except (EvalError, Silent):
                continue
            if text in el.choice_values:
                out.append(f"{text} = {el.choice_values[text]}")
    return ", ".join(out)


def _call_pending(el: Elaboration, func: Pending, args: list, kwargs: dict,
                  e: A.Call) -> Any:
    """Calling an undecided op-set choice: a mixed node when every op is a built-in."""
    first = func.point.domain[0]
    if not isinstance(first, OpRef) or first.composite is not None:
        force(func)
    tensors, attrs = split_args(OpRef(first.name), args, kwargs, e)
    return mixed_call(el, func, tensors, attrs, e.span)


def builtin_function(el: Elaboration, name: str, args: list, kwargs: dict,
                     e: A.Call) -> Any:
    if kwargs:
        raise EvalError("E0207", f"`{name}` takes no keyword arguments", e.span)
    if name in ("int", "round", "channels"):
        return _unary_function(name, args, e)
    flat = _flatten(args)
    if name == "sum":
        tensors = [t for t in flat if isinstance(t, Tensor)]
        if len(tensors) != len(flat) or not tensors:
            raise EvalError("E0207", "`sum` adds one or more tensors", e.span,
                            "an empty list has no sum: keep at least one input"
                            if not flat else None)
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


def _unary_function(name: str, args: list, e: A.Call) -> Any:
    """`int(x)` truncates toward zero, `round(x)` rounds half to even (as Python);
    `channels(t)` is a tensor's channel count."""
    if len(args) != 1:
        raise EvalError("E0207", f"`{name}` takes one argument, found {len(args)}", e.span)
    v = args[0]
    if name == "channels":
        if not isinstance(v, Tensor):
            raise EvalError("E0207", f"`channels` takes a tensor, found {kind_of(v)}", e.span)
        return v.type.channels
    if not X.is_number(v):
        raise EvalError("E0207", f"`{name}` takes a number, found {kind_of(v)}", e.span)
    return X.check_range(int(v) if name == "int" else round(v), e.span)


def _flatten(values: list) -> list:
    out: list = []
    for v in values:
        out.extend(_flatten(list(v)) if isinstance(v, tuple) else [v])
    return out


def _spread_tensor_lists(args: list, variadic: bool) -> list:
    """Lists of tensors splice into the arguments (`concat(up, skip)`); an empty list
    splices to nothing for variadic ops, whose attributes are never lists."""
    out: list = []
    for a in args:
        flat = _flatten([a]) if isinstance(a, tuple) else [a]
        if isinstance(a, tuple) and (flat or variadic) and all(
                isinstance(t, Tensor) for t in flat):
            out.extend(flat)
        else:
            out.append(a)
    return out


def split_args(op: OpRef, args: list, kwargs: dict, e: A.Call) -> tuple[list, dict]:
    """Tensors first (lists of tensors are spread), then attributes by position."""
    opdef = REGISTRY[op.name]
    # lists of tensors are spread (`concat(n)`); other tuples are attribute values
    flat = _spread_tensor_lists(args, opdef.arity is None)
    if opdef.arity is None and not any(isinstance(v, Tensor) for v in flat):
        empty = [fmt_expr(a) for a, v in zip(e.args, args) if v == ()]
        raise EvalError("E0209", f"`{op.name}` got no tensors" + (
            f": {', '.join(f'`{t}`' for t in empty)} is empty here" if empty else ""),
            e.span, f"`{op.name}` needs at least one tensor; an input choice with "
            "`keep 0..` can leave a list empty, so add a tensor that is always there")
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


def apply_builtin(el: Elaboration, op: OpRef, tensors: list[Tensor], attrs: dict,
                  span: Span, path: tuple[str, ...] | None) -> Tensor:
    dims = el.need_dims(span)
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
    nid = el.add_node(op.name, tuple(sorted(norm.items())), tuple(t.node for t in tensors),
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
                  el: Elaboration, env: "Env") -> None:
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


def _enter(el: Elaboration, e: A.Call, name: str, choices: str) -> tuple:
    if el.depth >= MAX_CALL_DEPTH:
        raise EvalError("E0234", f"`{name}` calls itself too deeply (recursion?)", e.span,
                        f"calls nest at most {MAX_CALL_DEPTH} levels")
    saved = (el.scope, el.hint, el.cell, el.loops, el.call)
    el.loops = ()  # a body's loop indices qualify names within that body only
    el.budget.tick(e.span, NODE_COST - 1)   # a call did tick once already
    el.depth += 1
    el.scope = el.fresh_path(el.hint or name)
    el.budget.push(Frame("call", name, e.span, choices=choices))
    return saved


def _leave(el: Elaboration, saved: tuple) -> None:
    el.scope, el.hint, el.cell, el.loops, el.call = saved
    el.depth -= 1
    el.budget.pop()


def _open_call(el: Elaboration, kind: str, defn: A.OpDef | A.CellDef, env: "Env",
               e: A.Call) -> None:
    """Record the call (emitters outline it as one module), with its tensor formals."""
    formals: list[tuple[str, int]] = []
    for f in defn.formals:
        value = env.vars.get(f.name)
        if isinstance(value, Tensor):
            formals.append((f.name, value.node))
        elif isinstance(value, (list, tuple)):
            formals.extend((f"{f.name}_{i}", v.node) for i, v in enumerate(_flatten(list(value)))
                           if isinstance(v, Tensor))
    el.calls.append(Call(len(el.calls), kind, defn.name, el.scope, el.call, tuple(formals),
                         e.span, defn.span))
    el.call = len(el.calls) - 1


def _run_body(el: Elaboration, defn: A.OpDef | A.CellDef, env: "Env") -> Any:
    """The body's return value; Silent when the body reported an error (its value is
    then unknown, and nothing downstream should report again)."""

    failures_before = el.failures
    try:
        el.block(defn.body, env)
    except Return as ret:
        value = ret.value
    else:
        if el.failures > failures_before:
            raise Silent() from None   # the `return` itself was poisoned
        raise EvalError("E0235", f"`{defn.name}` does not `return` a value", defn.span)
    if el.failures > failures_before:
        raise Silent()
    return value


def call_composite(el: Elaboration, op: OpRef, args: list, kwargs: dict,
                   e: A.Call) -> Any:

    defn = op.composite
    assert defn is not None
    choices, env = el.call_choices, Env(el.root_env)
    _bind_formals(defn, args, {**dict(op.kwargs), **kwargs}, e, el, env)
    saved = _enter(el, e, defn.name, choices)
    _open_call(el, "op", defn, env, e)
    try:
        return _run_body(el, defn, env)
    finally:
        _leave(el, saved)


def call_cell(el: Elaboration, cell: CellVal, args: list, kwargs: dict, e: A.Call) -> Any:

    defn = cell.defn
    if el.cell is not None:
        raise EvalError("E0236", "cells cannot be nested inside cells", e.span)
    choices, env = el.call_choices, Env(el.root_env)
    _bind_formals(defn, args, kwargs, e, el, env)
    saved = _enter(el, e, defn.name, choices)
    instance = el.scope[-1]
    _open_call(el, "cell", defn, env, e)
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


FITS = {"exact": "add", "authors": "resize_add"}


def node_join(el: Elaboration, s: A.Nodes, env: "Env") -> OpRef:
    """How a cell node sums its edges: `fit=exact` (default) adds edges of one size;
    `fit=authors` nearest-resizes them to the largest first (NAS-Unet's code)."""
    join = OpRef("add")
    for opt in s.options:
        if opt.name != "fit":
            raise EvalError("E0250", f"a `nodes` block has no option `{opt.name}`", opt.span,
                            "the option is `fit=exact` or `fit=authors`")
        value = eval_expr(el, opt.value, env)
        if value is POISON:
            raise Silent()
        name = getattr(value, "name", value)
        if name not in FITS:
            raise EvalError("E0250", f"`fit` is `exact` or `authors`, found {show(value)}",
                            opt.value.span)
        join = OpRef(FITS[name])
    return join


def join_path(join: OpRef, base: tuple[str, ...]) -> tuple[str, ...]:
    """`add` is inline and named after the node; a join module sits below it."""
    return base if join.name == "add" else base + ("join",)


def check_mixed_join(el: Elaboration, join: OpRef, s: A.Nodes) -> None:
    """`fit=authors` reproduces a derived network; a supernet's mixed edges must agree in
    size, so a space elaborated with it gets a warning (once) instead of a supernet that
    fails at its first step."""
    if join.name == "add" or any(d.code == "W0250" for d in el.sink.items):
        return
    el.sink.warning("W0250", "`fit=authors` applies to decided nodes (genotypes); a "
                    "supernet of this space would sum edges of different sizes", s.span,
                    "search with `fit=exact` (for NAS-Unet: without `-D up=authors`), then "
                    "build the genotype with it")


def out_type(el: Elaboration, op: OpRef, x: TensorType, role: str | None,
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
