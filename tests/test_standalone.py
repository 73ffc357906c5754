"""Standalone backend: emitted modules import without nasdsl, count exactly the static
parameters, and their ONNX graphs match PyTorch under ONNX Runtime, in 2D and 3D."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from conftest import SPECS  # noqa: E402
from nasdsl.analysis.resources import param_bounds  # noqa: E402
from nasdsl.api import compile_spec  # noqa: E402
from nasdsl.backends.onnx_export import example_input, export, load_emitted, verify  # noqa: E402
from nasdsl.backends.torch_src import emit_torch  # noqa: E402

# (spec, small test patch per dims): patches divisible by every stride of the spec
FROZEN = {
    "unet.nas": {2: (32, 32), 3: (16, 16, 16)},
    "unet_pp.nas": {2: (32, 32), 3: (16, 16, 16)},
    "genotypes/nas_unet_v2.nas": {2: (64, 64), 3: (64, 64, 64)},
    "genotypes/thrifty_nas_a.nas": {2: (32, 32), 3: (16, 16, 16)},
    "genotypes/ronasmis_a.nas": {2: (32, 32), 3: (32, 32, 16)},
}
SMALL = {"genotypes/nas_unet_v2.nas": {"C": 16}, "unet.nas": {"base": 8},
         "unet_pp.nas": {"base": 8}, "genotypes/ronasmis_a.nas": {"base": 4}}
CASES = [(name, dims) for name in FROZEN for dims in (2, 3)]


def _compiled(name: str, dims: int, small: bool = True):
    overrides = {"dims": dims, **(SMALL.get(name, {}) if small else {})}
    return compile_spec(str(SPECS / name), overrides, FROZEN[name][dims])


@pytest.mark.parametrize("name,dims", CASES, ids=lambda v: str(v))
def test_emitted_module_counts_the_static_parameters(name, dims):
    c = _compiled(name, dims, small=False)
    model = load_emitted(emit_torch(c)).Model()
    assert sum(p.numel() for p in model.parameters()) == param_bounds(c.graph).lo


@pytest.mark.parametrize("name,dims", CASES, ids=lambda v: str(v))
def test_onnx_runtime_matches_pytorch(name, dims, tmp_path):
    c = _compiled(name, dims)
    torch.manual_seed(0)
    model = load_emitted(emit_torch(c)).Model().eval()
    channels = c.graph.node(c.graph.inputs[0]).type.channels
    x = example_input(channels, c.input_size, batch=1)
    path = tmp_path / "m.onnx"
    export(model, x, path, [n for n, _ in c.graph.outputs])
    # a different batch size than exported: the axes are dynamic
    result = verify(model, path, example_input(channels, c.input_size, batch=2, seed=1))
    assert result.max_abs_diff <= 1e-4


def test_emitted_file_imports_without_nasdsl(tmp_path):
    c = _compiled("genotypes/nas_unet_v2.nas", 2)
    (tmp_path / "model.py").write_text(emit_torch(c))
    code = ("import sys; sys.modules['nasdsl'] = None\n"
            "import torch, model\n"
            "m = model.Model()\n"
            "y = m(torch.randn(1, model.INPUT_CHANNELS, 64, 64))\n"
            "assert sum(p.numel() for p in m.parameters()) == model.NUM_PARAMETERS\n"
            "print(tuple(y.shape))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(1, 2, 64, 64)"
    source = (tmp_path / "model.py").read_text()
    imports = {line for line in source.splitlines() if line.startswith(("import", "from"))}
    assert imports <= {"import math", "import torch", "import torch.nn as nn",
                       "import torch.nn.functional as F"}


def test_nas_unet_promise12_configuration_compiles(tmp_path):
    from click.testing import CliRunner

    from nasdsl.cli import main

    out = tmp_path / "m.py"
    r = CliRunner().invoke(main, ["compile", str(SPECS / "genotypes/nas_unet_v2.nas"),
                                  "--target", "torch", "-o", str(out), "--verify"])
    assert r.exit_code == 0, r.output
    assert "match the static count" in r.output
    r = CliRunner().invoke(main, ["check", str(SPECS / "genotypes/nas_unet_v2.nas")])
    static = param_bounds(compile_spec(str(SPECS / "genotypes/nas_unet_v2.nas")).graph).lo
    assert f"{static:,}" in r.output


def test_compile_refuses_a_space(tmp_path):
    from click.testing import CliRunner

    from nasdsl.cli import main

    r = CliRunner().invoke(main, ["compile", str(SPECS / "nas_unet.nas"), "-o",
                                  str(tmp_path / "m.py")])
    assert r.exit_code == 1 and "open choices" in r.output
    assert not (tmp_path / "m.py").exists()


SPACES = ["nas_unet.nas", "thrifty_nas.nas", "ronasmis.nas"]
SPACE_SIZES = {"nas_unet.nas": (32, 32), "thrifty_nas.nas": (32, 32),
               "ronasmis.nas": (32, 32, 16)}
SPACE_SMALL = {"nas_unet.nas": {"C": 16, "depth": 3}, "thrifty_nas.nas": {"levels": 3},
               "ronasmis.nas": {"base": 4}}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(space=st.sampled_from(SPACES), seed=st.integers(0, 2**32 - 1))
def test_random_genotypes_count_exactly(space, seed):
    base = compile_spec(str(SPECS / space), SPACE_SMALL[space], SPACE_SIZES[space])
    assignment = base.table.sample(random.Random(seed))
    c = compile_spec(str(SPECS / space), SPACE_SMALL[space], SPACE_SIZES[space],
                     assignment=assignment)
    assert c.is_frozen
    model = load_emitted(emit_torch(c)).Model()
    assert sum(p.numel() for p in model.parameters()) == param_bounds(c.graph).lo
    with torch.no_grad():
        y = model(example_input(1, c.input_size))
    assert y.shape[2:] == c.input_size


def test_compiled_module_works_under_torch_compile_and_channels_last():
    c = _compiled("genotypes/nas_unet_v2.nas", 2)
    mod = load_emitted(emit_torch(c, channels_last=True))
    model = mod.Model().eval().to_channels_last()
    x = example_input(1, c.input_size)
    with torch.no_grad():
        eager = model(x)
        compiled = torch.compile(model, backend="eager", fullgraph=True)(x)
    torch.testing.assert_close(eager, compiled)


GOLDEN = Path(__file__).parent / "golden"
GOLDEN_CASES = ["unet.nas", "unet_pp.nas", "genotypes/nas_unet_v2.nas",
                "genotypes/thrifty_nas_a.nas", "genotypes/ronasmis_a.nas"]


@pytest.mark.parametrize("name", GOLDEN_CASES)
def test_golden_emitted_source(name, request):
    """Refresh after an intended change: scripts/refresh-golden.sh"""
    c = compile_spec(str(SPECS / name))
    got = emit_torch(c)
    path = GOLDEN / (Path(name).stem + ".py")
    if request.config.getoption("--update-golden"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(got)
    assert path.exists(), f"missing golden file {path}: run scripts/refresh-golden.sh"
    assert got == path.read_text(), f"{path.name} changed: review the diff, then run " \
                                    "scripts/refresh-golden.sh"
