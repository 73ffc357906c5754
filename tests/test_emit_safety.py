"""Nothing from a spec's file name or path reaches emitted source unescaped, emitted
source runs nothing on import, and the emitted model checks its input size (issue 7)."""

from __future__ import annotations

import ast
import os

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import SPECS
from nasdsl.api import compile_spec
from nasdsl.backends.emit_safety import check_emitted, provenance
from nasdsl.backends.torch_src import emit_torch
from nasdsl.cli import main
from nasdsl.diagnostics import InternalError

SPEC = (SPECS / "unet.nas").read_bytes()
SMALL = {"base": 4, "depth": 2}
# every Unicode line break Python's str.splitlines() knows, quotes, escapes, NUL, bidi
HOSTILE = ['"', "'", '"""', "'''", "\\", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d",
           "\x1e", "\x85", "\u2028", "\u2029", "\x00", "\u202e", "\u2066", "\u2069", "\u200f",
           "#", ";", "{", "}", "{{", "{%", "%}", "print(1)", "\t", "\ud800", "\U0001F600"]
INJECTION = 'b""";print("PWNED");""".nas'


def emitted_shape(source: str) -> str:
    """The AST without docstrings' text: what a hostile name must not change."""
    tree = check_emitted(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = "<text>"
    return ast.dump(tree)


BENIGN = None


def benign_shape() -> str:
    global BENIGN
    if BENIGN is None:
        BENIGN = emitted_shape(emit_torch(compile_spec("specs/unet.nas", SMALL, data=SPEC)))
    return BENIGN


def test_provenance_keeps_plain_names_and_escapes_the_rest():
    assert provenance("nas_unet_v2.nas") == "nas_unet_v2.nas"
    assert provenance(INJECTION) == "b\\x22\\x22\\x22\\x3bprint(\\x22PWNED\\x22)\\x3b" \
                                    "\\x22\\x22\\x22.nas"
    assert provenance("a\u2028b\U0001F600") == "a\\u2028b\\U0001f600"


hostile_text = st.lists(st.sampled_from(HOSTILE) | st.text(max_size=3), max_size=8).map(
    "".join)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(directory=hostile_text, stem=hostile_text)
@example(directory="", stem=INJECTION[:-4])
@example(directory='x"""\n', stem="a\u2028b\rc\\\n\x0c\u202e")
def test_hostile_names_and_paths_emit_the_same_module(directory, stem):
    path = os.path.join(directory.replace("/", "_"), stem.replace("/", "_") + ".nas")
    source = emit_torch(compile_spec(path, SMALL, data=SPEC))
    assert source.isascii()
    assert source.splitlines() == source.split("\n")[:-1]  # no line break but \n
    assert emitted_shape(source) == benign_shape()
    tree = ast.parse(source)
    assert not [n for n in tree.body if isinstance(n, ast.Expr)]  # nothing runs on import


def test_check_emitted_refuses_code_that_runs_on_import():
    good = emit_torch(compile_spec("specs/unet.nas", SMALL, data=SPEC))
    check_emitted(good)
    for bad in ('print("PWNED")\n', 'X = print("PWNED")\n', "import os\n",
                'class A:\n    print("PWNED")\n', "@print\ndef f():\n    pass\n",
                "def f(a=print()):\n    pass\n", "def f(:\n",
                "class B(metaclass=print):\n    pass\n",
                "def f(x):\n    return getattr(x, 'y')\n",
                "def f(x):\n    return x.__class__\n", "def f():\n    open('/etc/passwd')\n"):
        with pytest.raises(InternalError):
            check_emitted(good + bad)


def test_injection_through_a_file_name_runs_nothing(tmp_path, capfd, monkeypatch):
    """compile --verify and the ONNX export import the emitted module only in a child
    process; neither prints what the file name tried to inject."""
    pytest.importorskip("onnxruntime")
    import nasdsl.backends.onnx_export as onnx_export

    def refuse(*args, **kwargs):
        raise AssertionError("emitted source was imported in the compiler's process")

    monkeypatch.setattr(onnx_export, "load_emitted", refuse)
    spec = tmp_path / INJECTION
    spec.write_bytes(SPEC)
    small = ["-D", "base=4", "-D", "depth=2", "--input-size", "16x16", "--verify"]
    r = CliRunner().invoke(main, ["compile", str(spec), "-o", str(tmp_path / "m.py"), *small])
    assert r.exit_code == 0 and "parameters match the static count" in r.output, r.output
    r = CliRunner().invoke(main, ["compile", str(spec), "--target", "onnx", "-o",
                                  str(tmp_path / "m.onnx"), *small])
    assert r.exit_code == 0 and "ONNX Runtime" in r.output, r.output
    captured = capfd.readouterr()
    assert "PWNED" not in r.output + captured.out + captured.err
    assert emitted_shape((tmp_path / "m.py").read_text()) == benign_shape()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m.onnx", "m.py", INJECTION])


def test_emitted_model_checks_its_input_size():
    torch = pytest.importorskip("torch")
    from nasdsl.backends.onnx_export import load_emitted

    c = compile_spec(str(SPECS / "genotypes" / "nas_unet_v2.nas"), {"C": 8})
    mod = load_emitted(emit_torch(c))
    assert mod.SIZE_MULTIPLE == (64, 64)
    model = mod.Model().eval()
    with torch.no_grad(), pytest.raises(ValueError, match=r"not a multiple of \(64, 64\)"):
        model(torch.randn(1, 1, 160, 192))
    with torch.no_grad(), pytest.raises(ValueError, match="expected shape"):
        model(torch.randn(1, 1, 64))
    with torch.no_grad():
        assert model(torch.randn(1, 1, 64, 128)).shape == (1, 2, 64, 128)


def test_onnx_export_keeps_dynamic_sizes_with_the_input_check(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from nasdsl.backends.onnx_export import example_input, export, load_emitted, verify

    c = compile_spec(str(SPECS / "unet.nas"), {"base": 4, "depth": 2}, (16, 16))
    model = load_emitted(emit_torch(c)).Model().eval()
    export(model, example_input(1, (16, 16)), tmp_path / "m.onnx", ["y"])
    # a larger size than exported: the check did not freeze the size axes
    result = verify(model, tmp_path / "m.onnx", example_input(1, (32, 48), batch=2))
    assert result.shapes == [(2, 1, 32, 48)]



def test_every_op_implementation_passes_the_emitted_source_check():
    """A new impl class in ops/torch_impl.py must not trip the check at compile time."""
    from nasdsl.ops.impl_source import IMPL_IMPORTS, impl_names, impl_source

    names = impl_names()
    check_emitted("\n".join(IMPL_IMPORTS) + "\n\n" + impl_source(names))


def test_check_refuses_an_import_hidden_in_a_method():
    """Imports anywhere (not just at the top) are limited to torch and math."""
    from nasdsl.backends.emit_safety import check_emitted
    from nasdsl.diagnostics import InternalError

    src = "import torch\nclass Model(torch.nn.Module):\n    def forward(self, x):\n" \
          "        import shutil\n        return x\n"
    with pytest.raises(InternalError, match="imports"):
        check_emitted(src)
