"""Running an emitted module for `nasdsl compile` happens in a child interpreter.

NOTE: the emitted source is escaped and checked (emit_safety) before it is written, so
importing it is safe by construction; importing it only in a separate process, which
gets its job as JSON on stdin and answers with JSON on stdout, keeps the compiler's own
process free of generated code all the same (defence in depth: whatever a module did on
import could not touch nasdsl's state or its output files). `run` is the parent's side;
`main` the child's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from nasdsl.diagnostics import InternalError

TIMEOUT_S = 1800  # an ONNX export and check of a large 3D network takes minutes on CPU
_PATH_KEYS = ("source", "onnx")  # the job's file paths: absolute, the child's cwd is its own


class ChildFailed(Exception):
    """The child ran, and the model failed its check (a BackendError in the parent)."""


def run(job: dict[str, Any]) -> dict[str, Any]:
    """Run one job in a fresh, isolated interpreter (nasdsl.child: nothing is imported
    from the user's working directory); its answer, or ChildFailed / InternalError."""
    from nasdsl.child import private_cwd, python_argv

    job = {k: (os.path.abspath(v) if k in _PATH_KEYS else v) for k, v in job.items()}
    try:
        with private_cwd() as cwd:
            proc = subprocess.run(python_argv("nasdsl.backends.verify_child"),
                                  input=json.dumps(job), capture_output=True, text=True,
                                  cwd=cwd, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise InternalError(f"checking the emitted model took over {TIMEOUT_S} s") from None
    answer = _answer(proc.stdout)
    if proc.returncode != 0 or answer is None:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise InternalError(f"checking the emitted model failed (exit {proc.returncode})"
                            f":\n{tail}")
    if "error" in answer:
        raise ChildFailed(answer["error"])
    return answer


def _answer(stdout: str) -> dict[str, Any] | None:
    """The last stdout line is the answer; anything else there is not ours."""
    lines = stdout.strip().splitlines()
    if len(lines) != 1:
        return None
    try:
        value = json.loads(lines[0])
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


# ---- the child ---------------------------------------------------------------------------
def _load(job: dict[str, Any]):
    from nasdsl.backends.onnx_export import load_emitted

    source = Path(job["source"]).read_text(encoding="utf-8")
    return load_emitted(source)


def verify_torch(job: dict[str, Any]) -> dict[str, Any]:
    import torch

    from nasdsl.backends.onnx_export import example_input

    model = _load(job).Model()
    counted = sum(p.numel() for p in model.parameters())
    if counted != job["static"]:
        raise ChildFailed(f"emitted module has {counted:,} parameters, static count "
                          f"{job['static']:,}: please report this nasdsl bug")
    msg = f"verified: {counted:,} parameters match the static count"
    if job.get("input_size"):
        x = example_input(job["channels"], tuple(job["input_size"]))
        with torch.no_grad():
            y = model.eval()(x)
        shapes = [tuple(t.shape) for t in (y if isinstance(y, tuple) else (y,))]
        msg += f"; forward on {tuple(x.shape)} gives {shapes}"
    return {"message": msg}


def export_onnx(job: dict[str, Any]) -> dict[str, Any]:
    import torch

    from nasdsl.backends.onnx_export import OPSET, VerificationError, example_input, export
    from nasdsl.backends.onnx_export import verify

    size, channels, seed = tuple(job["input_size"]), job["channels"], job["seed"]
    torch.manual_seed(seed)
    model = _load(job).Model().eval()
    export(model, example_input(channels, size, batch=1, seed=seed), Path(job["onnx"]),
           job["output_names"])
    if not job["verify"]:
        return {"opset": OPSET}
    try:
        result = verify(model, Path(job["onnx"]),
                        example_input(channels, size, batch=2, seed=seed + 1))
    except VerificationError as err:
        raise ChildFailed(str(err)) from None
    return {"opset": OPSET, "provider": result.provider, "max_abs_diff": result.max_abs_diff,
            "shapes": [list(s) for s in result.shapes]}


def main() -> None:
    job = json.loads(sys.stdin.read())
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # only the answer goes to stdout
    try:
        answer = {"torch": verify_torch, "onnx": export_onnx}[job["kind"]](job)
    except ChildFailed as err:
        answer = {"error": str(err)}
    real_stdout.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
