"""Where the non-Python parts live: grammars/ and templates/ at the top of a checkout,
or inside the package once installed from a wheel (see pyproject's package-dir)."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    for candidate in (_PACKAGE.parent / name, _PACKAGE / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"{name}/ not found next to the nasdsl package")
