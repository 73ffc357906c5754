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


def _svg_panels(spec: str):
    import xml.etree.ElementTree as ET

    from nasdsl.backends.dot import drawing
    from nasdsl.backends.svg import to_svg

    root = ET.fromstring(to_svg(drawing.build(compile_spec(str(SPECS / spec)))))
    ns = "{http://www.w3.org/2000/svg}"
    panels = []
    for g in root.findall(f"{ns}g"):
        rects = [tuple(float(r.get(k)) for k in ("x", "y", "width", "height"))
                 for r in g.findall(f"{ns}rect")][1:]  # [0] is the panel's frame
        lines = [[tuple(map(float, p.split(","))) for p in pl.get("points").split()]
                 for pl in g.findall(f"{ns}polyline")]
        texts = [t.text for t in g.findall(f"{ns}text") if t.get("font-weight") == "bold"]
        panels.append((rects, lines, texts[1:]))  # texts[0] is the panel title
    return root, panels


def _on_border(pt, rect, tol=0.6) -> bool:
    x, y, w, h = rect
    inside = x - tol <= pt[0] <= x + w + tol and y - tol <= pt[1] <= y + h + tol
    near = min(abs(pt[0] - x), abs(pt[0] - x - w), abs(pt[1] - y), abs(pt[1] - y - h))
    return inside and near <= tol


def _strictly_inside(pt, rect, tol=1.0) -> bool:
    x, y, w, h = rect
    return x + tol < pt[0] < x + w - tol and y + tol < pt[1] < y + h - tol


@pytest.mark.parametrize("spec", ["unet.nas", "ronasmis.nas", "nas_unet.nas"])
def test_svg_edges_end_at_box_borders_so_arrowheads_show(spec):
    _, panels = _svg_panels(spec)
    ends = 0
    for rects, lines, _ in panels:
        for pts in lines:
            head, tail = pts[-1], pts[0]
            # the arrowhead's tip touches its target's border, outside every box's inside
            assert any(_on_border(head, r) for r in rects), (spec, head)
            assert not any(_strictly_inside(head, r) for r in rects), (spec, head)
            assert any(_on_border(tail, r) for r in rects), (spec, tail)
            # and the last segment is long enough for the 7px marker to be seen
            assert abs(head[0] - pts[-2][0]) + abs(head[1] - pts[-2][1]) > 7
            ends += 1
    assert ends > 10


@pytest.mark.parametrize("spec", ["unet.nas", "ronasmis.nas"])
def test_svg_box_names_carry_their_stage(spec):
    _, panels = _svg_panels(spec)
    names = panels[0][2]
    assert len(names) == len(set(names)), [n for n in names if names.count(n) > 1]
    assert "h.conv" not in names and "enc[1].h" in names


def test_large_space_drawing_is_bounded():
    from nasdsl.backends.svg import MAX_SIDE

    root, _ = _svg_panels("ronasmis.nas")  # 86 ops: was drawn 1695 x 6730 px
    width, height = float(root.get("width")), float(root.get("height"))
    assert max(width, height) <= MAX_SIDE
    vb = [float(v) for v in root.get("viewBox").split()]
    assert vb[3] < 4500 and abs(width / height - vb[2] / vb[3]) < 0.01  # no distortion
