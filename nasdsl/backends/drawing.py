"""What `nasdsl show` draws, independent of how it is rendered (DOT or SVG).

A drawing is a list of panels: the macro graph (cell instances collapsed to one box
each) and one panel per cell type showing its inside. Both renderers (`dot.py`,
`svg.py`) consume this, so the content of the picture is decided once.

Every box is named by its full module path (`enc[1].h.conv`, not `h.conv`), so repeated
blocks stay distinguishable. A straight run of ops of one block (`enc[1].h`: conv, norm,
act, each feeding only the next) is drawn as one box listing them in order: that keeps
deep networks (RONASMIS: 86 ops) readable instead of a column of thousands of pixels.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

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


def _op_text(n: Node) -> str:
    extra = ""
    if n.op in ("act", "norm", "pool") and n.attr("kind"):
        extra = f" {n.attr('kind')}"
    if n.op == "mixed":
        extra = " {" + ", ".join(a.label for a in n.attr("alternatives")) + "}"
    return f"{n.op}{extra}"


def _shape_text(n: Node) -> str:
    return f"{n.type.channels} ch /" + ",".join(str(s) for s in n.type.stride)


def _label(n: Node, name: str) -> tuple[str, ...]:
    if n.op == "input":
        return (name, f"{n.type.channels} ch")
    return (name, _op_text(n), _shape_text(n))


def _chain_label(chain: list[Node], name: Callable[[Node], str]) -> tuple[str, ...]:
    """One box for ops of one block that feed each other in a line."""
    head = name(chain[0]).rsplit(".", 1)[0]
    return (head, *(_op_text(n) if n.path[-1] == n.op else f"{n.path[-1]}: {_op_text(n)}"
                    for n in chain), _shape_text(chain[-1]))


def _chains(nodes: list[Node], consumers: Counter) -> list[list[Node]]:
    """`nodes` (topological order) grouped into maximal straight runs within one block:
    a node joins its predecessor's run when it is that node's only consumer, has no
    other input, and both share the block path (all but the last path component)."""
    runs: list[list[Node]] = []
    run_of: dict[int, list[Node]] = {}
    for n in nodes:
        prev = run_of.get(n.inputs[0]) if len(n.inputs) == 1 else None
        if (prev is not None and prev[-1].id == n.inputs[0] and consumers[n.inputs[0]] == 1
                and n.op != "input" and len(n.path) > 1
                and prev[-1].path[:-1] == n.path[:-1]):
            prev.append(n)
            run_of[n.id] = prev
            continue
        run_of[n.id] = [n]
        runs.append(run_of[n.id])
    return runs


def _add_nodes(panel: Panel, nodes: list[Node], consumers: Counter, prefix: str,
               name: Callable[[Node], str], box_of: dict[int, str]) -> None:
    for run in _chains(nodes, consumers):
        key = f"{prefix}{run[0].id}"
        if len(run) == 1:
            n = run[0]
            panel.boxes.append(Box(key, _label(n, name(n)),
                                   "input" if n.op == "input" else "op"))
        else:
            panel.boxes.append(Box(key, _chain_label(run, name)))
        for n in run:
            box_of[n.id] = key


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
    consumers = Counter(i for n in g.nodes for i in n.inputs)
    macro = Panel("macro", f"{c.unit.name} (macro)")
    for ci in g.cells:
        macro.boxes.append(Box("cell:" + ci.path, (ci.path, ci.cell), "cell"))
    box_of = {n.id: "cell:" + owner[n.id] for n in g.nodes if owner[n.id]}
    _add_nodes(macro, [n for n in g.nodes if owner[n.id] is None], consumers, "n",
               lambda n: ".".join(n.path), box_of)
    for n in g.nodes:
        for i in n.inputs:
            edge = (box_of[i], box_of[n.id])
            if edge[0] != edge[1] and edge not in macro.edges:
                macro.edges.append(edge)
    panels = [macro]
    drawn: set[str] = set()
    for ci in g.cells:
        if ci.cell in drawn:
            continue
        drawn.add(ci.cell)
        panels.append(_cell_panel(ci.cell, ci.path, [n for n in g.nodes
                                                      if owner[n.id] == ci.path], consumers))
    return panels


def _inside_name(n: Node, instance: str) -> str:
    """A member's path below its cell instance (the panel title names the instance)."""
    path = n.path[n.path.index(instance) + 1:] if instance in n.path else n.path
    return ".".join(path) or n.path[-1]


def _cell_panel(cell: str, instance: str, members: list[Node], consumers: Counter) -> Panel:
    """One cell type's inside, as instantiated at `instance` (its first use)."""
    panel = Panel("cluster_" + cell, f"cell {cell} (as {instance})")
    box_of: dict[int, str] = {}
    _add_nodes(panel, members, consumers, "c", lambda n: _inside_name(n, instance), box_of)
    outside: list[int] = []
    for n in members:
        for i in n.inputs:
            if i not in box_of:
                outside.append(i)
                box_of[i] = f"x{cell}{i}"
                panel.boxes.append(Box(box_of[i], (f"input {len(outside) - 1}",), "input"))
            edge = (box_of[i], box_of[n.id])
            if edge[0] != edge[1] and edge not in panel.edges:
                panel.edges.append(edge)
    return panel
