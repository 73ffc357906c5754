"""`nasdsl export RUN -o model.onnx`: trained weights in the standalone ONNX graph.

The graph is the emitted standalone module's (ast-checked, then imported) with the run's
checkpoint loaded strictly; ONNX Runtime is compared with the network the run trained
(the registry-built GenotypeNet) before the file is renamed into place. The sidecar
`model.onnx.json` carries what inference must repeat: the preprocessing plan (spacing,
normalisation, patch), classes and label names, window/stride/mode, and the hashes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from nasdsl import __version__
from nasdsl.api import UsageError
from nasdsl.runs import RunDir, atomic_write_json
from nasdsl.train.model import GenotypeNet, net_info
from nasdsl.train.spec_ref import run_artifact

from nasdsl.sidecars import SIDECAR_FORMAT, read_sidecar, sidecar_path  # noqa: F401


def load_run_model(run: RunDir, checkpoint: str = "best") -> tuple[GenotypeNet, dict, dict]:
    """(trained GenotypeNet in eval mode, manifest, checkpoint position). The network is
    the run's own (RUN/network.json), whatever happened to its spec file since."""
    manifest = run.manifest()
    name = checkpoint if run.has_checkpoint(checkpoint) else "last"
    if not run.has_checkpoint(name):
        raise UsageError(f"{run.path}: the run has no checkpoint yet")
    compiled = run_artifact(run, manifest).compiled()
    state = run.load(name)
    net = GenotypeNet(compiled)
    net.load_state_dict(state["model"], strict=True)
    return net.eval(), manifest, {"checkpoint": name, **state["position"]}


def export_run(run_path: Path, output: Path, checkpoint: str = "best") -> str:
    from nasdsl.backends.onnx_export import OPSET, export, load_emitted, verify
    from nasdsl.backends.torch_src import emit_torch
    from nasdsl.sidecars import validate_model_sections

    run = RunDir(run_path)
    check_export_output(run, output)
    net, manifest, position = load_run_model(run, checkpoint)
    validate_model_sections(run.manifest_path, manifest)
    compiled = run_artifact(run, manifest).compiled()   # compiled once: the cache's
    standalone = load_emitted(emit_torch(compiled)).Model()
    standalone.load_state_dict(net.state_dict(), strict=True)
    standalone.eval()
    infer = manifest["infer"]
    window = tuple(infer["window"])
    example = torch.randn((1, infer["in_channels"], *window),
                          generator=torch.Generator().manual_seed(0))
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
    os.close(fd)
    try:
        export(standalone, example, Path(tmp), [n for n, _ in compiled.graph.outputs])
        check = verify(net, Path(tmp), torch.randn((2, *example.shape[1:]),
                                                   generator=torch.Generator().manual_seed(1)))
        os.replace(tmp, output)
    finally:
        Path(tmp).unlink(missing_ok=True)
    atomic_write_json(sidecar_path(output), sidecar(manifest, position, OPSET, compiled))
    return (f"wrote {output} (checkpoint {position['checkpoint']}, epoch "
            f"{position['epoch']}, opset {OPSET}); ONNX Runtime ({check.provider}) vs the "
            f"trained PyTorch network: max abs diff {check.max_abs_diff:.2e}\n"
            f"wrote {sidecar_path(output)}")


def check_export_output(run: RunDir, output: Path) -> None:
    """`-o` names a new or earlier .onnx: never the run's own files or its spec (an .onnx
    suffix is required, so that a mistyped -o cannot name a checkpoint or a spec)."""
    from nasdsl.outputs import OutputError, check_output
    from nasdsl.spec_files import printable, same_file

    if output.suffix.lower() != ".onnx":
        raise OutputError(f"-o {printable(str(output))}: name an .onnx file (its sidecar "
                          f"{printable(output.name)}.json goes beside it)")
    spec = run.raw_manifest().get("spec")
    specs = [spec.get(k) for k in ("path", "space_path")] if isinstance(spec, dict) else []
    ckpts = run.path / "checkpoints"
    theirs = [run.manifest_path, run.metrics_path, *[p for p in specs if isinstance(p, str)],
              *(ckpts.iterdir() if ckpts.is_dir() and not ckpts.is_symlink() else [])]
    for target in (output, sidecar_path(output)):
        for other in theirs:
            if same_file(target, other):
                raise OutputError(f"-o {printable(str(output))}: {printable(str(target))} "
                                  f"is the run's own {printable(str(other))}; refusing to "
                                  "write over it")
        check_output(target, [])


def sidecar(manifest: dict[str, Any], position: dict[str, Any], opset: int,
            compiled: Any) -> dict[str, Any]:
    info = net_info(compiled)
    return {"format": SIDECAR_FORMAT, "nasdsl": __version__, "opset": opset,
            "input_name": "input", "spec": manifest["spec"],
            "genotype_hash": compiled.genotype_hash(),   # of the network exported
            "plan": manifest["plan"], "infer": manifest["infer"],
            "outputs": list(info.outputs), "main_output": info.main_output,
            "checkpoint": position, "run": manifest.get("run_id")}


__all__ = ["export_run", "load_run_model", "read_sidecar", "sidecar_path", "SIDECAR_FORMAT"]
