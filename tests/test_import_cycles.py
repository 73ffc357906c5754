"""No import cycle between nasdsl's packages, and none between the modules of `sema/`.

Imports are read from the source (ast), including those inside functions: a lazy
import hides a cycle from Python, not from a reader. Imports under `if TYPE_CHECKING:`
are left out (they never run). A top-level module (`api`, `cli`, `space`, ...) counts
as a package of its own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import nasdsl

PACKAGE = Path(nasdsl.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _type_checking_only(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(sub) for stmt in node.body for sub in ast.walk(stmt))
    return skipped


def _resolve(name: str) -> str | None:
    """The nasdsl module an imported name lives in (a module, or a name in one)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str) -> set[str]:
    """The nasdsl modules `module` imports, anywhere in its body."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_only(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                head = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(head + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    resolved = {_resolve(name) for name in found if name.split(".")[0] == "nasdsl"}
    return {m for m in resolved if m is not None and m != module}


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _witnesses(component: list[str], pairs: dict[tuple[str, str], tuple[str, str]]) -> str:
    members = set(component)
    return "; ".join(f"{a} -> {b}" for (pa, pb), (a, b) in sorted(pairs.items())
                     if pa in members and pb in members)


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_packages():
    edges: dict[str, set[str]] = {}
    pairs: dict[tuple[str, str], tuple[str, str]] = {}
    for module in MODULES:
        for target in imports(module):
            a, b = package_of(module), package_of(target)
            if a != b:
                edges.setdefault(a, set()).add(b)
                pairs.setdefault((a, b), (module, target))
    found = cycles(edges)
    assert not found, "\n".join(f"{c}: {_witnesses(c, pairs)}" for c in found)


@pytest.mark.parametrize("package", ["nasdsl.sema"])
def test_no_import_cycle_inside(package):
    inside = {m for m in MODULES if m.startswith(package + ".")}
    edges = {m: {t for t in imports(m) if t in inside} for m in inside}
    pairs = {(m, t): (m, t) for m, ts in edges.items() for t in ts}
    found = cycles(edges)
    assert not found, "\n".join(f"{c}: {_witnesses(c, pairs)}" for c in found)
