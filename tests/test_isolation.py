"""Children nasdsl starts never import code from the user's working directory (#15 row 1).

`compile --verify` / `--target onnx` (and `run`'s compile stage, through the same
launcher) check the emitted model in a child interpreter; it used to start as
`python -m ...` in the user's folder, so a `json.py` there ran. Each hostile module here
writes a marker file when imported: no marker may appear.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SPECS

NASDSL = str(Path(sys.executable).with_name("nasdsl"))
GENOTYPE = SPECS / "genotypes" / "nas_unet_v2.nas"


def hostile_folder(path: Path) -> Path:
    """A working directory whose json.py, torch.py, onnx.py and nasdsl/ leave a mark."""
    path.mkdir(parents=True, exist_ok=True)
    for name in ("json.py", "torch.py", "onnx.py", "runpy.py", "nasdsl/__init__.py",
                 "nasdsl/backends/__init__.py"):
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"open({str(path / 'IMPORTED')!r}, 'a').write({name!r} + '\\n')\n")
    dot = path / "dot"   # a `dot` executable in the folder, found only through PATH=.
    dot.write_text(f"#!/bin/sh\necho dot >> {path / 'IMPORTED'}\n")
    dot.chmod(0o755)
    return path


def marks(path: Path) -> str:
    mark = path / "IMPORTED"
    return mark.read_text() if mark.exists() else ""


def nasdsl(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """The console script with a clean PYTHONPATH (the parent is ours), PATH with `.`."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PATH": f".:{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    return subprocess.run([NASDSL, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("target", ["torch", "onnx"])
def test_compile_verifies_in_an_isolated_child(tmp_path, target):
    cwd = hostile_folder(tmp_path / "work")
    out = "m.py" if target == "torch" else "m.onnx"
    proc = nasdsl(cwd, "compile", str(GENOTYPE), "--target", target, "-o", out,
                    "--input-size", "64x64", "-D", "C=4", "--verify")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "verified" in proc.stdout
    assert marks(cwd) == "", f"the child imported from the working directory:\n{marks(cwd)}"
    assert (cwd / out).is_file()


def test_show_never_runs_a_dot_from_the_working_directory(tmp_path):
    cwd = hostile_folder(tmp_path / "work")
    proc = nasdsl(cwd, "show", str(GENOTYPE), "-o", "g.png")
    assert "dot" not in marks(cwd)
    assert proc.returncode in (0, 1), proc.stderr   # 1: Graphviz not installed here


def test_the_child_runs_the_parents_nasdsl_from_any_folder(tmp_path):
    """What the launcher's child imports: the stdlib's json, the parent's nasdsl."""
    from nasdsl.child import PACKAGE_ROOT, python_argv

    cwd = hostile_folder(tmp_path / "work")
    probe = tmp_path / "probe.py"   # a module outside the folder, run the children's way
    probe.write_text("import json, nasdsl\nprint(json.__file__)\nprint(nasdsl.__file__)\n")
    argv = python_argv("probe")
    argv[-1] = argv[-1].replace("import runpy", f"sys.path.append({str(tmp_path)!r}); "
                                                "import runpy")
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(cwd)})
    assert proc.returncode == 0, proc.stderr
    json_file, nasdsl_file = proc.stdout.split()
    assert not json_file.startswith(str(cwd))
    assert Path(nasdsl_file).resolve() == (Path(PACKAGE_ROOT) / "nasdsl" / "__init__.py")
    assert marks(cwd) == ""


@pytest.mark.slow
def test_run_compiles_in_an_isolated_child(tmp_path):
    """The whole pipeline (minutes): its compile stage's child ignores the folder too."""
    cwd = hostile_folder(tmp_path / "work")
    proc = subprocess.run([NASDSL, "run", str(SPECS / "nas_unet.nas"), "--out", "r",
                           "--no-progress"], cwd=cwd, capture_output=True, text=True,
                          timeout=1800, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert marks(cwd) == ""


def test_every_child_interpreter_starts_through_the_isolated_launcher():
    """A new `sys.executable` child elsewhere (a worker pool, a launcher) would start in
    the user's folder without -I: only nasdsl/child.py may name the interpreter."""
    from conftest import ROOT

    offenders = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "nasdsl").rglob("*.py"))
                 if "sys.executable" in p.read_text(encoding="utf-8")
                 and p.name != "child.py"]
    assert not offenders, f"{offenders}: start children with nasdsl.child.python_argv"
