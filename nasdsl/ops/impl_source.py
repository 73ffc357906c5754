"""Source text of the torch implementations a model uses, for self-contained emission.

The standalone backend pastes the exact text of the classes it instantiates, plus every
top-level helper they reference (transitively, found by walking names in the AST), in
torch_impl.py's order. torch_impl.py is read as text: this module never imports torch.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

_IMPL = Path(__file__).with_name("torch_impl.py")
# Names an emitted module's header defines itself (with the network's value), so the
# library's own definition is not copied.
HEADER_NAMES = frozenset({"DIMS", "GROUPS"})
REQUIRED = object()   # a parameter without a default


@lru_cache(maxsize=1)
def _parsed() -> tuple[tuple[str, ...], dict[str, str], dict[str, set[str]], list[str]]:
    """(import lines, source per top-level name, names each one uses, file order)."""
    text = _IMPL.read_text(encoding="utf-8")
    lines = text.splitlines()
    tree = ast.parse(text)
    imports: list[str] = []
    source: dict[str, str] = {}
    uses: dict[str, set[str]] = {}
    order: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(ast.get_source_segment(text, node) or "")
            continue
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
        else:
            continue   # the module docstring
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        segment = "\n".join(lines[first - 1: node.end_lineno])
        used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        for name in names:
            source[name] = segment
            uses[name] = used - {name}
            order.append(name)
    return tuple(imports), source, uses, order


IMPL_IMPORTS: tuple[str, ...] = _parsed()[0]


def impl_names() -> list[str]:
    """The top-level names torch_impl.py defines, in file order: an emitted module copies
    some of them, so its own identifiers must avoid them all."""
    return list(_parsed()[3])


def impl_source(class_names: Iterable[str]) -> str:
    """The named classes and the helpers they need, as source, without imports."""
    _, source, uses, order = _parsed()
    needed: set[str] = set()
    stack = list(class_names)
    while stack:
        name = stack.pop()
        if name in needed:
            continue
        if name not in source:
            raise KeyError(f"torch_impl.py defines no `{name}`")
        needed.add(name)
        stack.extend(u for u in uses[name] if u in source)
    seen: set[str] = set()
    parts = []
    for name in order:
        # one segment may define several names (a, b = ...): emit it once
        if name in needed and name not in HEADER_NAMES and source[name] not in seen:
            seen.add(source[name])
            parts.append(source[name])
    return "\n\n\n".join(parts) + "\n"


@lru_cache(maxsize=None)
def _signature(name: str) -> tuple[tuple[str, ast.expr | None], ...]:
    """(parameter, default expression or None) of a class's `__init__` (without `self`)
    or of a factory function, as written in torch_impl.py."""
    text = _IMPL.read_text(encoding="utf-8")
    for node in ast.parse(text).body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            fn = next(n for n in node.body
                      if isinstance(n, ast.FunctionDef) and n.name == "__init__")
            args = fn.args.args[1:]
            break
        if isinstance(node, ast.FunctionDef) and node.name == name:
            fn, args = node, node.args.args
            break
    else:
        raise KeyError(f"torch_impl.py defines no `{name}`")
    defaults = [None] * (len(args) - len(fn.args.defaults)) + list(fn.args.defaults)
    return tuple((a.arg, d) for a, d in zip(args, defaults))


def impl_params(name: str, header: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The constructor parameters of impl `name` in order, each with its default value
    (REQUIRED when it has none) in a module whose header sets `header` (DIMS, GROUPS):
    the signature is the one record of the defaults, so an emitter that leaves out an
    argument equal to one cannot drift from the class it calls. A default is a literal
    or one of HEADER_NAMES."""
    def value(expr: ast.expr | None) -> Any:
        if expr is None:
            return REQUIRED
        if isinstance(expr, ast.Name) and expr.id in HEADER_NAMES:
            return header[expr.id]
        return ast.literal_eval(expr)

    return [(param, value(expr)) for param, expr in _signature(name)]


def header_defaults(name: str) -> dict[str, str]:
    """impl `name`'s parameters whose default is a header constant: param -> its name."""
    return {param: expr.id for param, expr in _signature(name)
            if isinstance(expr, ast.Name) and expr.id in HEADER_NAMES}
