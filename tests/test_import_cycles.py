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


def imports(module: str, typing_too: bool = False) -> set[str]:
    """The nasdsl modules `module` imports, anywhere in its body (`typing_too`: also
    those under `if TYPE_CHECKING:`)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = set() if typing_too else _type_checking_only(tree)
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
    """Not even one for type checking: the elaborator's helpers (apply, cells, choices,
    strides) see it through the `sema.context.Elaboration` protocol."""
    inside = {m for m in MODULES if m.startswith(package + ".")}
    edges = {m: {t for t in imports(m, typing_too=True) if t in inside} for m in inside}
    pairs = {(m, t): (m, t) for m, ts in edges.items() for t in ts}
    found = cycles(edges)
    assert not found, "\n".join(f"{c}: {_witnesses(c, pairs)}" for c in found)


def _nasdsl_imports(module: str):
    """(import node, is it inside a function) for each `from nasdsl... import` of a module."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or
                                                 (node.module or "").startswith("nasdsl")):
            yield node, id(node) not in top and not any(
                id(node) in _type_checking_only(s) for s in tree.body
                if isinstance(s, ast.If))


# the front end and the layer over it (issue #16): checked module by module
FRONT = ["nasdsl.sema", "nasdsl.api", "nasdsl.compiler", "nasdsl.compiled",
         "nasdsl.constraints", "nasdsl.bounds", "nasdsl.space", "nasdsl.caches"]


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


PACKAGES = sorted({package_of(m) for m in MODULES})


@pytest.mark.parametrize("package", PACKAGES)
def test_no_private_name_imported_into(package):
    """A module uses other nasdsl modules through their public names only, inside its
    own package too (sema's modules talk through sema/context.py): a `_name` is free to
    change with its own module. Dunders (`__version__`) are public."""
    found = [f"{m}:{node.lineno}: {ast.unparse(node)}"
             for m in sorted(MODULES) if package_of(m) == package
             for node, _ in _nasdsl_imports(m)
             if any(_private(a.name) for a in node.names)]
    assert not found, "\n".join(found)


def test_no_private_nasdsl_name_imported_by_bench_or_scripts():
    """The benchmarks and scripts are nasdsl's users: they see its public names only."""
    root = PACKAGE.parent
    found = []
    for path in sorted([*root.glob("bench/*.py"), *root.glob("scripts/*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [f"{path.relative_to(root)}:{node.lineno}: {ast.unparse(node)}"
                  for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                  and (node.module or "").startswith("nasdsl")
                  and any(_private(a.name) for a in node.names)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("package", FRONT)
def test_no_import_inside_a_function_of(package):
    """Imports of nasdsl modules sit at the top of the package's modules: an import
    inside a function is how a cycle hides."""
    found = [f"{m}:{node.lineno}: {ast.unparse(node)}"
             for m in sorted(MODULES) if _in(m, package)
             for node, local in _nasdsl_imports(m) if local]
    assert not found, "\n".join(found)


def test_the_sema_checks_see_what_they_forbid(tmp_path, monkeypatch):
    """The two checks above flag a private name and a function-local import."""
    bad = tmp_path / "bad.py"
    bad.write_text("from nasdsl import __version__\nfrom nasdsl.sema.values import show\n"
                   "def f():\n    from nasdsl.sema.genotype import _private\n")
    monkeypatch.setitem(MODULES, "nasdsl.sema.zz_bad", bad)
    with pytest.raises(AssertionError, match="zz_bad:4: from nasdsl.sema.genotype import "
                                             "_private") as found:
        test_no_private_name_imported_into("nasdsl.sema")
    assert "zz_bad:1" not in str(found.value)   # a dunder is public
    with pytest.raises(AssertionError, match="zz_bad:4"):
        test_no_import_inside_a_function_of("nasdsl.sema")


HELPERS = ("apply", "cells", "choices", "strides")


def _protocol_members() -> set[str]:
    from nasdsl.sema.context import Elaboration

    tree = ast.parse(MODULES["nasdsl.sema.context"].read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Elaboration")
    members = {s.target.id for s in cls.body if isinstance(s, ast.AnnAssign)}
    members |= {s.name for s in cls.body if isinstance(s, ast.FunctionDef)}
    assert members <= set(dir(Elaboration)) | set(Elaboration.__annotations__)
    return members


@pytest.mark.parametrize("helper", HELPERS)
def test_the_elaborators_helpers_use_only_its_interface(helper):
    """apply/cells/choices/strides reach the elaboration through `el` and only through
    what `sema.context.Elaboration` declares."""
    members = _protocol_members()
    tree = ast.parse(MODULES[f"nasdsl.sema.{helper}"].read_text(encoding="utf-8"))
    used = {(n.attr, n.lineno) for n in ast.walk(tree) if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Name) and n.value.id == "el"}
    outside = sorted(f"{helper}.py:{line}: el.{attr}" for attr, line in used
                     if attr not in members)
    assert used and not outside, "\n".join(outside)


def test_the_elaborator_provides_its_interface(tmp_path):
    """Every member the protocol declares exists on a finished Elaborator."""
    from nasdsl.diagnostics import DiagnosticSink
    from nasdsl.sema.elaborate import Elaborator
    from nasdsl.syntax.parse import load_source, parse

    sink = DiagnosticSink()
    text = b"arch A {\n  param dims = 2\n  input x(channels=1)\n  output y = conv(x, 2, 1)\n}\n"
    unit = parse(load_source(str(tmp_path / "a.nas"), text, sink), sink)
    el = Elaborator(unit, sink, {})
    el.run()
    assert not sink.has_errors
    missing = sorted(m for m in _protocol_members() if not hasattr(el, m))
    assert not missing, missing
