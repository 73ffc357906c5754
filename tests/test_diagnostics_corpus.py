"""Golden diagnostics: each broken spec in tests/diagnostics/ marks its offending lines
with the expected message, mypy style: `# E: <text>` (several per line allowed).

Every expectation must be met by a diagnostic on that line (its rendered head line or
hint contains the text), and every error must be expected: no more, no fewer.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nasdsl.api import compile_spec
from nasdsl.diagnostics import NasError

CORPUS = Path(__file__).parent / "diagnostics"
CASES = sorted(p for p in CORPUS.glob("*.nas") if not p.name.startswith("space_"))
_EXPECT = re.compile(r"#\s*E:\s*(.*?)\s*(?=#\s*E:|$)")


def expectations(path: Path) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    text = path.read_bytes().decode("utf-8", "replace").replace("\x00", "")
    for lineno, line in enumerate(text.splitlines(), 1):
        found = _EXPECT.findall(line[line.find("# E:"):]) if "# E:" in line else []
        if found:
            out[lineno] = [f for f in found if f]
    return out


def diagnostics_by_line(path: Path) -> dict[int, list[str]]:
    with pytest.raises(NasError) as info:
        compile_spec(str(path))
    out: dict[int, list[str]] = {}
    for d in info.value.diagnostics:
        assert d.span is not None, f"diagnostic without a location: {d.render()}"
        rendered = d.render()
        head = rendered.splitlines()[0]
        text = head + " " + (f"hint: {d.hint}" if d.hint else "")
        out.setdefault(d.span.line, []).append(text)
        # the rendered form: path:line:col: error[CODE]: message, line, caret
        assert re.match(rf"{re.escape(str(path))}:\d+:\d+: error\[E\d{{4}}\]: ", head), head
        assert "^" in rendered.splitlines()[2]
    return out


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_corpus(path: Path) -> None:
    expected = expectations(path)
    assert expected, f"{path.name} has no `# E:` expectations"
    got = diagnostics_by_line(path)
    for line, texts in expected.items():
        messages = got.get(line, [])
        for text in texts:
            assert any(text in m for m in messages), (
                f"{path.name}:{line}: expected {text!r}, got {messages}")
    for line, messages in got.items():
        assert line in expected, f"{path.name}:{line}: unexpected diagnostic {messages}"


def test_corpus_covers_the_required_kinds() -> None:
    names = {p.name for p in CASES}
    for required in ("syntax_errors.nas", "unknown_op.nas", "concat_mismatch.nas",
                     "sum_mismatch.nas", "stride_patch.nas", "genotype_errors.nas",
                     "unsafe_names.nas"):
        assert required in names
