"""The `nodes` block of a cell: M intermediate nodes over candidate edges.

Node j may take an edge from every `from` source and, with `from nodes`, from nodes
0..j-1. Each candidate edge carries an op decision over its op set; each node carries an
inputs decision (keep k of its candidates). Decided nodes become plain ops and an `add`;
undecided ones become `mixed` edges and a `choose` node for the supernet backend.
"""

from __future__ import annotations

from typing import Any

from nasdsl.diagnostics import Note
from nasdsl.ir.decisions import Cond, DecisionPoint, LabelInfo
from nasdsl.ir.graph import Alternative
from nasdsl.ops import REGISTRY
from nasdsl.sema import exprs as X
from nasdsl.sema.apply import check_mixed_join, join_path, node_join, out_type
from nasdsl.sema.context import Elaboration
from nasdsl.sema.exprs import EvalError
from nasdsl.sema.scope import Env
from nasdsl.sema.values import OpRef, OpSetVal, Tensor, show
from nasdsl.syntax import ast as A


class _Source:
    def __init__(self, label: str, tensor: Tensor, role: str, opset: OpSetVal,
                 clause: A.FromClause):
        self.label, self.tensor, self.role, self.opset, self.clause = \
            label, tensor, role, opset, clause


def elaborate_nodes(el: Elaboration, s: A.Nodes, env: "Env") -> None:
    count = X.as_int(el.eval(s.count, env), s.count.span, "the node count")
    keep = X.as_int(el.eval(s.keep, env), s.keep.span, "`keep`")
    if not 1 <= count <= 64:
        raise EvalError("E0250", f"a cell has 1 to 64 nodes, found {count}", s.count.span)
    sources, node_clause = _sources(el, s, env)
    join = node_join(el, s, env)
    nodes: list[Tensor] = []
    for j in range(count):
        cands = list(sources)
        if node_clause is not None:
            for i, t in enumerate(nodes):
                cands.append(_Source(f"{s.name}[{i}]", t, node_clause[0], node_clause[1],
                                     node_clause[2]))
        if len(cands) < keep or keep < 1:
            raise EvalError("E0251", f"node {s.name}[{j}] has {len(cands)} candidate "
                            f"input(s) but keeps {keep}", s.keep.span)
        nodes.append(_node(el, s, j, cands, keep, join))
    el.bind(A.Target(s.name, (), s.span), tuple(nodes), env)


def _sources(el: Elaboration, s: A.Nodes, env: "Env") -> tuple[list[_Source], Any]:
    out: list[_Source] = []
    node_clause = None
    for c in s.clauses:
        opset = _opset(el, c, env)
        if c.source == "nodes":
            node_clause = (_role(c, opset, default="normal"), opset, c)
            continue
        tensor = el.eval(A.Name(c.source, c.span), env)
        if not isinstance(tensor, Tensor):
            raise EvalError("E0252", f"`{c.source}` is {show(tensor)}, not a tensor",
                            c.span)
        out.append(_Source(c.source, tensor, _role(c, opset), opset, c))
    if not out:
        raise EvalError("E0253", "a `nodes` block needs at least one `from` input", s.span)
    return out, node_clause


def _opset(el: Elaboration, c: A.FromClause, env: "Env") -> OpSetVal:
    value = el.eval(c.opset, env)
    if isinstance(value, OpRef):
        value = OpSetVal(value.name, ((value.name, value),))
    if not isinstance(value, OpSetVal):
        raise EvalError("E0254", f"edges take an op set, found {show(value)}", c.opset.span)
    for label, op in value.entries:
        opdef = REGISTRY.get(op.name)
        if opdef is None or not opdef.is_edge_op:
            raise EvalError("E0255", f"`{label}` in `{value.name}` cannot be a cell edge op",
                            c.opset.span, "edge ops are built-in ops with roles "
                            "(e.g. `sep_conv_3x3`, `down_conv`); see docs/LANGUAGE.md")
    return value


def _role(c: A.FromClause, opset: OpSetVal, default: str | None = None) -> str:
    common = None
    for _, op in opset.entries:
        roles = set(REGISTRY[op.name].roles)
        common = roles if common is None else common & roles
    common = common or set()
    if c.role is not None:
        if c.role not in common:
            bad = [lab for lab, op in opset.entries if c.role not in REGISTRY[op.name].roles]
            raise EvalError("E0256", f"op(s) {', '.join(bad)} of `{opset.name}` cannot serve "
                            f"a {c.role} edge", c.span)
        return c.role
    if len(common) == 1:
        return next(iter(common))
    if default is not None and default in common:
        return default
    if not common:
        raise EvalError("E0256", f"the ops of `{opset.name}` share no edge role", c.span,
                        "split the op set by role (normal, down, up)")
    raise EvalError("E0257", f"say which role the edges from `{c.source}` play",
                    c.span, f"write `from {c.source} down: ...` (or normal, up)")


def _node(el: Elaboration, s: A.Nodes, j: int, cands: list[_Source], keep: int,
          join: OpRef = OpRef("add")) -> Tensor:
    node_id = f"{el.cell}.{s.name}[{j}]"
    labels = tuple(c.label for c in cands)
    inputs = DecisionPoint(node_id, "inputs", labels, labels, s.span, keep=(keep, keep),
                           default=labels[:keep], role="node")
    el.record(inputs)
    edge_points = {}
    for c in cands:
        point = DecisionPoint(f"{node_id}.{c.label}", "op", c.opset.labels, c.opset.labels,
                              c.clause.span, parent=(node_id, c.label),
                              default=c.opset.labels[0], role=c.role,
                              condition=(Cond(node_id, (c.label,), "has"),),
                              info=_edge_info(c))
        el.record(point)
        edge_points[c.label] = point
    decided = el.decide_node(inputs, edge_points)
    base = el.scope + (f"{s.name}[{j}]",)
    if decided is None:
        check_mixed_join(el, join, s)
        return _mixed_node(el, s, node_id, cands, keep, base)
    chosen, ops = decided
    edges = []
    for c in cands:
        if c.label not in chosen:
            continue
        op = dict(c.opset.entries)[ops[c.label]]
        attrs = {"role": c.role} if REGISTRY[op.name].has_role_attr else {}
        el.taken.add(base + (c.label,))
        edges.append(el.apply_op(op, [c.tensor], attrs, c.clause.span, base + (c.label,)))
    _same_types(edges, [c for c in cands if c.label in chosen], node_id)
    if len(edges) == 1:
        return edges[0]
    return el.apply_op(join, edges, {}, s.span, join_path(join, base))


def _edge_info(c: _Source) -> tuple[LabelInfo, ...]:
    """Per label: the op, the edge's role and the op's tags (zero, pool, identity)."""
    return tuple(LabelInfo(label, op.name, c.role, REGISTRY[op.name].tags)
                 for label, op in c.opset.entries)


def _mixed_node(el: Elaboration, s: A.Nodes, node_id: str, cands: list[_Source],
                keep: int, base: tuple[str, ...]) -> Tensor:
    edges = []
    for c in cands:
        alts, ttype = [], None
        for label, op in c.opset.entries:
            t = out_type(el, op, c.tensor.type, c.role, c.clause.span)
            if ttype is not None and t != ttype:
                raise EvalError("E0258", f"candidate ops of the edge from `{c.label}` disagree "
                                f"on the output: `{alts[0].label}` gives {ttype.describe()}, "
                                f"`{label}` gives {t.describe()}", c.clause.span)
            ttype = t
            attrs = dict(op.kwargs)
            if REGISTRY[op.name].has_role_attr:
                attrs["role"] = c.role
            norm = REGISTRY[op.name].normalise(attrs, ttype.dims)
            alts.append(Alternative(label, op.name, tuple(sorted(norm.items()))))
        assert ttype is not None
        path = base + (c.label,)
        el.taken.add(path)
        nid = el.add_node("mixed", (("alternatives", tuple(alts)),
                                 ("decision", f"{node_id}.{c.label}"), ("role", c.role)),
                       (c.tensor.node,), ttype, path, c.clause.span)
        edges.append(Tensor(nid, ttype))
    _same_types(edges, cands, node_id)
    nid = el.add_node("choose", (("decision", node_id), ("keep", keep),
                              ("labels", tuple(c.label for c in cands))),
                   tuple(e.node for e in edges), edges[0].type, base, s.span)
    return Tensor(nid, edges[0].type)


def _same_types(edges: list[Tensor], cands: list[_Source], node_id: str) -> None:
    first = edges[0].type
    for t, c in zip(edges[1:], cands[1:]):
        if t.type != first:
            raise EvalError(
                "E0259", f"edges into `{node_id}` disagree: the edge from `{cands[0].label}` "
                f"gives {first.describe()}, the edge from `{c.label}` gives "
                f"{t.type.describe()}", c.clause.span,
                "check the roles: down edges halve the resolution, up edges double it",
                (Note(cands[0].clause.span, f"edge from `{cands[0].label}`"),))
