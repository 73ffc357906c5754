"""nn.Module's own attribute names are never used for spec modules (issue 7): the
checked-in list covers the installed torch, and such targets compile and build."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from nasdsl.api import compile_spec  # noqa: E402
from nasdsl.backends.onnx_export import load_emitted  # noqa: E402
from nasdsl.backends.torch_src import emit_torch  # noqa: E402
from nasdsl.ir.names import MODULE_RESERVED  # noqa: E402


def test_reserved_list_covers_the_installed_torch():
    public = {n for n in dir(torch.nn.Module) if not n.startswith("_")}
    public |= {n for n in dir(torch.nn.Module()) if not n.startswith("_")}
    missing = sorted(public - MODULE_RESERVED)
    assert not missing, (f"torch {torch.__version__} has nn.Module attributes {missing} "
                         "that spec modules could take: run "
                         "scripts/update-module-reserved.py")


NAMES = ["named_parameters", "extra_repr", "register_forward_hook", "share_memory",
         "bfloat16", "xpu", "get_parameter", "to_empty", "training", "ipu"]


@pytest.mark.parametrize("name", NAMES)
def test_module_attribute_names_as_targets_build(tmp_path, name):
    spec = tmp_path / "r.nas"
    spec.write_text("arch R {\n  param dims = 2\n  input x(channels=1, size=16)\n"
                    f"  {name} = conv(x, 4, 3)\n  h = conv({name}, 4, 3)\n"
                    "  output y = conv(h, 1, 1)\n}\n")
    c = compile_spec(str(spec))
    model = load_emitted(emit_torch(c)).Model()
    assert callable(getattr(torch.nn.Module, name, None)) == callable(getattr(model, name,
                                                                                None))
    y = model(torch.randn(1, 1, 16, 16))
    assert tuple(y.shape) == (1, 1, 16, 16)
