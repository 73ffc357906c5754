"""`nasdsl compile`: a frozen spec -> .py source or verified .onnx, written atomically.

The emitted module is imported (for --verify and for the ONNX export) only in a child
interpreter (verify_child.py), never in this process.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from nasdsl.api import Compiled
from nasdsl.diagnostics import Diagnostic, NasError
from nasdsl.errors import InputError
from nasdsl.outputs import check_output, temp_beside, write_atomic
from nasdsl.source import Span


class BackendError(InputError):
    """A compiled model failed its verification (reported, exit code 1)."""


def require_frozen(c: Compiled) -> None:
    if c.is_frozen:
        return
    head = Span(c.unit.span.file, c.unit.span.start, c.unit.span.start + 1)
    raise NasError([Diagnostic(
        "error", "E0500", f"`{c.unit.name}` is a space with {len(c.table)} open choices; "
        "only a genotype or an arch compiles to a standalone model", head,
        "search it first, or write a genotype that decides every choice")])


def compile_to(c: Compiled, target: str, output: Path, verify: bool = False,
               channels_last: bool = False, seed: int = 0, flat: bool = False) -> str:
    """Emit (and check) the module; its code runs only in a child process."""
    from nasdsl.analysis.resources import param_bounds
    from nasdsl.backends.torch_src import emit_torch

    require_frozen(c)
    check_output(output, c.input_paths)
    output.parent.mkdir(parents=True, exist_ok=True)
    source = emit_torch(c, channels_last=channels_last, flat=flat)
    static = param_bounds(c.graph).lo
    if target == "torch":
        return _compile_torch(c, source, output, verify, static)
    return _compile_onnx(c, source, output, verify, seed, static)


def _compile_torch(c: Compiled, source: str, output: Path, verify: bool,
                   static: int) -> str:
    lines = [f"wrote {output} ({static:,} parameters)"]
    with temp_beside(output) as tmp:
        write_atomic(tmp, source)
        if verify:
            answer = _in_child({"kind": "torch", "source": str(tmp), "static": static,
                                "channels": _channels(c), "input_size": c.input_size})
            lines.append(answer["message"])
        os.replace(tmp, output)
    return "\n".join(lines)


def _in_child(job: dict) -> dict:
    from nasdsl.backends import verify_child

    try:
        return verify_child.run(job)
    except verify_child.ChildFailed as err:
        raise BackendError(str(err)) from None


def _channels(c: Compiled) -> int:
    return c.graph.node(c.graph.inputs[0]).type.channels


def _compile_onnx(c: Compiled, source: str, output: Path, verify: bool, seed: int,
                  static: int) -> str:
    if c.input_size is None:
        raise BackendError("ONNX export needs an example input size: give --input-size "
                           "or `size=` on the spec's input")
    with tempfile.TemporaryDirectory(prefix="nasdsl-") as work, temp_beside(output) as tmp:
        module = Path(work) / "model.py"
        write_atomic(module, source)
        answer = _in_child({"kind": "onnx", "source": str(module), "onnx": str(tmp),
                            "channels": _channels(c), "input_size": c.input_size,
                            "seed": seed, "verify": verify,
                            "output_names": [name for name, _ in c.graph.outputs]})
        lines = [f"wrote {output} ({static:,} parameters, opset {answer['opset']})"]
        if verify:
            shapes = [tuple(s) for s in answer["shapes"]]
            lines.append(f"verified: onnx.checker ok; ONNX Runtime ({answer['provider']}) vs "
                         f"PyTorch max abs diff {answer['max_abs_diff']:.2e} on {shapes}")
        os.replace(tmp, output)
    return "\n".join(lines)
