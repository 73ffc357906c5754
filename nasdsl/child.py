"""Starting a child Python interpreter without importing anything from the user's folder.

`python -m pkg.mod` puts the working directory first on sys.path, so a `json.py`,
`torch.py` or `nasdsl/` there would be imported by the child (issue #15 row 1). Every
child nasdsl starts goes through `python_argv`: isolated mode (`-I`: no working directory
or script folder on sys.path, PYTHON* variables and the user site ignored), the folder
the parent's own nasdsl was imported from put first on sys.path (so the child runs the
same nasdsl, installed, editable or from a checkout), and a private empty working
directory (`private_cwd`), so that nothing the child does resolves relative paths
against the user's folder. Paths handed to a child must therefore be absolute.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import nasdsl

# the folder that holds the `nasdsl` package this process runs (site-packages for a wheel,
# the checkout for an editable install): trusted, since this process already runs its code
PACKAGE_ROOT = str(Path(nasdsl.__file__).resolve().parent.parent)


def python_argv(module: str) -> list[str]:
    """argv that runs `module` as __main__ in an isolated interpreter."""
    bootstrap = (f"import sys; sys.path.insert(0, {PACKAGE_ROOT!r}); import runpy; "
                 f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)")
    return [sys.executable, "-I", "-c", bootstrap]


@contextlib.contextmanager
def private_cwd() -> Iterator[str]:
    """An empty folder of our own for a child's working directory, removed after."""
    path = tempfile.mkdtemp(prefix="nasdsl-child-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def trusted_path() -> str:
    """PATH without relative entries (`.`, ``): an executable nasdsl starts by name
    (Graphviz `dot`) is never taken from the working directory."""
    parts = os.environ.get("PATH", os.defpath).split(os.pathsep)
    return os.pathsep.join(p for p in parts if p and os.path.isabs(p))


__all__ = ["python_argv", "private_cwd", "trusted_path", "PACKAGE_ROOT"]
