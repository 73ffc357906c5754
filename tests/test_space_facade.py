"""One search-space object and one cache policy (#16): `nasdsl.space.SearchSpace` is what
engines, the supernet and the genotype printer use; every cache that outlives a call is
a `nasdsl.caches.Lru`. Torch-free."""

from __future__ import annotations

import ast
import random
from pathlib import Path

import pytest

import nasdsl
import nasdsl.space as space_module
from nasdsl.caches import Lru
from nasdsl.space import SearchSpace, load_space

PACKAGE = Path(nasdsl.__file__).resolve().parent

SPACE = """space Small {
  param dims = 2
  input x(channels=1, size=16)
  choice width in [4, 8, 12]
  choice k in [3, 5]
  output y = conv(act(conv(x, width, k), relu), 2, 1)
  constraint params <= 100
}
"""


def test_one_class_is_the_search_space():
    """There were two, `space.SearchSpace` wrapped by `engines.space.SearchSpace`."""
    found = [f"{p.relative_to(PACKAGE)}:{node.lineno}"
             for p in PACKAGE.rglob("*.py")
             for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
             if isinstance(node, ast.ClassDef) and node.name.endswith("SearchSpace")]
    assert found == ["space.py:" + found[0].split(":")[1]], found


def test_no_catch_all_in_the_space_layer():
    for name in ("space.py", "compiler.py", "constraints.py", "bounds.py"):
        tree = ast.parse((PACKAGE / name).read_text(encoding="utf-8"))
        broad = [h.lineno for h in ast.walk(tree) if isinstance(h, ast.ExceptHandler)
                 and (h.type is None or ast.unparse(h.type) in ("Exception", "BaseException"))]
        assert not broad, (name, broad)


def test_every_evicting_cache_is_an_lru():
    """Eviction is written once, in nasdsl/caches.py: no other module pops the oldest
    entry of its own OrderedDict (there were four caches with four rules)."""
    found = [f"{p.relative_to(PACKAGE)}:{node.lineno}"
             for p in PACKAGE.rglob("*.py") if p.name != "caches.py"
             for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
             if isinstance(node, ast.Attribute) and node.attr in ("popitem", "move_to_end")]
    assert not found, found


def test_lru_evicts_the_least_recently_used_entry():
    cache: Lru[str, int] = Lru(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1          # a is now the most recent
    cache.put("c", 3)
    assert "b" not in cache and "a" in cache and "c" in cache and len(cache) == 2
    assert cache.get_or_make("c", lambda: 99) == 3

    def fails() -> int:
        raise ValueError("no")
    with pytest.raises(ValueError):
        cache.get_or_make("d", fails)
    assert "d" not in cache and len(cache) == 2
    with pytest.raises(ValueError):
        Lru(0)


def test_children_are_kept_in_a_bounded_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(space_module, "CHILDREN_KEPT", 2)
    path = tmp_path / "s.nas"
    path.write_text(SPACE)
    space = SearchSpace.load(str(path), {})
    picks = [{"width": w, "k": "3"} for w in ("4", "8", "12")]
    first = space.child(picks[0])
    assert space.child(picks[0]) is first           # kept
    for a in picks[1:]:
        space.child(a)
    assert len(space._children) == 2                # the oldest went
    assert space.child(picks[0]) is not first       # and is made again


def test_the_engine_view_and_the_ir_view_agree(tmp_path):
    path = tmp_path / "s.nas"
    path.write_text(SPACE)
    engine, ir = SearchSpace.load(str(path), {}), load_space(str(path))
    a = engine.table.sample(random.Random(1))
    assert engine.cost(a) == ir.child_cost(a).params
    assert engine.cost(a, "flops") == ir.child_cost(a).flops
    assert engine.budget("params") == ir.budget("params") == 100.0
    assert engine.legal({"width": "4", "k": "3"})
    assert not engine.legal({"width": "12", "k": "5"})
    per = ir.label_cost_table()
    assert engine.label_costs("params") == {
        did: [per[did][lab].params if lab in per[did] else 0.0
              for lab in engine.point(did).labels] for did in per}
    assert engine.kinds == {"width": "structural", "k": "structural"} and not engine.relaxable()
