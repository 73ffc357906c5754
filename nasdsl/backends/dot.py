"""`nasdsl show`: the macro graph (cells collapsed) and each cell type's inside, as DOT.

Rendering to SVG needs Graphviz's `dot` program; without it the DOT text is still
written (`-o arch.dot`) and any Graphviz viewer shows it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from nasdsl.api import Compiled
from nasdsl.outputs import check_output, temp_beside, write_atomic
from nasdsl.ir.graph import Node


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label(n: Node) -> str:
    if n.op == "input":
        return f"{n.path[0]}\\n{n.type.channels} ch"
    extra = ""
    if n.op in ("act", "norm", "pool") and n.attr("kind"):
        extra = f" {n.attr('kind')}"
    if n.op == "mixed":
        extra = " {" + ", ".join(a.label for a in n.attr("alternatives")) + "}"
    stride = ",".join(str(s) for s in n.type.stride)
    return f"{'.'.join(n.path[-2:])}\\n{n.op}{extra}\\n{n.type.channels} ch /{stride}"


def _instance_of(n: Node, instances: dict[str, str]) -> str | None:
    if n.cell is None:
        return None
    for comp in n.path:
        if comp in instances:
            return comp
    return None


def to_dot(c: Compiled) -> str:
    g = c.graph
    instances = {ci.path: ci.cell for ci in g.cells}
    lines = [f"digraph {_q(c.unit.name)} {{", "  rankdir=TB;",
             '  node [shape=box, fontname="Helvetica", fontsize=10];',
             '  subgraph cluster_macro {', f"    label={_q(c.unit.name + ' (macro)')};"]
    owner = {n.id: _instance_of(n, instances) for n in g.nodes}
    for ci in g.cells:
        label = _q(ci.path + "\\n" + ci.cell)
        lines.append(f"    {_q('cell:' + ci.path)} [label={label}, "
                     "style=filled, fillcolor=lightblue];")
    for n in g.nodes:
        if owner[n.id] is None:
            lines.append(f"    n{n.id} [label={_q(_label(n))}];")
    seen: set[tuple[str, str]] = set()

    def ref(nid: int) -> str:
        inst = owner[nid]
        return _q("cell:" + inst) if inst else f"n{nid}"

    for n in g.nodes:
        for i in n.inputs:
            a, b = ref(i), ref(n.id)
            if a != b and (a, b) not in seen:
                seen.add((a, b))
                lines.append(f"    {a} -> {b};")
    lines.append("  }")
    drawn: set[str] = set()
    for ci in g.cells:
        if ci.cell in drawn:
            continue
        drawn.add(ci.cell)
        members = [n for n in g.nodes if owner[n.id] == ci.path]
        ids = {n.id for n in members}
        lines.append(f"  subgraph {_q('cluster_' + ci.cell)} {{")
        lines.append(f"    label={_q('cell ' + ci.cell + ' (as ' + ci.path + ')')};")
        for n in members:
            lines.append(f"    c{n.id} [label={_q(_label(n))}];")
        for n in members:
            for i in n.inputs:
                src = f"c{i}" if i in ids else f"x{ci.cell}{i}"
                if i not in ids:
                    lines.append(f"    {src} [label=\"input\", shape=ellipse];")
                lines.append(f"    {src} -> c{n.id};")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


class RenderError(Exception):
    pass


def write(c: Compiled, output: Path) -> str:
    check_output(output, c.input_paths)
    dot = to_dot(c)
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix == ".dot":
        write_atomic(output, dot)
        return f"wrote {output}"
    exe = shutil.which("dot")
    if exe is None:
        fallback = output.with_suffix(".dot")
        check_output(fallback, c.input_paths)
        write_atomic(fallback, dot)
        raise RenderError(f"Graphviz `dot` is not installed, so no {output.suffix} was "
                          f"drawn; wrote {fallback} instead (install graphviz, or open "
                          "the .dot file in any Graphviz viewer)")
    fmt = output.suffix.lstrip(".") or "svg"
    with temp_beside(output) as tmp:
        proc = subprocess.run([exe, f"-T{fmt}", "-o", str(tmp)], input=dot, text=True,
                              capture_output=True)
        if proc.returncode != 0:
            raise RenderError(f"dot failed: {proc.stderr.strip()}")
        os.replace(tmp, output)
    return f"wrote {output}"
