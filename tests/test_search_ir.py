"""The search IR (docs/SEARCH_IR.md): complete decision tables, validated assignments,
stable paths, the genotype printer, costs and constraints. Torch-free."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SPECS
from nasdsl.api import NasError, compile_spec
from nasdsl.space import load_space

KDEPTH = """space KDepth {
  param dims = 2
  input x(channels=1, size=16)
  choice depth in [1, 2, 3]
  h = x
  for i in 0..depth {
    choice k[i] in [3, 5]
    h = act(conv(h, 4, k[i]), relu)
  }
  output y = conv(h, 2, 1)
}
"""

CONSTRAINED = """space Budget {
  param dims = 2
  input x(channels=1, size=16)
  choice width in [64, 8]
  output y = conv(conv(x, width, 3), 2, 1)
  constraint params <= 200
}
"""

SMALL = {"nas_unet.nas": {"C": 8, "depth": 2}, "thrifty_nas.nas": {"C": 8, "levels": 2},
         "ronasmis.nas": {"base": 2}}

RONASMIS_IDS = (["patch_hw", "patch_d", "act_kind", "pool_kind"]
                + [f"stride_hw[{i}]" for i in (2, 3)] + [f"stride_d[{i}]" for i in (2, 3)]
                + [f"dilation[{i}]" for i in (1, 2, 3)] + [f"zero[{i}]" for i in range(5)]
                + [f"{n}[{i}]" for i in range(4) for n in ("skip", "zero_dec")])


def _write(tmp_path: Path, text: str, name: str = "space.nas") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _space(name: str, dims: int):
    size = None if name == "ronasmis.nas" else ((32, 32) if dims == 2 else (16, 16, 16))
    return load_space(str(SPECS / name), {**SMALL[name], "dims": dims}, size)


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("name", sorted(SMALL))
def test_table_lists_every_decision_met_by_any_child(name, dims):
    space = _space(name, dims)
    ids = set(space.table.ids)
    for seed in range(3):
        child = space.child(space.table.sample(random.Random(seed)))
        assert set(child.decided) <= ids
    if name == "ronasmis.nas":
        assert sorted(ids) == sorted(RONASMIS_IDS)
        kinds = {p.id: p.kind for p in space.table}
        assert kinds["skip[3]"] == "inputs" and space.table.get("zero[2]").optional
        assert space.table.get("stride_hw[2]").structural
        assert not space.table.get("dilation[1]").structural  # lowered to mixed nodes
    assert len(space.table.fingerprint) == 16


def test_conditional_decisions_and_space_size(tmp_path):
    space = load_space(_write(tmp_path, KDEPTH))
    table = space.table
    assert table.ids == ("depth", "k[0]", "k[1]", "k[2]")
    assert table.get("k[0]").condition == ()
    assert [c.labels for c in table.get("k[2]").condition] == [("3",)]
    assert set(table.get("k[1]").condition[0].labels) == {"2", "3"}
    assert math.isclose(table.log10_size(), math.log10(2 + 4 + 8))
    assert table.get("depth").structural and table.get("k[0]").structural is False


def test_k_depth_assignments_give_different_outputs(tmp_path):
    torch = pytest.importorskip("torch")
    from nasdsl.backends.supernet import Supernet

    space = load_space(_write(tmp_path, KDEPTH))
    torch.manual_seed(0)
    net = Supernet(space).eval()
    x = torch.randn(1, 1, 16, 16)
    with torch.no_grad():
        a = net(x, {"depth": "1", "k[0]": "3"})
        b = net(x, {"depth": "3", "k[0]": "5", "k[1]": "3", "k[2]": "5"})
        c = net(x, {"depth": "1", "k[0]": "5"})
    assert not torch.allclose(a, b) and not torch.allclose(a, c)


def test_incomplete_unknown_inactive_assignments_refused_like_genotypes(tmp_path):
    path = _write(tmp_path, KDEPTH)
    space = load_space(path)
    cases = {"E0413": {"depth": "2", "k[0]": "3"},
             "E0411": {"depth": "1", "k[0]": "3", "kk": "3"},
             "E0412": {"depth": "1", "k[0]": "7"},
             "E0416": {"depth": "1", "k[0]": "3", "k[2]": "5"}}
    for code, a in cases.items():
        assert code in {d.code for d in space.validate(a)}
        with pytest.raises(NasError) as engine:
            space.child(a)
        lines = "".join(f"  {k} = {v}\n" for k, v in a.items())
        text = f'genotype G of "space.nas" {{\n{lines}}}\n'
        with pytest.raises(NasError) as genotype:
            compile_spec(_write(tmp_path, text, "g.nas"))
        assert code in {d.code for d in engine.value.diagnostics}
        assert {d.code for d in engine.value.diagnostics} == \
            {d.code for d in genotype.value.diagnostics}


def test_constraints_are_evaluated_per_architecture(tmp_path):
    path = _write(tmp_path, CONSTRAINED)
    space = load_space(path)  # the default (width 64) breaks the budget: still a space
    assert space.constraints({"width": "8"}).ok
    bad = space.constraints({"width": "64"})
    assert not bad.ok and bad.values["params"] > 200 and bad.failed == ["params <= 200"]
    compile_spec(_write(tmp_path, space.genotype_text({"width": "8"}, "Small"), "g.nas"))
    with pytest.raises(NasError) as err:
        compile_spec(_write(tmp_path, space.genotype_text({"width": "64"}, "Big"), "g.nas"))
    assert [d.code for d in err.value.diagnostics] == ["E0423"]


BUDGETED = """space Budgeted {
  param dims = 2
  param limit = 300
  input x(channels=1, size=16)
  choice width in [64, 8]
  output y = conv(conv(x, width, 3), 2, 1)
  constraint params <= limit * 2
  if dims == 2 {
    constraint params < limit
  }
  constraint flops <= 10 ** 9
  constraint params <= flops
}
"""


def test_budgets_are_read_once_when_the_spec_is_compiled(tmp_path):
    """Engines take the spec's budget from the compiled spec (the tightest bound, in the
    spec's own environment, `-D` included), not by pattern-matching the file's top-level
    statements and elaborating it again (#16)."""
    from nasdsl.space import SearchSpace

    path = _write(tmp_path, BUDGETED)
    assert compile_spec(path).budgets == {"params": 300.0, "flops": 1e9}
    assert compile_spec(path, {"limit": 1000}).budgets["params"] == 1000.0
    space = SearchSpace.load(path, {"limit": 100})
    assert space.budget("params") == 100.0 and space.budget("flops") == 1e9
    assert SearchSpace.load(_write(tmp_path, CONSTRAINED, "c.nas"), {}).budget("flops") is None


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("name", ["nas_unet.nas", "thrifty_nas.nas", "ronasmis.nas"])
@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_printed_genotype_rechecks_to_the_same_assignment(name, dims, seed):
    space = _space(name, dims)
    a = space.table.sample(random.Random(seed))
    text = space.genotype_text(a, "Found", path_from=SPECS / "genotypes" / "found.nas")
    size = None if name == "ronasmis.nas" else ((32, 32) if dims == 2 else (16, 16, 16))
    g = compile_spec(str(SPECS / "genotypes" / "found.nas"), {**SMALL[name], "dims": dims},
                     size, data=text.encode())
    assert g.decided == space.child(a).decided
    assert {k: v for k, v in g.decided.items()} == {k: tuple(v) if isinstance(v, list)
                                                    else v for k, v in a.items()}


def test_removing_a_skip_renames_nothing_else():
    pytest.importorskip("torch")
    from nasdsl.backends.supernet import standalone_names

    space = _space("ronasmis.nas", 3)
    base = space.table.defaults()
    names = {}
    for keep in (("enc[3]",), ()):
        g = space.child({**base, "skip[3]": keep}).graph
        names[keep] = {g.node(nid).path: attr for nid, attr in standalone_names(g).items()}
    with_skip, without = names[("enc[3]",)], names[()]
    assert set(with_skip) - set(without) == {("matched[0]", "conv")}
    assert all(with_skip[p] == attr for p, attr in without.items())


def test_label_costs_add_up_to_the_architecture_cost():
    space = _space("ronasmis.nas", 2)
    a = space.table.sample(random.Random(3))
    a.update({p.id: p.default for p in space.table if p.structural})
    costs = space.label_cost_table()
    total = space.base_cost_of()
    for did, per in costs.items():
        total = total + per[a[did]]
    assert total == space.child_cost(a)
    assert set(costs) == {"act_kind", "pool_kind", "dilation[1]", "dilation[2]",
                          "dilation[3]"}


def test_label_metadata_tags():
    space = _space("nas_unet.nas", 2)
    edge = space.table.get("DownSC.n[1].n[0]")
    assert edge.role == "normal" and edge.kind == "op"
    assert "zero" in edge.label_info("none").tags
    assert "identity" in edge.label_info("identity").tags
    assert {"param_free"} <= edge.label_info("identity").tags
    down = space.table.get("DownSC.n[0].p0")
    assert down.role == "down" and "pool" in down.label_info("max_pool").tags
    assert "param_free" not in down.label_info("down_conv").tags


def test_a_domain_depending_on_another_choice_is_refused_at_its_source(tmp_path):
    text = KDEPTH.replace("choice k[i] in [3, 5]", "choice k[i] in [3, 2 * depth + 3]")
    with pytest.raises(NasError) as err:
        load_space(_write(tmp_path, text))
    (diag,) = [d for d in err.value.diagnostics if d.code == "E0239"]
    assert "depend on choice `depth`" in diag.message and diag.span.line == 7
