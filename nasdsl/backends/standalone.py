"""`nasdsl compile`: a frozen spec -> .py source or verified .onnx, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

from nasdsl.api import Compiled
from nasdsl.diagnostics import Diagnostic, NasError
from nasdsl.outputs import check_output, temp_beside, write_atomic
from nasdsl.source import Span


class BackendError(Exception):
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
               channels_last: bool = False, seed: int = 0) -> str:
    from nasdsl.analysis.resources import param_bounds
    from nasdsl.backends.torch_src import emit_torch

    require_frozen(c)
    check_output(output, c.input_paths)
    output.parent.mkdir(parents=True, exist_ok=True)
    source = emit_torch(c, channels_last=channels_last)
    static = param_bounds(c.graph).lo
    if target == "torch":
        lines = [f"wrote {output} ({static:,} parameters)"]
        if verify:
            lines.append(_verify_torch(source, c, static))
        write_atomic(output, source)
        return "\n".join(lines)
    return _compile_onnx(c, source, output, verify, seed, static)


def _verify_torch(source: str, c: Compiled, static: int) -> str:
    from nasdsl.backends.onnx_export import example_input, load_emitted

    model = load_emitted(source).Model()
    counted = sum(p.numel() for p in model.parameters())
    if counted != static:
        raise BackendError(f"emitted module has {counted:,} parameters, static count "
                           f"{static:,}: please report this nasdsl bug")
    msg = f"verified: {counted:,} parameters match the static count"
    if c.input_size is not None:
        import torch

        x = example_input(_channels(c), c.input_size)
        with torch.no_grad():
            y = model.eval()(x)
        shapes = [tuple(t.shape) for t in (y if isinstance(y, tuple) else (y,))]
        msg += f"; forward on {tuple(x.shape)} gives {shapes}"
    return msg


def _channels(c: Compiled) -> int:
    return c.graph.node(c.graph.inputs[0]).type.channels


def _compile_onnx(c: Compiled, source: str, output: Path, verify: bool, seed: int,
                  static: int) -> str:
    import torch

    from nasdsl.backends.onnx_export import example_input, export, load_emitted
    from nasdsl.backends.onnx_export import verify as run_verify

    if c.input_size is None:
        raise BackendError("ONNX export needs an example input size: give --input-size "
                           "or `size=` on the spec's input")
    torch.manual_seed(seed)
    model = load_emitted(source).Model().eval()
    x = example_input(_channels(c), c.input_size, batch=1, seed=seed)
    with temp_beside(output) as tmp:
        export(model, x, tmp, [name for name, _ in c.graph.outputs])
        lines = [f"wrote {output} ({static:,} parameters, opset {_opset()})"]
        if verify:
            result = run_verify(model, tmp, example_input(_channels(c), c.input_size,
                                                          batch=2, seed=seed + 1))
            lines.append(f"verified: onnx.checker ok; ONNX Runtime ({result.provider}) vs "
                         f"PyTorch max abs diff {result.max_abs_diff:.2e} on "
                         f"{result.shapes}")
        os.replace(tmp, output)
    return "\n".join(lines)


def _opset() -> int:
    from nasdsl.backends.onnx_export import OPSET

    return OPSET
