"""Elaboration stays bounded, reports one error per cause, and the language additions
(`reversed` ranges, `int`/`round`/`channels`, list splicing, bound op attributes, node
`fit`) behave as documented. The diagnostics corpus holds the single-file cases."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conftest import SPECS
from nasdsl.api import compile_spec
from nasdsl.diagnostics import NasError
from nasdsl.sema.budget import MAX_WORK

CORPUS = Path(__file__).parent / "diagnostics"
V2 = str(SPECS / "genotypes" / "nas_unet_v2.nas")


def _errors(path: str, overrides: dict | None = None, size=None, data: bytes | None = None):
    with pytest.raises(NasError) as info:
        compile_spec(path, overrides or {}, size, data=data)
    return info.value.diagnostics


@pytest.mark.parametrize("name", ["work_nested_loops.nas", "work_comprehension.nas",
                                  "work_recursion.nas", "work_deep_recursion.nas"])
def test_work_bombs_stop_quickly_with_one_error(name):
    start = time.perf_counter()
    diags = _errors(str(CORPUS / name))
    assert time.perf_counter() - start < 10   # about 1 s alone; generous for shared CPUs
    assert len(diags) == 1 and diags[0].code in ("E0238", "E0234")
    assert diags[0].notes, "the error names the enclosing loop or call"


def test_shipped_specs_use_a_small_part_of_the_budget():
    from nasdsl.diagnostics import DiagnosticSink
    from nasdsl.api import read_unit
    from nasdsl.sema.elaborate import Elaborator

    for path in sorted(SPECS.glob("*.nas")):
        el = Elaborator(read_unit(str(path), DiagnosticSink()), DiagnosticSink(), {})
        el.run()
        assert el.budget.used < MAX_WORK // 20, path.name


@pytest.mark.parametrize("overrides,size,code,text", [
    ({"dims": 3, "patch": 32}, None, "E0301", "total stride 64"),
    ({"dims": 4}, None, "E0213", "`dims` must be 2 or 3"),
    ({"dims": 3}, (64, 64), "E0217", "has 2 axes but the network has 3"),
    ({"M": 0}, None, "E0250", "a cell has 1 to 64 nodes"),
])
def test_one_mistake_one_error_in_a_genotype(overrides, size, code, text):
    """No false `does not return`, `unknown name`, `unknown decision`, `no parameter`."""
    diags = _errors(V2, overrides, size)
    assert [d.code for d in diags] == [code], [d.render() for d in diags]
    assert text in diags[0].message


def test_e0301_names_the_total_stride_and_the_call():
    (d,) = _errors(V2, {"patch": 96})
    assert "the patch size 96 is not a multiple of the network's total stride 64" in d.message
    assert "64 or 128" in (d.hint or "")
    assert any("in `DownSC`, called here (i = " in n.message for n in d.notes)


def test_genotype_typos_are_still_reported_when_the_space_is_sound(tmp_path):
    text = Path(V2).read_text().replace("UpSC.n[0]", "UpSc.n[0]")
    path = tmp_path / "g.nas"
    path.write_text(text.replace('"../nas_unet.nas"', f'"{SPECS / "nas_unet.nas"}"'))
    codes = {d.code for d in _errors(str(path))}
    assert codes == {"E0411", "E0413"}


def test_division_by_zero_in_a_param_with_an_override():
    space = CORPUS / "cascade_param.nas"
    diags = _errors(str(space), {"dims": 3})
    assert [d.code for d in diags] == ["E0204"]


_SPLICE = """space Splice {
  param dims = 2
  input x(channels=1, size=32)
  enc[0] = conv(x, 4, 3)
  enc[1] = pool(conv(enc[0], 8, 3), max)
  up[0] = upsample(enc[1])
  choice skip[0] from [enc[0], upsample(enc[1])] keep 0..1
  output y = conv(concat(up[0], skip[0]), 2, 1)
}
"""


@pytest.mark.parametrize("chosen,params", [((), 8 * 2), (("enc[0]",), 12 * 2),
                                          (("upsample(enc[1])",), 16 * 2)])
def test_lists_splice_into_variadic_ops_even_when_empty(chosen, params):
    from nasdsl.analysis.resources import param_bounds

    c = compile_spec("splice.nas", data=_SPLICE.encode(), assignment={"skip[0]": chosen})
    head = param_bounds(c.graph).lo - (1 * 4 * 9 + 4 * 8 * 9)
    assert head == params


_LANGUAGE = """space Language {
  param dims = 2
  input x(channels=3, size=32)
  let order = [i for i in reversed(0..4)]
  let widths = [int(2.7 * 10), round(2.5), round(3.5), int(-1.5)]
  h = conv(x, widths[0], 1)
  for i in reversed(1..3) {
    h = conv(h, channels(h) + i, 1)
  }
  output y = conv(h, len(order) * order[0], 1)
}
"""


def test_reversed_ranges_rounding_and_channels():
    from nasdsl.analysis.resources import param_bounds

    c = compile_spec("language.nas", data=_LANGUAGE.encode())
    # widths: int truncates (27, -1), round is half to even (2, 4); 27 -> 29 -> 30 -> 12
    assert param_bounds(c.graph).lo == 3 * 27 + 27 * 29 + 29 * 30 + 30 * 12


def test_reversed_ranges_format_back():
    from nasdsl.diagnostics import DiagnosticSink
    from nasdsl.syntax.fmt import format_unit
    from nasdsl.syntax.parse import load_source, parse

    sink = DiagnosticSink()
    unit = parse(load_source("l.nas", _LANGUAGE.encode(), sink), sink)
    text = format_unit(unit)
    assert "for i in reversed(1..3) {" in text and "in reversed(0..4)]" in text
    again = parse(load_source("l.nas", text.encode(), sink), sink)
    assert again == unit and not sink.has_errors


def test_nas_unet_authors_up_edges_are_2h_minus_1_and_nodes_resize():
    """Structure of `-D up=authors`; bench/nasunet_fidelity.py compares the outputs with
    the authors' code (bit-identical, BENCHMARKS.md)."""
    c = compile_spec(V2, {"up": "authors"})
    from nasdsl.analysis.resources import param_bounds

    assert param_bounds(c.graph).lo == 485_742
    ups = [n for n in c.graph.nodes if n.op.startswith("up_")]
    assert ups and all(dict(n.attrs)["fit"] == "authors" for n in ups)
    joins = [n for n in c.graph.nodes if n.op == "resize_add"]
    assert len(joins) == 3 * (5 + 6) and not any(n.op == "add" for n in c.graph.nodes)
    default = compile_spec(V2)
    assert {n.op for n in default.graph.nodes} >= {"add"}
    assert not any(n.op == "resize_add" for n in default.graph.nodes)


def test_authors_fit_in_a_space_warns_that_its_supernet_cannot_use_it():
    c = compile_spec(str(SPECS / "nas_unet.nas"), {"up": "authors"})
    assert [d.code for d in c.warnings] == ["W0250"]
    assert not compile_spec(str(SPECS / "nas_unet.nas")).warnings


def test_authors_up_ops_and_resize_add_in_torch():
    torch = pytest.importorskip("torch")
    from nasdsl.ir.types import TensorType
    from nasdsl.ops import REGISTRY, torch_impl
    from fractions import Fraction

    x = TensorType(16, (Fraction(2), Fraction(2)))
    for name in ("up_conv", "up_dil_conv", "up_dep_conv", "up_cweight"):
        op = REGISTRY[name]
        for fit, size in (("authors", 15), ("exact", 16)):
            attrs = op.normalise({"fit": fit}, 2)
            out = op.infer(attrs, (x,))
            module = getattr(torch_impl, op.impl)(**op.ctor(attrs, (x,), out), dims=2).eval()
            with torch.no_grad():
                y = module(torch.randn(1, 16, 8, 8))
            assert tuple(y.shape[2:]) == (size, size), (name, fit)
    add = torch_impl.ResizeAdd("nearest", dims=2)
    a, b = torch.randn(1, 4, 16, 16), torch.randn(1, 4, 15, 15)
    want = a + torch.nn.functional.interpolate(b, size=(16, 16), mode="nearest")
    assert torch.equal(add(a, b), want) and torch.equal(add(a, a), a + a)


_DARTS_CELL = """space DartsCell {
  param dims = 2
  param C = 8
  input x(channels=3, size=32)
  opset ops = [sep_conv_3x3, skip_connect]
  cell Reduce(s0, s1) {
    p0 = factorized_reduce(s0, C)
    p1 = relu_conv_bn(s1, C, norm=batch, affine=false)
    nodes n[2] keep 2 {
      from p0 normal: ops
      from p1 normal: ops
      from nodes normal: ops
    }
    return concat(n)
  }
  a = conv(x, 16, 3)
  b = pool(conv(x, 12, 3), max)
  output y = conv(Reduce(a, b), 2, 1)
}
"""


def test_darts_preprocessing_ops_in_a_cell():
    from nasdsl.analysis.resources import param_bounds

    c = compile_spec("darts.nas", data=_DARTS_CELL.encode(), assignment={
        "Reduce.n[0]": ("p0", "p1"), "Reduce.n[0].p0": "skip_connect",
        "Reduce.n[0].p1": "skip_connect", "Reduce.n[1]": ("p0", "p1"),
        "Reduce.n[1].p0": "skip_connect", "Reduce.n[1].p1": "skip_connect"})
    stems = 3 * 16 * 9 + 3 * 12 * 9
    pre = (2 * 16 * 4 + 2 * 8) + (12 * 8)   # FactorizedReduce + BN; 1x1 conv, BN without affine
    head = 16 * 2
    assert param_bounds(c.graph).lo == stems + pre + head


@pytest.mark.parametrize("name,note", [
    ("call_site.nas", "in `block`, called here (i = 2)"),
    ("choice_note.nas", "in `block`, called here (g[1] = 3)"),
    ("cascade_cell.nas", "in `Cell`, called here"),
])
def test_errors_in_bodies_name_the_call(name, note):
    (d,) = _errors(str(CORPUS / name))
    assert any(n.message == note and n.span is not None for n in d.notes), d.render()


def test_decisions_in_a_cell_that_failed_are_not_unused(tmp_path):
    """The genotype's own value makes the cell fail: that error, not E0416 for the
    node decisions the failed cell never reached."""
    path = tmp_path / "g.nas"
    path.write_text(f'genotype G of "{CORPUS / "space_kernel.nas"}" {{\n  k = 4\n'
                    "  Cell.n[0] = sep_conv_3x3(p0)\n  Cell.n[1] = identity(n[0])\n}\n")
    (d,) = _errors(str(path))
    assert d.code == "E0300" and "kernel 4" in d.message
    assert any("in `Cell`, called here" in n.message for n in d.notes)


def test_authors_network_takes_any_input_size():
    torch = pytest.importorskip("torch")
    from nasdsl.analysis.strides import size_multiple
    from nasdsl.backends.onnx_export import load_emitted
    from nasdsl.backends.torch_src import emit_torch

    c = compile_spec(V2, {"up": "authors", "C": 16, "depth": 2})
    assert size_multiple(c.graph) == (1, 1)
    assert size_multiple(compile_spec(V2, {"C": 16, "depth": 2}).graph) == (8, 8)
    model = load_emitted(emit_torch(c)).Model().eval()
    with torch.no_grad():
        y = model(torch.randn(1, 1, 37, 50))
    assert tuple(y.shape) == (1, 2, 37, 50)
