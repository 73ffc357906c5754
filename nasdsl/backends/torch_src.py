"""Standalone backend, PyTorch source: a frozen graph -> one self-contained .py file.

The context builder computes every identifier and every line here; the jinja template
(templates/module.py.j2) only lays them out. Op semantics come from the registry: each
op's module is the registry's `impl` class, whose source is copied into the file, so the
output imports nothing but torch.
"""

from __future__ import annotations

import ast
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from nasdsl import __version__
from nasdsl.analysis.resources import param_bounds
from nasdsl.analysis.strides import size_multiple
from nasdsl.api import Compiled
from nasdsl.backends.emit_safety import check_emitted, provenance
from nasdsl.diagnostics import InternalError
from nasdsl.ir.graph import Graph, Node
from nasdsl.ir.names import ModuleNamer, Namespace, module_path
from nasdsl.ops import REGISTRY, combinators
from nasdsl.paths import data_dir
from nasdsl.ops.impl_source import IMPL_IMPORTS, header_defaults, impl_names, impl_source

_SYMBOL = re.compile(r"^[a-z][a-z0-9_]*$")
LOCALS_RESERVED = {"self", "torch", "nn", "F", "math", "MEMORY_FORMAT", "Model"}


@dataclass(frozen=True)
class ModuleDecl:
    attr: str    # dotted attribute path below self, e.g. "enc_2.n_0.p1"
    cls: str
    args: str
    src: str


def render_value(v: Any) -> str:
    """A constructor argument as Python source: numbers, booleans, symbols, tuples only."""
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise InternalError(f"non-finite constructor argument {v!r}")
        return repr(v)
    if isinstance(v, str):
        if not _SYMBOL.match(v):
            raise InternalError(f"unsafe string {v!r} reached the emitter")
        return repr(v)
    if isinstance(v, tuple):
        inner = ", ".join(render_value(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    raise InternalError(f"cannot emit constructor argument {v!r}")


def _src(node: Node) -> str:
    span = node.span
    return f"{provenance(Path(span.file.path).name)}:{span.line}"


class _Builder:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.modules: list[ModuleDecl] = []
        self.namer = ModuleNamer(
            lambda attr: self.modules.append(ModuleDecl(attr, "nn.Module", "", "")))
        self.locals = Namespace(LOCALS_RESERVED)
        self.var: dict[int, str] = {}

    def attr_path(self, path: tuple[str, ...]) -> str:
        return self.namer.attr_path(path)

    def local(self, node: Node) -> str:
        name = self.locals.fresh("_".join(module_path(node.path)) or "v")
        self.var[node.id] = name
        return name


def header_context(c: Compiled, impl_classes: set[str], channels_last: bool) -> dict[str, Any]:
    """What the flat and the outlined file share: provenance, constants, copied ops."""
    graph = c.graph
    dims = graph.dims
    copied = impl_source(sorted(impl_classes)).strip()
    uses = {n.id for n in ast.walk(ast.parse(copied)) if isinstance(n, ast.Name)}
    return {
        "version": __version__, "source": provenance(Path(c.path).name), "kind": c.unit.kind,
        "name": c.unit.name, "space": provenance(Path(c.space_path).name)
        if c.unit.kind == "genotype" else None, "genotype_hash": c.genotype_hash(), "dims": dims,
        "num_parameters": param_bounds(graph).lo,
        "input_channels": graph.node(graph.inputs[0]).type.channels,
        "size_multiple": render_value(size_multiple(graph)),
        "imports": IMPL_IMPORTS, "impl_source": copied,
        "constants": header_constants(graph), "uses_groups": "GROUPS" in uses,
        "class_name": _class_name(c.unit.name), "channels_last": channels_last,
        "outlined": False,
        "memory_format": "torch.channels_last" if dims == 2 else "torch.channels_last_3d",
        "output_names": [name for name, _ in graph.outputs],
    }


def input_checks(graph: Graph, names: list[str]) -> list[str]:
    return [f"_check_input({name}, {name!r}, {graph.node(nid).type.channels}, "
            f"{render_value(size_multiple(graph, nid))})"
            for name, nid in zip(names, graph.inputs)]


def build_context(c: Compiled, channels_last: bool = False) -> dict[str, Any]:
    """Context of templates/module.py.j2: the flat form (`nasdsl compile --flat`)."""
    graph = frozen_graph(c)
    b = _Builder(graph)
    inputs = [b.local(graph.node(nid)) for nid in graph.inputs]
    lines: list[str] = []
    uses: dict[int, int] = {}
    for node in graph.nodes:
        if node.op == "input":
            continue
        lines.append(_line(b, node))
        for i in node.inputs:
            uses[i] = len(lines) - 1
    outputs = [b.var[nid] for _, nid in graph.outputs]
    body = _with_dels(lines, uses, b, set(outputs) | set(inputs))
    result = outputs[0] if len(outputs) == 1 else "(" + ", ".join(outputs) + ")"
    impl_classes = {m.cls for m in b.modules if m.cls != "nn.Module"}
    return {**header_context(c, impl_classes, channels_last), "modules": b.modules,
            "inputs": inputs, "input_checks": input_checks(graph, inputs), "body": body,
            "result": result}


def header_constants(graph: Graph) -> dict[str, Any]:
    """The module constants that op defaults name (ops/impl_source.py HEADER_NAMES):
    DIMS, the network's spatial axes, and GROUPS, the group count most of its norms
    use (ties: the smallest; 1 without norms), so that most norm calls leave it out."""
    counts: Counter[int] = Counter()
    for node in graph.nodes:
        opdef = REGISTRY.get(node.op)
        if node.op == "input" or opdef is None or opdef.impl is None:
            continue
        named = header_defaults(opdef.impl)
        kwargs = opdef.ctor(dict(node.attrs), tuple(graph.node(i).type for i in node.inputs),
                            node.type)
        counts.update(v for k, v in kwargs.items() if named.get(k) == "GROUPS")
    groups = min(counts, key=lambda g: (-counts[g], g)) if counts else 1
    return {"DIMS": graph.dims, "GROUPS": groups}


def frozen_graph(c: Compiled) -> Graph:
    if not c.graph.is_frozen:
        raise InternalError("the standalone backend needs a frozen graph")
    return c.graph


def _class_name(name: str) -> str:
    """The unit's name, unless the copied implementations already define it."""
    taken = set(impl_names()) | LOCALS_RESERVED | {"MEMORY_FORMAT", "NUM_PARAMETERS",
                                                   "INPUT_CHANNELS", "SIZE_MULTIPLE"}
    return name if name not in taken else name + "Net"


def _line(b: _Builder, node: Node) -> str:
    opdef = REGISTRY[node.op]
    args = [b.var[i] for i in node.inputs]
    if opdef.impl is None:
        return f"{b.local(node)} = {combinators.source(node.op, args)}"
    in_types = tuple(b.graph.node(i).type for i in node.inputs)
    kwargs = opdef.ctor(dict(node.attrs), in_types, node.type)
    rendered = ", ".join([f"{k}={render_value(v)}" for k, v in kwargs.items()]
                         + [f"dims={b.graph.dims}"])
    attr = b.attr_path(node.path)
    b.modules.append(ModuleDecl(attr, opdef.impl, rendered, _src(node)))
    var = b.local(node)
    return f"{var} = self.{attr}({', '.join(args)})"


def _with_dels(lines: list[str], uses: dict[int, int], b: _Builder,
               keep: set[str]) -> list[str]:
    """Free each intermediate after its last use (as torch.fx codegen does)."""
    dead_after: dict[int, list[str]] = {}
    for nid, line_no in uses.items():
        name = b.var[nid]
        if name not in keep:
            dead_after.setdefault(line_no, []).append(name)
    out = []
    for i, line in enumerate(lines):
        out.append(line)
        if i in dead_after:
            out.append("del " + ", ".join(sorted(dead_after[i])))
    return out


def _env() -> jinja2.Environment:
    templates = data_dir("templates")
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates)),
                              undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True,
                              autoescape=False)


def emit_torch(c: Compiled, channels_last: bool = False, flat: bool = False) -> str:
    """The module's source, parsed and checked to run nothing on import but definitions.
    Outlined (one class per cell type and composite op) unless `flat`."""
    if flat:
        source = _env().get_template("module.py.j2").render(**build_context(c, channels_last))
    else:
        from nasdsl.backends.torch_outlined import build_outlined_context

        context = build_outlined_context(c, channels_last)
        source = _env().get_template("outlined.py.j2").render(**context)
    check_emitted(source)
    return source
