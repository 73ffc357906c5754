"""The shipped specs: they check clean, in 2D and 3D, with the published figures."""

from __future__ import annotations

import pytest

from conftest import SPECS, shipped_specs
from nasdsl.api import compile_spec, summarize
from nasdsl.diagnostics import NasError

GENOTYPES = sorted((SPECS / "genotypes").glob("*.nas"))


@pytest.mark.parametrize("path", shipped_specs(), ids=lambda p: p.name)
@pytest.mark.parametrize("dims", [2, 3])
def test_every_spec_checks_in_2d_and_3d(path, dims):
    c = compile_spec(str(path), {"dims": dims})
    assert c.graph.dims == dims
    s = summarize(c)
    assert s.params.lo > 0 and s.params.lo <= s.params.hi


def test_unet_matches_the_published_count():
    # UNet++ paper, Table 3: U-Net 7.76M at filters 32..512, 1 input channel, 1 class
    p = summarize(compile_spec(str(SPECS / "unet.nas"))).params.lo
    assert p == 7_759_521
    assert abs(p - 7.76e6) / 7.76e6 < 0.01


def test_unet_pp_matches_the_published_count():
    p = summarize(compile_spec(str(SPECS / "unet_pp.nas"))).params.lo
    assert p == 9_041_601
    assert abs(p - 9.04e6) / 9.04e6 < 0.01


def test_unet_3d_is_the_same_spec():
    c2 = compile_spec(str(SPECS / "unet.nas"))
    c3 = compile_spec(str(SPECS / "unet.nas"), {"dims": 3, "patch": 64})
    assert [n.op for n in c2.graph.nodes] == [n.op for n in c3.graph.nodes]
    # every 3x3 conv grows by a factor 3 in weights
    assert summarize(c3).params.lo > summarize(c2).params.lo


def test_nas_unet_default_genotype_at_promise12():
    c = compile_spec(str(SPECS / "genotypes" / "nas_unet_v2.nas"))
    assert c.params["C"] == 32 and c.params["depth"] == 5
    assert c.params["in_channels"] == 1 and c.params["classes"] == 2
    assert c.is_frozen
    cells = [ci.cell for ci in c.graph.cells]
    assert cells.count("DownSC") == 5 and cells.count("UpSC") == 6
    # head: 1x1 conv without bias from M*C channels to the classes
    out = c.graph.node(c.graph.outputs[0][1])
    assert out.type.channels == 2 and out.op == "conv" and not out.attr("bias")
    assert out.type.stride == (1, 1)


def test_nas_unet_space_has_the_reference_decisions():
    c = compile_spec(str(SPECS / "nas_unet.nas"))
    node = c.table.get("DownSC.n[2]")
    assert node.kind == "inputs" and node.labels == ("p0", "p1", "n[0]", "n[1]")
    assert c.table.get("DownSC.n[0].p0").labels == (
        "avg_pool", "max_pool", "down_cweight", "down_dil_conv", "down_dep_conv",
        "down_conv")
    assert c.table.get("UpSC.n[0].p1").labels == (
        "up_cweight", "up_dep_conv", "up_conv", "up_dil_conv")
    assert c.table.get("UpSC.n[0].p0").labels == (
        "identity", "none", "cweight", "dil_conv", "dep_conv", "shuffle_conv", "conv")
    assert summarize(c).log10_size > 10


def test_ronasmis_space_is_3d_with_macro_choices():
    c = compile_spec(str(SPECS / "ronasmis.nas"))
    ids = {p.id for p in c.table}
    for did in ("patch_hw", "patch_d", "stride_hw[2]", "stride_d[3]", "dilation[1]",
                "act_kind", "pool_kind", "skip[0]", "zero[4]"):
        assert did in ids
    assert c.graph.dims == 3
    g = compile_spec(str(SPECS / "genotypes" / "ronasmis_a.nas"))
    assert g.input_size == (128, 128, 32)
    # anisotropic: the through-plane axis is pooled only twice
    strides = {n.type.stride for n in g.graph.nodes}
    assert max(s[2] for s in strides) == 4 and max(s[0] for s in strides) == 16


def test_thrifty_grid_has_constant_width():
    c = compile_spec(str(SPECS / "genotypes" / "thrifty_nas_a.nas"))
    outs = {ci.output for ci in c.graph.cells}
    assert {c.graph.node(o).type.channels for o in outs} == {16}
    assert sum(ci.cell == "UP" for ci in c.graph.cells) == 10


def test_overrides_from_the_command_line_reach_a_genotype():
    c = compile_spec(str(GENOTYPES[0]), {"C": 16})
    assert c.params["C"] == 16


def test_unknown_override_is_an_error():
    with pytest.raises(NasError, match="no parameter `channels`"):
        compile_spec(str(SPECS / "unet.nas"), {"channels": 3})


def test_space_size_counts_subsets_and_ops():
    c = compile_spec(str(SPECS / "thrifty_nas.nas"))
    s = summarize(c)
    assert s.supernet_params > s.params.hi >= s.params.lo


@pytest.mark.parametrize("path", shipped_specs(), ids=lambda p: p.name)
def test_formatting_keeps_the_ir(path, tmp_path):
    """parse(fmt(s)) elaborates to the same IR and decision table as parse(s)."""
    from nasdsl.api import read_unit
    from nasdsl.diagnostics import DiagnosticSink
    from nasdsl.syntax.fmt import format_unit

    formatted = format_unit(read_unit(str(path), DiagnosticSink()))
    a = compile_spec(str(path))
    b = compile_spec(str(path), data=formatted.encode())

    def ir(c):
        return ([(n.op, n.attrs, n.inputs, n.type, n.path) for n in c.graph.nodes],
                [(p.id, p.kind, p.labels, p.keep, p.parent) for p in c.table], c.decided)

    assert ir(a) == ir(b)
