"""Outlined emission (the default) against the flat form (`--flat`): one class per cell
type and composite op, yet the same state_dict keys in the same order, the same random
initialisation, and bitwise the same outputs; short lines that cite the spec."""

from __future__ import annotations

import random
import re

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, SPECS
from nasdsl.api import compile_spec
from nasdsl.backends.onnx_export import example_input, load_emitted
from nasdsl.backends.torch_src import emit_torch

pytestmark = pytest.mark.usefixtures("one_thread")

# (spec, small overrides, test patch per dims)
CASES = {
    "unet.nas": ({"base": 4}, {2: (16, 16), 3: (16, 16, 16)}),
    "unet_pp.nas": ({"base": 4}, {2: (16, 16), 3: (16, 16, 16)}),
    "genotypes/nas_unet_v2.nas": ({"C": 16, "depth": 3}, {2: (16, 16), 3: (16, 16, 16)}),
    "genotypes/thrifty_nas_a.nas": ({}, {2: (32, 32), 3: (16, 16, 16)}),
    "genotypes/ronasmis_a.nas": ({"base": 4}, {2: (32, 32), 3: (32, 32, 16)}),
}


def _both(c):
    """(flat, outlined) models built from the same seed."""
    models = []
    for flat in (True, False):
        module = load_emitted(emit_torch(c, flat=flat))
        torch.manual_seed(0)
        models.append(module.Model().eval())
    return models


def _same_models(c) -> None:
    flat, outlined = _both(c)
    a, b = flat.state_dict(), outlined.state_dict()
    assert list(a) == list(b)          # same keys, same order: checkpoints load both ways
    for key in a:                      # same initialisation order under one seed
        assert torch.equal(a[key], b[key]), key
    channels = c.graph.node(c.graph.inputs[0]).type.channels
    x = example_input(channels, c.input_size, batch=2)
    with torch.no_grad():
        ya, yb = flat(x), outlined(x)
    ya = ya if isinstance(ya, tuple) else (ya,)
    yb = yb if isinstance(yb, tuple) else (yb,)
    assert all(torch.equal(p, q) for p, q in zip(ya, yb, strict=True))


@pytest.mark.parametrize("name,dims", [(n, d) for n in CASES for d in (2, 3)],
                         ids=lambda v: str(v))
def test_outlined_equals_flat(name, dims):
    small, patch = CASES[name]
    _same_models(compile_spec(str(SPECS / name), {"dims": dims, **small}, patch[dims]))


SPACES = {"nas_unet.nas": ({"C": 16, "depth": 2}, (16, 16)),
          "thrifty_nas.nas": ({"levels": 2}, (16, 16)),
          "ronasmis.nas": ({"base": 4}, (32, 32, 16))}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(space=st.sampled_from(sorted(SPACES)), seed=st.integers(0, 2**32 - 1))
def test_random_genotypes_outline_to_the_same_model(space, seed):
    """Cells whose instances differ in structure get a class each; still the same net."""
    small, size = SPACES[space]
    base = compile_spec(str(SPECS / space), small, size)
    assignment = base.table.sample(random.Random(seed))
    _same_models(compile_spec(str(SPECS / space), small, size, assignment=assignment))


def _source(name: str) -> str:
    return emit_torch(compile_spec(str(SPECS / name)))


def _model_lines(source: str) -> list[str]:
    """The lines after the copied op implementations and the input check."""
    return source[source.index("def _check_input"):].splitlines()


@pytest.mark.parametrize("name", list(CASES))
def test_outlined_lines_are_short_and_cite_the_spec(name):
    source = _source(name)
    assert max(len(line) for line in source.splitlines()) <= 100
    spec_line = re.compile(r"  # [\w.-]+\.nas:\d+$")
    for line in _model_lines(source):
        statement = line.strip()
        if not line.startswith(" " * 8) or line.startswith(" " * 12):
            continue   # a method's statements only; continuation lines follow theirs
        if statement.startswith(("self.", "return self.")) or re.match(r"^\w+(, \w+)* = ",
                                                                         statement):
            if "memory_format" not in statement and "super()" not in statement:
                assert spec_line.search(line), line


def test_nas_unet_has_one_class_per_cell_type_and_op():
    source = _source("genotypes/nas_unet_v2.nas")
    classes = re.findall(r"^class (\w+)\(nn\.Module\)", source, re.M)
    assert {"Preprocess", "DownSC", "UpSC"} <= set(classes)
    assert source.count("= DownSC(") == 5 and source.count("= UpSC(") == 6
    assert source.count("= Preprocess(") == 4   # p0 and p1 of the two cell classes
    # a cell's forward reads like its nodes block; the one `del` frees the preprocessed
    # inputs before the concat allocates (nothing is deleted where the forward returns)
    down = source[source.index("class DownSC"): source.index("class UpSC")]
    forward = down[down.index("    def forward"):].strip().splitlines()
    assert [line.split("  #")[0].strip() for line in forward] == [
        "def forward(self, s0, s1):",
        "p0 = self.p0(s0)",
        "p1 = self.p1(s1)",
        "n_0 = self.n_0.p0(p0) + self.n_0.p1(p1)",
        "n_1 = self.n_1.p0(p0) + self.n_1.p1(p1)",
        "n_2 = self.n_2.p0(p0) + self.n_2.p1(p1)",
        "del p0, p1",
        "return torch.cat([n_0, n_1, n_2], dim=1)"]


def test_nas_unet_is_at_most_one_and_a_half_times_the_hand_written_model():
    ours = len(_source("genotypes/nas_unet_v2.nas").splitlines())
    theirs = len((ROOT / "bench" / "handwritten_nas_unet.py").read_text().splitlines())
    assert ours <= 1.5 * theirs, (ours, theirs)


def test_compile_flat_flag_keeps_the_flat_form(tmp_path):
    from click.testing import CliRunner

    from nasdsl.cli import main

    spec = str(SPECS / "genotypes/nas_unet_v2.nas")
    for flag, out in (([], tmp_path / "outlined.py"), (["--flat"], tmp_path / "flat.py")):
        r = CliRunner().invoke(main, ["compile", spec, "-o", str(out), *flag])
        assert r.exit_code == 0, r.output
    assert "class DownSC(nn.Module)" in (tmp_path / "outlined.py").read_text()
    flat = (tmp_path / "flat.py").read_text()
    assert "class DownSC" not in flat and "self.enc_2.n_0.p0 = " in flat


def test_outlined_module_compiles_with_fullgraph():
    c = compile_spec(str(SPECS / "genotypes/nas_unet_v2.nas"), {"C": 16, "depth": 2},
                     (16, 16))
    model = load_emitted(emit_torch(c)).Model().eval()
    x = example_input(1, c.input_size)
    with torch.no_grad():
        torch.testing.assert_close(model(x), torch.compile(model, backend="eager",
                                                           fullgraph=True)(x))



@pytest.mark.parametrize("name", ["genotypes/nas_unet_v2.nas", "unet_pp.nas"])
def test_outlined_exports_the_same_onnx_graph(name, tmp_path):
    """Same ops in the same order, same weights: the ONNX graphs differ only in names."""
    import onnx

    from nasdsl.backends.onnx_export import export

    small, patch = CASES[name]
    c = compile_spec(str(SPECS / name), {"dims": 2, **small}, patch[2])
    graphs = []
    for flat, model in zip((True, False), _both(c)):
        path = tmp_path / f"{flat}.onnx"
        export(model, example_input(1, c.input_size), path, [n for n, _ in c.graph.outputs])
        graphs.append(onnx.load(str(path)).graph)
    a, b = graphs
    assert [n.op_type for n in a.node] == [n.op_type for n in b.node]
    assert sorted(onnx.numpy_helper.to_array(t).tobytes() for t in a.initializer) == \
        sorted(onnx.numpy_helper.to_array(t).tobytes() for t in b.initializer)


def test_lifted_parameters_tell_true_from_one():
    """Values that compare equal but print differently (True == 1) are not one value."""
    from nasdsl.backends.outline import Body, Decl, lift
    from nasdsl.ir.names import Namespace

    def body(value):
        return Body([Decl("leaf", "p0.conv", "Conv", [(None, 2), ("groups", value)], "s:1")],
                    [], ["x"])

    params, slots = lift([body(True), body(1)], Namespace())
    assert params == ["groups"] and slots == {1: "groups"}
    assert lift([body(2), body(2)], Namespace()) == ([], {})
