"""Context of templates/outlined.py.j2: the default standalone module, one class per
cell type and composite op (nasdsl/backends/outline.py finds them), then the model.

Every identifier comes from ir/names.py (through `Namespace`), every value through
`render_value`, every line through `lines.fit`; the template only lays them out.
"""

from __future__ import annotations

from typing import Any

from nasdsl.api import Compiled
from nasdsl.backends.lines import fit
from nasdsl.backends.outline import (INDENT, Body, Facts, Scope, Stmt, decls, doc,
                                     forward_lines, init_lines, leaf_attrs, lift, scopes, src)
from nasdsl.backends.torch_src import (LOCALS_RESERVED, frozen_graph, header_context,
                                       input_checks, render_value)
from nasdsl.ir.graph import Graph, Node
from nasdsl.ir.names import Namespace, class_ident, module_path
from nasdsl.ops import REGISTRY
from nasdsl.ops.impl_source import impl_names

_TOP = {"MEMORY_FORMAT", "NUM_PARAMETERS", "INPUT_CHANNELS", "SIZE_MULTIPLE", "Model",
        "_check_input"}


def build_outlined_context(c: Compiled, channels_last: bool = False) -> dict[str, Any]:
    graph = frozen_graph(c)
    attrs = leaf_attrs(graph)
    root = scopes(graph, attrs)
    header = header_context(c, {REGISTRY[graph.node(n).op].impl for n in attrs}, channels_last)
    names = Namespace(set(impl_names()) | LOCALS_RESERVED | _TOP | {header["class_name"]})
    facts = Facts.of(graph)
    classes = [cls for level in _levels(root)
               for cls in _classes(level, graph, attrs, names, facts, header["constants"])]
    root.inputs = [("_".join(module_path(graph.node(n).path)) or "x", n) for n in graph.inputs]
    inputs, stmts = forward_lines(root, graph, attrs, LOCALS_RESERVED, facts)
    model = Body(decls(root, graph, attrs, lambda n: _ctor(graph, n)), [], inputs)
    unit = src(c.unit.span)
    first_input = src(graph.node(graph.inputs[0]).span)
    checks = [fit(check, src(graph.node(nid).span), INDENT)
              for check, nid in zip(input_checks(graph, inputs), graph.inputs)]
    return {**header, "outlined": True, "classes": classes, "class_line": fit(
                f"class {header['class_name']}(nn.Module):", unit, 0),
            "init_def": fit("def __init__(self):", unit, 4),
            "forward_def": fit(f"def forward({', '.join(['self'] + inputs)}):", first_input, 4),
            "input_checks": checks, "inputs": inputs,
            "init": init_lines(model, {}, render_value, header["constants"]),
            "body": _with_dels(stmts, set(inputs))}


def _levels(root: Scope) -> list[list[Scope]]:
    """Non-root scopes by height (a scope's children are on lower levels), each level
    in graph order: classes are written before the classes that use them."""
    levels: dict[int, list[Scope]] = {}

    def height(s: Scope) -> int:
        h = 1 + max((height(ch) for ch in s.children), default=-1)
        if s is not root:
            levels.setdefault(h, []).append(s)
        return h

    height(root)
    return [sorted(levels[h], key=lambda s: s.first) for h in sorted(levels)]


def _classes(level: list[Scope], graph: Graph, attrs: dict[int, str], names: Namespace,
             facts: Facts, constants: dict[str, Any]) -> list[dict[str, Any]]:
    """One class per distinct structure of a cell or op on this level; its instances
    learn their class and constructor arguments (used by the level above)."""
    groups: dict[tuple, list[tuple[Scope, Body]]] = {}
    for scope in level:
        inputs, stmts = forward_lines(scope, graph, attrs, LOCALS_RESERVED, facts)
        body = Body(decls(scope, graph, attrs, lambda n: _ctor(graph, n)),
                    _with_dels(stmts, set(inputs)), inputs)
        key = (scope.call.kind, scope.call.name, body.skeleton())
        groups.setdefault(key, []).append((scope, body))
    out = []
    for members in groups.values():
        first, body = members[0]
        name = names.fresh(class_ident(first.call.name))
        params, slots = lift([b for _, b in members], Namespace(names.used | {"self", "super"}))
        where = {p: min(i for i, q in slots.items() if q == p) for p in params}
        for scope, b in members:
            values = b.values()
            scope.cls, scope.args = name, [(p, values[where[p]]) for p in params]
        where_defined = src(first.call.defn)
        out.append({"line": fit(f"class {name}(nn.Module):", where_defined, 0),
                    "doc": doc(first.call),
                    "init_def": fit(f"def __init__({', '.join(['self'] + params)}):",
                                    where_defined, 4),
                    "init": init_lines(body, slots, render_value, constants),
                    "forward_def": fit(f"def forward({', '.join(['self'] + body.inputs)}):",
                                       where_defined, 4),
                    "forward": body.forward})
    return out


def _ctor(graph: Graph, node: Node) -> list[tuple[str | None, Any]]:
    opdef = REGISTRY[node.op]
    in_types = tuple(graph.node(i).type for i in node.inputs)
    kwargs = opdef.ctor(dict(node.attrs), in_types, node.type)
    return list(kwargs.items()) + [("dims", graph.dims)]


def _with_dels(stmts: list[Stmt], keep: set[str]) -> list[str]:
    """A forward's statements, each intermediate freed after its last use (as torch.fx
    codegen does) unless that use is the `return`: encoder outputs wait for the decoder,
    which frees them one by one; a cell frees a preprocessed input once its last edge
    has read it (a sum does not keep its operands for backward, so this lowers the peak)."""
    last: dict[str, int] = {}
    for i, (_, _, reads) in enumerate(stmts):
        for name in reads:
            last[name] = i
    out = []
    for i, (code, comment, _) in enumerate(stmts):
        out.append(fit(code, comment, INDENT))
        dead = sorted(n for n, j in last.items() if j == i and n not in keep)
        if dead and not code.startswith("return"):
            out.append("del " + ", ".join(dead))
    return out
