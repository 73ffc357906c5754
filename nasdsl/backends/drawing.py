"""What `nasdsl show` draws, independent of how it is rendered (DOT or SVG).

A drawing is a list of panels: the macro graph (cell instances collapsed to one box
each) and one panel per cell type showing its inside. Both renderers (`dot.py`,
`svg.py`) consume this, so the content of the picture is decided once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nasdsl.api import Compiled
from nasdsl.ir.graph import Node


@dataclass(frozen=True, slots=True)
class Box:
    key: str                      # unique within the drawing
    lines: tuple[str, ...]        # label text, one entry per line
    style: str = "op"             # op | cell | input


@dataclass
class Panel:
    key: str
    title: str
    boxes: list[Box] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)


def _label(n: Node) -> tuple[str, ...]:
    if n.op == "input":
        return (n.path[0], f"{n.type.channels} ch")
    extra = ""
    if n.op in ("act", "norm", "pool") and n.attr("kind"):
        extra = f" {n.attr('kind')}"
    if n.op == "mixed":
        extra = " {" + ", ".join(a.label for a in n.attr("alternatives")) + "}"
    stride = ",".join(str(s) for s in n.type.stride)
    return (".".join(n.path[-2:]), f"{n.op}{extra}", f"{n.type.channels} ch /{stride}")


def _instance_of(n: Node, instances: dict[str, str]) -> str | None:
    if n.cell is None:
        return None
    for comp in n.path:
        if comp in instances:
            return comp
    return None


def build(c: Compiled) -> list[Panel]:
    g = c.graph
    instances = {ci.path: ci.cell for ci in g.cells}
    owner = {n.id: _instance_of(n, instances) for n in g.nodes}
    macro = Panel("macro", f"{c.unit.name} (macro)")
    for ci in g.cells:
        macro.boxes.append(Box("cell:" + ci.path, (ci.path, ci.cell), "cell"))
    for n in g.nodes:
        if owner[n.id] is None:
            macro.boxes.append(Box(f"n{n.id}", _label(n),
                                   "input" if n.op == "input" else "op"))

    def ref(nid: int) -> str:
        inst = owner[nid]
        return "cell:" + inst if inst else f"n{nid}"

    for n in g.nodes:
        for i in n.inputs:
            edge = (ref(i), ref(n.id))
            if edge[0] != edge[1] and edge not in macro.edges:
                macro.edges.append(edge)
    panels = [macro]
    drawn: set[str] = set()
    for ci in g.cells:
        if ci.cell in drawn:
            continue
        drawn.add(ci.cell)
        panels.append(_cell_panel(ci.cell, ci.path, [n for n in g.nodes
                                                      if owner[n.id] == ci.path]))
    return panels


def _cell_panel(cell: str, instance: str, members: list[Node]) -> Panel:
    """One cell type's inside, as instantiated at `instance` (its first use)."""
    panel = Panel("cluster_" + cell, f"cell {cell} (as {instance})")
    ids = {n.id for n in members}
    outside: list[int] = []
    for n in members:
        panel.boxes.append(Box(f"c{n.id}", _label(n)))
    for n in members:
        for i in n.inputs:
            if i in ids:
                panel.edges.append((f"c{i}", f"c{n.id}"))
                continue
            if i not in outside:
                outside.append(i)
                panel.boxes.append(Box(f"x{cell}{i}", (f"input {len(outside) - 1}",),
                                       "input"))
            panel.edges.append((f"x{cell}{i}", f"c{n.id}"))
    return panel
