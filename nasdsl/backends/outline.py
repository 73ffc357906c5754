"""Outlined emission: one nn.Module class per cell type and per composite op.

The elaborator records every cell or composite-op application as a `Call` (ir/graph.py)
and tags the nodes it made. Here each call becomes a *scope*: a module instance whose
`__init__` builds the modules made directly inside it and whose `forward` computes them.
Scopes of the same cell or op with the same structure share one class; the constructor
values that differ between them (channels, stride, ...) become the class's parameters.

Attribute paths are the flat emitter's (one `ModuleNamer` over the node paths in graph
order), so the state_dict keys are the same, and modules are built in graph order, so
parameter order and random initialisation are the same too. Statements run in graph
order: a single-use module output is written inside its user only when that keeps the
order of evaluation (see `_Writer.take`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from nasdsl.backends.emit_safety import provenance
from nasdsl.backends.lines import fit
from nasdsl.diagnostics import InternalError
from nasdsl.ir.graph import Call, Graph, Node
from nasdsl.ir.names import ModuleNamer, Namespace, local_ident, module_path
from nasdsl.ops import REGISTRY, combinators
from nasdsl.ops.impl_source import REQUIRED, impl_params

INDENT = 8  # method bodies
Stmt = tuple[str, str, set[str]]   # (code, spec position, local names it reads)
SHORT = 60  # longest operand text written inline (a longer one gets its own statement)


def src(span) -> str:
    return f"{provenance(Path(span.file.path).name)}:{span.line}"


@dataclass
class Scope:
    call: Call | None                      # None: the model itself
    attr: str = ""                         # dotted attribute below the model
    members: list[int] = field(default_factory=list)       # nodes made directly here
    children: list["Scope"] = field(default_factory=list)
    nodes: set[int] = field(default_factory=set)           # made here or below
    inputs: list[tuple[str, int]] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    cls: str = ""                          # class of this instance
    args: list[tuple[str, Any]] = field(default_factory=list)  # its constructor arguments

    @property
    def first(self) -> int:
        return min(self.nodes)

    @property
    def path(self) -> tuple[str, ...]:
        return self.call.path if self.call is not None else ()


@dataclass
class Decl:
    kind: str                              # container | leaf | child
    attr: str                              # relative to the scope
    cls: str
    args: list[tuple[str | None, Any]]
    src: str


@dataclass
class Body:
    """One scope's class text, before its constructor values are lifted to parameters."""
    decls: list[Decl]
    forward: list[str]
    inputs: list[str]

    def skeleton(self) -> tuple:
        return (tuple(self.forward), tuple(self.inputs),
                tuple((d.kind, d.attr, d.cls, tuple(k for k, _ in d.args), d.src)
                      for d in self.decls))

    def values(self) -> list[Any]:
        return [v for d in self.decls for _, v in d.args]


@dataclass
class ClassText:
    name: str
    doc: str
    params: list[str]
    init: list[str]
    inputs: list[str]
    forward: list[str]


def leaf_attrs(graph: Graph) -> dict[int, str]:
    """The flat emitter's attribute path of every module node (same namer, same order)."""
    namer = ModuleNamer()
    return {n.id: namer.attr_path(n.path) for n in graph.nodes
            if n.op != "input" and REGISTRY[n.op].impl is not None}


def scopes(graph: Graph, attrs: dict[int, str]) -> Scope:
    """The model's scope tree. A call without modules, or whose nodes are interleaved
    with others, or whose modules do not lie below its path, joins its parent."""
    calls = {c.id: c for c in graph.calls}
    below: dict[int, set[int]] = {cid: set() for cid in calls}
    for n in graph.nodes:
        cid = n.call
        while cid is not None:
            below[cid].add(n.id)
            cid = calls[cid].parent
    order = {n.id: i for i, n in enumerate(graph.nodes)}
    kept = {cid for cid in calls if _outlinable(calls[cid], below[cid], order, graph, attrs)}

    def owner(cid: int | None) -> int | None:
        while cid is not None and cid not in kept:
            cid = calls[cid].parent
        return cid

    root = Scope(None, nodes={n.id for n in graph.nodes})
    made = {cid: Scope(calls[cid], nodes=below[cid]) for cid in sorted(kept)}
    for cid, scope in made.items():
        parent = owner(calls[cid].parent)
        (made[parent] if parent is not None else root).children.append(scope)
        leaf = next(i for i in sorted(scope.nodes) if i in attrs)
        scope.attr = ".".join(attrs[leaf].split(".")[: len(scope.path)])
    for n in graph.nodes:
        cid = owner(n.call)
        (made[cid] if cid is not None else root).members.append(n.id)
    _wire(root, graph, graph.users())
    return root


def _outlinable(call: Call, nodes: set[int], order: dict[int, int], graph: Graph,
                attrs: dict[int, str]) -> bool:
    leaves = [i for i in nodes if i in attrs]
    if not leaves:
        return False
    spots = sorted(order[i] for i in nodes)
    if spots[-1] - spots[0] + 1 != len(spots):
        return False
    depth = len(call.path)
    heads = {".".join(attrs[i].split(".")[:depth]) for i in leaves}
    return len(heads) == 1 and all(graph.node(i).path[:depth] == call.path for i in nodes)


def _wire(scope: Scope, graph: Graph, users: dict[int, list[int]]) -> None:
    """Each scope's inputs (named after the call's formals) and outputs."""
    for child in scope.children:
        _wire(child, graph, users)
    if scope.call is None:
        return
    outside = {i for n in scope.nodes for i in graph.node(n).inputs if i not in scope.nodes}
    named: dict[int, str] = {}
    for name, nid in scope.call.formals:   # formal order first, then any other reads
        if nid in outside:
            named.setdefault(nid, name)
    scope.inputs = list((name, nid) for nid, name in named.items())
    scope.inputs += [("x", i) for i in sorted(outside - set(named))]
    results = {nid for _, nid in graph.outputs}
    scope.outputs = sorted(n for n in scope.nodes
                           if n in results or any(u not in scope.nodes for u in users[n]))


class _Writer:
    """Statements of one forward, in graph order; module outputs used once are written
    inside their user when no other statement would run between them."""

    def __init__(self, scope: Scope, graph: Graph, attrs: dict[int, str],
                 reserved: set[str]):
        self.scope, self.graph = scope, graph
        self.prefix = scope.attr + "." if scope.attr else ""
        self.attrs = attrs
        self.names = Namespace(reserved)
        self.value: dict[int, str] = {}       # node -> local name or pending expression
        self.reads: dict[int, set[str]] = {}  # node -> the local names its value mentions
        self.pending: list[int] = []
        self.lines: list[Stmt] = []
        self.defined: dict[int, str] = {}
        self.last = _last_under(scope, graph)
        self.inputs = [self.bind(nid, local_ident(name)) for name, nid in scope.inputs]

    def bind(self, nid: int, base: str) -> str:
        name = self.names.fresh(base)
        self.value[nid] = name
        self.reads[nid] = {name}
        self.defined[nid] = name
        return name

    def reading(self, operands: list[int]) -> set[str]:
        return set().union(*(self.reads[o] for o in operands))

    def rel(self, attr: str) -> str:
        if not attr.startswith(self.prefix):
            raise InternalError(f"module `{attr}` is outside scope `{self.scope.attr}`")
        return attr[len(self.prefix):]

    def take(self, operands: list[int], deferred: bool = False) -> list[str]:
        """Operand texts. A statement uses every pending expression, in the order they
        were made; a deferred (itself pending) expression the newest ones. Otherwise
        the pending ones are written out first, as statements of their own, so that
        everything still runs in graph order."""
        inline = [o for o in operands if o in self.pending]
        keep = len(self.pending) - len(inline) if deferred else 0
        if (inline != self.pending[keep:]
                or sum(len(self.value[o]) for o in operands) > SHORT):
            self.flush()
            keep = 0
        self.pending = self.pending[:keep]
        return [self.value[o] for o in operands]

    def flush(self) -> None:
        for nid in self.pending:
            node = self.graph.node(nid)
            expr, reads = self.value[nid], self.reads[nid]
            self.emit(self.bind(nid, self.local_base(nid)), expr, src(node.span), reads)
        self.pending = []

    def emit(self, target: str, expr: str, comment: str, reads: set[str]) -> None:
        self.lines.append((f"{target} = {expr}", comment, reads))

    def local_base(self, nid: int) -> str:
        rel = self.graph.node(nid).path[len(self.scope.path):]
        idents = module_path(rel) if rel else ("out",)
        if len(rel) >= 2 and self.last.get(rel[:-1]) == nid:
            idents = idents[:-1]   # the statement's last op names it: `enc_0`, not `enc_0_norm`
        return "_".join(idents)

    def node(self, node: Node, inlinable: bool) -> None:
        if REGISTRY[node.op].impl is None and len(node.inputs) == 1:
            self.alias(node, inlinable)
            return
        args = self.take(list(node.inputs), deferred=inlinable)
        reads = self.reading(list(node.inputs))   # after take: flushed operands are names
        if REGISTRY[node.op].impl is not None:
            expr = f"self.{self.rel(self.attrs[node.id])}({', '.join(args)})"
        else:
            expr = combinators.source(node.op, args)
        self.settle(node, expr, inlinable, reads)

    def alias(self, node: Node, inlinable: bool) -> None:
        """A one-operand combinator computes nothing: it names its operand."""
        source = node.inputs[0]
        if source in self.pending:
            if not inlinable:
                self.flush()
            else:
                self.pending[self.pending.index(source)] = node.id
        self.value[node.id] = self.value[source]
        self.reads[node.id] = self.reads[source]
        if source in self.defined:
            self.defined[node.id] = self.defined[source]

    def settle(self, node: Node, expr: str, inlinable: bool, reads: set[str]) -> None:
        if inlinable:
            self.value[node.id], self.reads[node.id] = expr, reads
            self.pending.append(node.id)
            return
        self.emit(self.bind(node.id, self.local_base(node.id)), expr, src(node.span), reads)

    def child(self, child: Scope) -> None:
        operands = [nid for _, nid in child.inputs]
        args = self.take(operands)
        reads = self.reading(operands)
        expr = f"self.{self.rel(child.attr)}({', '.join(args)})"
        comment = src(child.call.span)
        base = self.rel(child.attr).replace(".", "_")
        if len(child.outputs) == 1:
            self.emit(self.bind(child.outputs[0], base), expr, comment, reads)
            return
        targets = [self.bind(o, f"{base}_{i}") for i, o in enumerate(child.outputs)]
        self.emit(", ".join(targets), expr, comment, reads)

    def finish(self, outputs: list[int]) -> list[Stmt]:
        """The statements, ending in `return`: the last one returns its value directly
        when it computes the only result."""
        self.flush()
        names = [self.value[o] for o in outputs]
        last = self.lines[-1] if self.lines else None
        if (len(outputs) == 1 and last is not None and outputs[0] in self.defined
                and last[0].startswith(self.defined[outputs[0]] + " = ")):
            code, comment, reads = self.lines.pop()
            self.lines.append(("return " + code.split(" = ", 1)[1], comment, reads))
        else:
            where = src(self.graph.node(outputs[0]).span)   # the first result's statement
            self.lines.append(("return " + ", ".join(names), where, set(names)))
        return self.lines


def _takes_inline(node: Node, user: int, graph: Graph) -> bool:
    """A module's output goes inline into any user; a sum or concat only into a module
    call (a sum inside a sum would read as one, and `a + (b + c)` rounds differently)."""
    return (REGISTRY[node.op].impl is not None
            or REGISTRY[graph.node(user).op].impl is not None)


def _last_under(scope: Scope, graph: Graph) -> dict[tuple[str, ...], int]:
    """For each path prefix below the scope, the last item (node or call) under it."""
    depth = len(scope.path)
    last: dict[tuple[str, ...], int] = {}
    items = [(n, graph.node(n).path[depth:]) for n in scope.members]
    items += [(max(c.nodes), c.path[depth:]) for c in scope.children]
    for nid, rel in items:
        for i in range(1, len(rel) + 1):
            last[rel[:i]] = max(last.get(rel[:i], nid), nid)
    return last


@dataclass(frozen=True)
class Facts:
    """Graph-wide facts every scope's writer needs, computed once."""
    users: dict[int, list[int]]
    uses: dict[int, int]        # how many times each value is read (outputs count)

    @staticmethod
    def of(graph: Graph) -> "Facts":
        users = graph.users()
        uses = {nid: len(us) for nid, us in users.items()}
        for _, nid in graph.outputs:
            uses[nid] += 1
        return Facts(users, uses)


def forward_lines(scope: Scope, graph: Graph, attrs: dict[int, str], reserved: set[str],
                  facts: Facts) -> tuple[list[str], list[Stmt]]:
    """(input names, statements) of the scope's forward."""
    w = _Writer(scope, graph, attrs, reserved)
    here = set(scope.members)
    owner = {n: c for c in scope.children for n in c.nodes}
    users = facts.users
    outputs = set(scope.outputs) | ({nid for _, nid in graph.outputs}
                                    if scope.call is None else set())
    items: list[tuple[int, Any]] = [(n, None) for n in scope.members
                                    if graph.node(n).op != "input"]
    items += [(c.first, c) for c in scope.children]
    for first, child in sorted(items, key=lambda item: item[0]):
        if child is not None:
            w.child(child)
            continue
        node = graph.node(first)
        user = users[first][0] if users[first] else None
        inlinable = (facts.uses.get(first, 0) == 1 and first not in outputs and user is not None
                     and (user in owner or user in here and _takes_inline(node, user, graph)))
        w.node(node, inlinable)
    return w.inputs, w.finish(sorted(outputs))


def decls(scope: Scope, graph: Graph, attrs: dict[int, str],
          ctor: Callable[[Node], list[tuple[str | None, Any]]]) -> list[Decl]:
    """The modules the scope's `__init__` builds, in graph order, with their containers;
    a module below a child instance is set on it right after the child is built."""
    prefix = scope.attr + "." if scope.attr else ""
    children = {c.attr[len(prefix):]: c for c in scope.children}
    out: list[Decl] = []
    made: set[str] = set()
    waiting: dict[str, list[Decl]] = {}

    def contain(rel: str, comment: str) -> bool:
        parts = rel.split(".")
        for i in range(1, len(parts)):
            head = ".".join(parts[:i])
            if head in children:
                return head in made
            if head not in made:
                made.add(head)
                out.append(Decl("container", head, "nn.Module", [], comment))
        return True

    def place(d: Decl) -> None:
        if not contain(d.attr, d.src):
            head = next(h for h in children if d.attr.startswith(h + "."))
            waiting.setdefault(head, []).append(d)
            return
        made.add(d.attr)
        out.append(d)
        for later in waiting.pop(d.attr, []):
            place(later)

    items: list[tuple[int, Any]] = [(n, None) for n in scope.members if n in attrs]
    items += [(c.first, c) for c in scope.children]
    for first, child in sorted(items, key=lambda item: item[0]):
        if child is not None:
            rel = child.attr[len(prefix):]
            place(Decl("child", rel, child.cls, list(child.args), src(child.call.span)))
        else:
            node = graph.node(first)
            place(Decl("leaf", attrs[first][len(prefix):], REGISTRY[node.op].impl,
                       ctor(node), src(node.span)))
    if waiting:
        raise InternalError(f"modules below {sorted(waiting)} have no container")
    return out


def lift(bodies: list[Body], names: Namespace) -> tuple[list[str], dict[int, str]]:
    """Constructor values that differ between instances become parameters, one per
    distinct column of values, named after the argument (and, when two differing
    columns share that name, after the module too); returns names and slot -> name."""
    columns = list(zip(*(b.values() for b in bodies)))
    slots = [(k or "arg", d.attr.replace(".", "_")) for d in bodies[0].decls for k, _ in d.args]
    varying: dict[tuple, list[int]] = {}
    for i, column in enumerate(columns):
        if len({repr(v) for v in column}) > 1:   # repr: True == 1, but not as source
            varying.setdefault(tuple(repr(v) for v in column), []).append(i)
    kws = [slots[group[0]][0] for group in varying.values()]
    params: list[str] = []
    out: dict[int, str] = {}
    for group in varying.values():
        kw, owner = slots[group[0]]
        name = names.fresh(f"{owner}_{kw}" if kws.count(kw) > 1 else kw)
        params.append(name)
        out.update({i: name for i in group})
    return params, out


def doc(call: Call) -> str:
    kind = "Cell" if call.kind == "cell" else "Op"
    return f"{kind} `{call.name}`."


def init_lines(body: Body, slots: dict[int, str], render: Callable[[Any], str],
               header: Mapping[str, Any]) -> list[str]:
    """The `__init__` statements: a lifted value by its parameter's name, an op's
    argument equal to its class's default left out (see `op_call_args`)."""
    out: list[str] = []
    i = 0
    for d in body.decls:
        here = range(i, i + len(d.args))
        i += len(d.args)
        texts = [slots[j] if j in slots else render(v) for j, (_, v) in zip(here, d.args)]
        if d.kind == "leaf":
            rendered = op_call_args(d.cls, d.args, texts, [j in slots for j in here], header)
        else:
            rendered = [f"{k}={t}" if k else t for (k, _), t in zip(d.args, texts)]
        out.append(fit(f"self.{d.attr} = {d.cls}({', '.join(rendered)})", d.src, INDENT))
    return out


def op_call_args(cls: str, args: list[tuple[str | None, Any]], texts: list[str],
                 lifted: list[bool], header: Mapping[str, Any]) -> list[str]:
    """An op constructor's arguments as written: those equal to the default in the
    class's own signature (ops/impl_source.py reads it) left out, unless lifted to a
    parameter; leading required ones positional (the first always, a later one when
    passed a parameter of its own name), the others by keyword; a per-axis value of an
    argument with an int default, the same on every axis, as that int (`padding=1` for
    `(1, 1)`). `header`: the values of the module constants (DIMS, GROUPS) that
    defaults name."""
    params = impl_params(cls, header)
    defaults = dict(params)
    dims = header["DIMS"]
    out: list[str] = []
    leading: list[str] = []
    for (k, v), text, is_param in zip(args, texts, lifted):
        if k not in defaults:
            raise InternalError(f"`{cls}` takes no argument `{k}`")
        default = defaults[k]
        broadcast = _int(default) and not is_param
        value = _uniform(v, dims) if broadcast and _uniform(v, dims) is not None else v
        if not is_param and _is_default(value, default):
            continue
        text = str(value) if value is not v else text
        # leading required arguments positional: the first, and any later one passed
        # a parameter of its own name (`Conv(in_channels, out_channels, padding=1)`)
        positional = (default is REQUIRED and len(out) == len(leading)
                      and k == params[len(out)][0] and (not out or text == k))
        if positional:
            leading.append(k)
        out.append(text if positional else f"{k}={text}")
    return out


def _is_default(value: Any, default: Any) -> bool:
    """Compared as written (by repr), so True is not 1."""
    return default is not REQUIRED and repr(value) == repr(default)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _uniform(value: Any, dims: int) -> int | None:
    """The int a per-axis tuple repeats on every axis, else None. torch's layers read
    an int as that value on every axis, and ops/torch_impl.py gives an int default only
    to arguments that reach them: there `(1, 1)` and `1` are one value."""
    if isinstance(value, tuple) and len(value) == dims and all(_int(x) for x in value) \
            and len(set(value)) == 1:
        return value[0]
    return None
