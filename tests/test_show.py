"""`nasdsl show`: the macro graph with cells collapsed, and each cell type's inside."""

from __future__ import annotations

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


def test_show_draws_svg_without_graphviz(tmp_path, monkeypatch):
    import xml.etree.ElementTree as ET

    monkeypatch.setenv("PATH", "")  # no `dot` anywhere: SVG is drawn by nasdsl itself
    out = tmp_path / "arch.svg"
    r = CliRunner().invoke(main, ["show", str(SPECS / "genotypes" / "nas_unet_v2.nas"),
                                  "-o", str(out)])
    assert r.exit_code == 0, r.output
    root = ET.fromstring(out.read_text())  # well-formed XML
    ns = "{http://www.w3.org/2000/svg}"
    panels = root.findall(f"{ns}g")
    assert [p.get("id") for p in panels] == ["macro", "cluster_DownSC", "cluster_UpSC"]
    texts = {t.text for t in root.iter(f"{ns}text")}
    assert {"enc[2]", "dec[5]", "down_dep_conv", "up_cweight"} <= {
        w for t in texts for w in (t or "").split()} | texts
    # every box lies inside the canvas
    width, height = float(root.get("width")), float(root.get("height"))
    for rect in root.iter(f"{ns}rect"):
        x, y = float(rect.get("x")), float(rect.get("y"))
        assert 0 <= x <= width and 0 <= y <= height


def test_svg_escapes_text():
    from nasdsl.backends.drawing import Box, Panel
    from nasdsl.backends.svg import to_svg

    panel = Panel("p", "<script>&", [Box("a", ("a<b>",)), Box("b", ("\"q\"",))],
                  [("a", "b")])
    svg = to_svg([panel])
    assert "<script>" not in svg and "a&lt;b&gt;" in svg


def test_show_other_formats_need_graphviz(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "")
    r = CliRunner().invoke(main, ["show", str(SPECS / "unet.nas"), "-o",
                                  str(tmp_path / "arch.png")])
    assert r.exit_code == 1 and "Graphviz" in r.output and ".svg" in r.output


@pytest.mark.parametrize("target,suffix", [("torch", "py"), ("onnx", "onnx")])
def test_compile_command_writes_and_verifies(tmp_path, target, suffix):
    pytest.importorskip("onnxruntime")
    out = tmp_path / f"m.{suffix}"
    r = CliRunner().invoke(main, ["compile", str(SPECS / "unet.nas"), "--target", target,
                                  "-o", str(out), "--verify", "-D", "base=8",
                                  "--input-size", "32"])
    assert r.exit_code == 0, r.output
    assert out.exists() and "verified" in r.output
