"""`nasdsl show`: render the drawing (`drawing.py`) as DOT, SVG, or via Graphviz.

SVG is drawn by nasdsl itself (`svg.py`), so it works on a fresh machine; other image
formats (PNG, PDF) go through Graphviz's `dot` program when it is installed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from nasdsl.api import Compiled
from nasdsl.backends import drawing
from nasdsl.errors import InputError
from nasdsl.outputs import check_output, write_atomic as _write_atomic


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label(lines: tuple[str, ...]) -> str:
    """DOT's line break inside a label is the two characters backslash-n."""
    return '"' + "\\n".join(_q(line)[1:-1] for line in lines) + '"'


_STYLE = {"op": "", "cell": ", style=filled, fillcolor=lightblue",
          "input": ", shape=ellipse"}


def to_dot(c: Compiled) -> str:
    panels = drawing.build(c)
    lines = [f"digraph {_q(c.unit.name)} {{", "  rankdir=TB;",
             '  node [shape=box, fontname="Helvetica", fontsize=10];']
    for p in panels:
        lines.append(f"  subgraph {_q('cluster_macro' if p.key == 'macro' else p.key)} {{")
        lines.append(f"    label={_q(p.title)};")
        for b in p.boxes:
            lines.append(f"    {_q(b.key)} [label={_label(b.lines)}{_STYLE[b.style]}];")
        for a, b in p.edges:
            lines.append(f"    {_q(a)} -> {_q(b)};")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


class RenderError(InputError):
    """A drawing nasdsl cannot make (a format that needs Graphviz, dot failing): exit 1."""


def write(c: Compiled, output: Path) -> str:
    check_output(output, c.input_paths)
    output.parent.mkdir(parents=True, exist_ok=True)
    suffix = output.suffix.lower()
    if suffix == ".dot":
        _write_atomic(output, to_dot(c).encode())
    elif suffix == ".svg":
        from nasdsl.backends.svg import to_svg

        _write_atomic(output, to_svg(drawing.build(c)).encode())
    else:
        _render_with_graphviz(c, output)
    return f"wrote {output}"


def _render_with_graphviz(c: Compiled, output: Path) -> None:
    from nasdsl.child import trusted_path

    exe = shutil.which("dot", path=trusted_path())  # never a `dot` from the working dir
    if exe is None:
        raise RenderError(f"drawing {output.suffix or 'this format'} needs Graphviz's "
                          "`dot` program, which is not installed; write `.svg` (drawn "
                          "by nasdsl) or `.dot` instead")
    fmt = output.suffix.lstrip(".") or "svg"
    proc = subprocess.run([exe, f"-T{fmt}"], input=to_dot(c).encode(),
                          capture_output=True)
    if proc.returncode != 0:
        raise RenderError(f"dot failed: {proc.stderr.decode(errors='replace').strip()}")
    _write_atomic(output, proc.stdout)
