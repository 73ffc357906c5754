"""Rules for the test suite itself."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _own_module_skips(path: Path) -> list[str]:
    """`importorskip("nasdsl...")` calls: they turn an import error in nasdsl into skips."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "importorskip" and node.args
                and isinstance(node.args[0], ast.Constant)
                and str(node.args[0].value).split(".")[0] == "nasdsl"):
            found.append(f"{path.name}:{node.lineno}: importorskip({node.args[0].value!r})")
    return found


def test_the_rule_sees_an_own_module_skip(tmp_path):
    probe = tmp_path / "test_probe.py"
    probe.write_text('import pytest\ndata = pytest.importorskip("nasdsl.data")\n')
    assert _own_module_skips(probe) == ["test_probe.py:2: importorskip('nasdsl.data')"]


def test_no_test_skips_when_nasdsl_fails_to_import():
    """An import error in nasdsl must fail the tests that need it, not skip them."""
    found = [hit for path in sorted(TESTS.rglob("*.py")) for hit in _own_module_skips(path)]
    assert not found, "\n".join(found)
