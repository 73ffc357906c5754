"""Standalone backend, ONNX: export the emitted module and check it against PyTorch.

The exported graph is the emitted .py module (not an internal one), so what is verified
is exactly what a user deploys. Batch and spatial axes are dynamic.
"""

from __future__ import annotations

import sys
import types
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

OPSET = 18


def load_emitted(source: str, name: str = "nasdsl_model") -> types.ModuleType:
    """Import emitted source as a module (no file needed), once it is checked to run
    nothing on import but definitions."""
    from nasdsl.backends.emit_safety import check_emitted

    check_emitted(source)
    module = types.ModuleType(name)
    module.__file__ = f"<{name}>"
    code = compile(source, module.__file__, "exec")
    sys.modules[name] = module  # dataclasses / pickling look modules up by name
    try:
        exec(code, module.__dict__)
    finally:
        sys.modules.pop(name, None)
    return module


def example_input(channels: int, size: tuple[int, ...], batch: int = 1,
                  seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn((batch, channels, *size), generator=g)


def export(model: torch.nn.Module, example: torch.Tensor, path: Path,
           output_names: list[str]) -> None:
    """torch.onnx.export with dynamic batch and spatial axes."""
    model.eval()
    dims = example.dim() - 2
    axes = {0: "batch", **{2 + i: f"size{i}" for i in range(dims)}}
    names = [_onnx_name(n) for n in output_names]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), str(path), input_names=["input"],
                          output_names=names, opset_version=OPSET,
                          dynamic_axes={"input": axes, **{n: axes for n in names}},
                          dynamo=False)


def _onnx_name(name: str) -> str:
    return name.replace("[", "_").replace("]", "")


@dataclass
class Verification:
    max_abs_diff: float
    shapes: list[tuple[int, ...]]
    provider: str


def verify(model: torch.nn.Module, path: Path, example: torch.Tensor,
           atol: float = 1e-4) -> Verification:
    """Run ONNX Runtime and PyTorch on the same input; raise if they differ."""
    import onnx
    import onnxruntime as ort

    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                 if p in ort.get_available_providers()]
    session = ort.InferenceSession(str(path), providers=providers[-1:])
    model.eval()
    with torch.no_grad():
        expected = model(example)
    expected = list(expected) if isinstance(expected, (tuple, list)) else [expected]
    got = session.run(None, {"input": example.numpy()})
    diff = 0.0
    for e, g in zip(expected, got):
        if tuple(e.shape) != tuple(g.shape):
            raise VerificationError(f"ONNX output shape {tuple(g.shape)} != PyTorch "
                                    f"{tuple(e.shape)}")
        diff = max(diff, float((e - torch.from_numpy(g)).abs().max()))
    if diff > atol:
        raise VerificationError(f"ONNX Runtime differs from PyTorch by {diff:.3g} "
                                f"(tolerance {atol:g})")
    return Verification(diff, [tuple(e.shape) for e in expected], providers[-1])


class VerificationError(Exception):
    pass
