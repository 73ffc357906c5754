"""`nasdsl show`: the macro graph with cells collapsed, and each cell type's inside."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from conftest import SPECS
from nasdsl.api import compile_spec
from nasdsl.backends.dot import to_dot
from nasdsl.cli import main


def test_dot_has_macro_graph_and_one_cluster_per_cell_type():
    c = compile_spec(str(SPECS / "genotypes" / "nas_unet_v2.nas"))
    dot = to_dot(c)
    assert dot.startswith('digraph "NasUnetV2"')
    assert dot.count("subgraph") == 3  # macro + DownSC + UpSC
    assert '"cell:enc[2]"' in dot and '"cell:dec[5]"' in dot
    assert "up_cweight" not in dot or "UpSC" in dot


def test_show_writes_dot(tmp_path):
    out = tmp_path / "arch.dot"
    r = CliRunner().invoke(main, ["show", str(SPECS / "nas_unet.nas"), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "mixed {" in out.read_text()  # a space shows its candidate op sets


def test_show_svg_needs_graphviz(tmp_path):
    out = tmp_path / "arch.svg"
    r = CliRunner().invoke(main, ["show", str(SPECS / "unet.nas"), "-o", str(out)])
    if shutil.which("dot") is None:
        assert r.exit_code == 1 and "Graphviz" in r.output
        assert (tmp_path / "arch.dot").exists()
    else:
        assert r.exit_code == 0 and out.read_text().lstrip().startswith("<")


@pytest.mark.parametrize("target,suffix", [("torch", "py"), ("onnx", "onnx")])
def test_compile_command_writes_and_verifies(tmp_path, target, suffix):
    pytest.importorskip("onnxruntime")
    out = tmp_path / f"m.{suffix}"
    r = CliRunner().invoke(main, ["compile", str(SPECS / "unet.nas"), "--target", target,
                                  "-o", str(out), "--verify", "-D", "base=8",
                                  "--input-size", "32"])
    assert r.exit_code == 0, r.output
    assert out.exists() and "verified" in r.output
