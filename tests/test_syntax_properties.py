"""Property tests for the front end: parser, AST builder and formatter.

* generated valid units parse to the expected AST;
* formatting keeps the AST (`parse(fmt(s)) == parse(s)`), is idempotent and keeps every
  comment;
* no input whatsoever (bytes, text, token soup, mutated specs, pathological nesting)
  makes `load_source` + `parse` raise: problems only ever become diagnostics.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nasdsl.diagnostics import DiagnosticSink
from nasdsl.source import SourceFile
from nasdsl.syntax import ast as A
from nasdsl.syntax.fmt import format_unit
from nasdsl.syntax.parse import MAX_SOURCE_BYTES, load_source, parse

try:
    from tests.strategies import SOUP, TOKEN_RE, exprs, opset_units, units
except ImportError:  # tests/ on sys.path instead of the repository root
    from strategies import SOUP, TOKEN_RE, exprs, opset_units, units  # type: ignore[no-redef]

PATH = "prop.nas"
SPEC_DIR = Path(__file__).resolve().parent.parent / "specs"
SPEC_FILES = sorted(SPEC_DIR.rglob("*.nas"))
SPEC_TEXTS = [p.read_text() for p in SPEC_FILES]

# NASDSL_PROPERTY_SCALE=N multiplies every example count (for a long soak run).
SCALE = max(1, int(os.environ.get("NASDSL_PROPERTY_SCALE", "1")))


def n(examples: int) -> int:
    return examples * SCALE


# Generation is the slow part; several draws per example are expected.
GEN = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.data_too_large])


# ---- helpers -------------------------------------------------------------------------
def run(data: bytes | str, path: str = PATH) -> tuple[A.Unit | None, DiagnosticSink,
                                                      SourceFile | None]:
    """load_source + parse exactly as the driver does; must never raise."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    sink = DiagnosticSink()
    src = load_source(path, data, sink)
    unit = parse(src, sink) if src is not None else None
    check_diagnostics(sink, path, src, unit)
    return unit, sink, src


_HEAD = re.compile(r"^(?P<where>[^\n]*?:(?P<line>\d+):(?P<col>\d+): )?error\[E\d{4}\]: ")


def check_diagnostics(sink: DiagnosticSink, path: str, src: SourceFile | None,
                      unit: A.Unit | None) -> None:
    if unit is None:
        assert sink.errors, "parse/load returned None without reporting an error"
    for d in sink.items:
        rendered = d.render()
        m = _HEAD.match(rendered)
        assert m is not None, rendered
        if d.span is None:
            assert m.group("where") is None, rendered
            continue
        assert rendered.startswith(f"{path}:"), rendered
        assert d.span.file.path == path
        assert 0 <= d.span.start <= d.span.end <= len(d.span.file.text), d
        if src is not None and d.span.file.text == src.text:
            line, col = int(m.group("line")), int(m.group("col"))
            assert 1 <= line <= src.text.count("\n") + 1
            assert col >= 1
    sink.render()  # the whole report renders too


def parse_ok(text: str, path: str = PATH) -> A.Unit:
    unit, sink, _ = run(text, path)
    assert unit is not None and not sink.items, f"{sink.render()}\n--- text ---\n{text}"
    return unit


def comment_texts(unit: A.Unit) -> list[str]:
    return [c for _, c in unit.comments]


def check_format(text: str, unit: A.Unit) -> str:
    """(a) the AST survives formatting, (b) fmt is idempotent, (c) comments survive."""
    out = format_unit(unit)
    again, sink, _ = run(out, "fmt.nas")
    assert again is not None, f"{sink.render()}\n--- input ---\n{text}\n--- fmt ---\n{out}"
    assert again == unit, f"--- input ---\n{text}\n--- fmt ---\n{out}"
    assert format_unit(again) == out, f"--- input ---\n{text}\n--- fmt ---\n{out}"
    assert comment_texts(again) == comment_texts(unit), \
        f"--- input ---\n{text}\n--- fmt ---\n{out}"
    for c in comment_texts(unit):
        assert c in out
    return out


# ---- generated valid units -----------------------------------------------------------
@settings(max_examples=n(250), **GEN)
@given(units())
def test_generated_unit_parses_to_expected_ast(case):
    text, expected = case
    assert parse_ok(text) == expected


@settings(max_examples=n(250), **GEN)
@given(units())
def test_format_round_trip_idempotent_and_keeps_comments(case):
    text, _ = case
    check_format(text, parse_ok(text))


@settings(max_examples=n(300), **GEN)
@given(exprs())
def test_expression_round_trip(case):
    text, expected = case
    unit = parse_ok(f"arch E {{\n  v = {text}\n}}\n")
    assert unit.body[0].value == expected
    out = check_format(text, unit)
    assert "\n\n" not in out  # no layout from the input leaks through


@settings(max_examples=n(150), **GEN)
@given(opset_units())
def test_opset_round_trip_and_wrapping(case):
    """Op set lists are the one construct the formatter wraps over several lines."""
    text, expected = case
    unit = parse_ok(text)
    assert unit == expected
    check_format(text, unit)


@pytest.mark.parametrize("spec", SPEC_FILES, ids=lambda p: p.name)
def test_shipped_specs_round_trip(spec):
    text = spec.read_text()
    check_format(text, parse_ok(text, spec.name))


def test_format_examples():
    """A few hand-checked normalisations (parentheses, else-if, 1-tuples, paths)."""
    src = """# lead
genotype G of "s.nas" {
  a . b [ 0 ] = ((1 + 2)) * (3)   # why
  param p = - (2 ** 3) ** -1
  c = (x,)
}
"""
    unit = parse_ok(src)
    assert format_unit(unit) == """# lead
genotype G of "s.nas" {
  a.b[0] = (1 + 2) * 3  # why
  param p = -(2 ** 3) ** -1
  c = (x,)
}
"""
    src = ("space S { if a { } else { if b { x = 1 } } if (not (a == b)) and (c or d) { }"
           " else if e { } }")
    out = check_format(src, parse_ok(src))
    assert "} else {\n    if b {" in out  # an explicit else block is kept as written
    assert "} else if e {" in out
    assert "if not a == b and (c or d) {" in out


# ---- robustness: nothing raises ------------------------------------------------------
@settings(max_examples=n(300), deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(data):
    run(data)


@settings(max_examples=n(300), deadline=None)
@given(st.text(max_size=300))
def test_random_text_never_raises(text):
    run(text.encode("utf-8", "surrogatepass"))


@settings(max_examples=n(300), deadline=None)
@given(st.lists(st.sampled_from(SOUP), max_size=60),
       st.sampled_from(["space s {", "arch a {", "genotype g {", 'genotype g of "x" {', ""]))
def test_token_soup_never_raises(toks, head):
    unit, _, _ = run(head + " " + " ".join(toks))
    if unit is not None:
        check_format(head + " ".join(toks), unit)


def _mutate(draw, text: str) -> str:
    for _ in range(draw(st.integers(1, 3))):
        spans = [m.span() for m in TOKEN_RE.finditer(text)]
        if len(spans) < 2:
            break
        i = draw(st.integers(0, len(spans) - 2))
        (a, b), (c, d) = spans[i], spans[i + 1]
        op = draw(st.sampled_from(["delete", "duplicate", "swap"]))
        if op == "delete":
            text = text[:a] + text[b:]
        elif op == "duplicate":
            text = text[:b] + " " + text[a:b] + text[b:]
        else:
            text = text[:a] + text[c:d] + text[b:c] + text[a:b] + text[d:]
    return text


@st.composite
def mutated(draw):
    if draw(st.integers(0, 2)) == 0:
        base = draw(st.sampled_from(SPEC_TEXTS))
    else:
        base, _ = draw(units())
    return _mutate(draw, base)


@settings(max_examples=n(300), **GEN)
@given(mutated())
def test_mutated_specs_never_raise(text):
    unit, _, _ = run(text)
    if unit is not None:  # still a valid spec: the formatter must handle it too
        check_format(text, unit)


def _deep_else_if(n: int) -> str:
    return "space s {" + " else ".join(["if a { }"] * n) + " }"


PATHOLOGICAL = {
    "parens": "(" * 5000,
    "parens_in_expr": "space s { x = " + "(" * 5000 + "1" + ")" * 5000 + " }",
    "brackets": "space s { x = " + "[" * 5000 + "]" * 5000 + " }",
    "braces": "space s " + "{" * 5000 + "}" * 5000,
    "unbalanced_close": "space s { x = 1 " + ")]}" * 2000,
    "not_chain": "space s { x = " + "not " * 5000 + "a }",
    "neg_chain": "space s { x = " + "- " * 5000 + "a }",
    "neg_chain_tight": "space s { x = " + "-" * 20000 + "a }",
    "pow_chain": "space s { x = " + "a ** " * 5000 + "a }",
    "add_chain": "space s { x = " + "a + " * 20000 + "a }",
    "index_chain": "space s { x = a" + "[0]" * 5000 + " }",
    "call_chain": "space s { x = f" + "()" * 5000 + " }",
    "else_if_chain": _deep_else_if(5000),
    "huge_int": "space s { x = " + "9" * 5000 + " }",
    "huge_int_path": "genotype g { a[" + "9" * 5000 + "] = 1 }",
    "huge_float": "space s { x = " + "9" * 5000 + ".5 }",
    "huge_exponent": "space s { x = 1e99999 }",
    "long_string": 'space s { x = "' + "a" * 5000 + '" }',
    "unterminated_string": 'space s { x = "abc }',
    "many_errors": "space s {" + " = = ; " * 2000 + "}",
    "only_comment": "# nothing here",
    "empty": "",
    "bom": "\ufeffspace s { }",
    "nul": "space s { }\x00",
    "crlf_garbage": "space s {\r\n x = \r\n}\r\n",
}


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological_inputs_give_diagnostics(name):
    unit, sink, _ = run(PATHOLOGICAL[name])
    if name != "only_comment":
        assert unit is None or sink.errors, name


def test_invalid_utf8_and_oversized_files():
    for data in (b"space s { x = \xff }", b"\xc3", b"\xed\xa0\x80", b"\xfe\xff\x00s"):
        unit, sink, _ = run(data)
        assert unit is None and sink.errors
    unit, sink, _ = run(b" " * (MAX_SOURCE_BYTES + 1))
    assert unit is None and sink.errors


def test_deep_nesting_is_an_error_not_a_crash():
    for text in (PATHOLOGICAL["parens_in_expr"], PATHOLOGICAL["not_chain"],
                 PATHOLOGICAL["else_if_chain"], PATHOLOGICAL["add_chain"]):
        unit, sink, _ = run(text)
        assert unit is None
        assert any(d.code == "E0004" for d in sink.errors), sink.render()


def test_huge_integers_are_errors():
    for name in ("huge_int", "huge_int_path", "huge_exponent"):
        _, sink, _ = run(PATHOLOGICAL[name])
        assert any(d.code == "E0102" for d in sink.errors), sink.render()


@pytest.mark.parametrize("entries", ["", "b", "b, c = d", ", ".join(["x" * 30] * 5)])
@pytest.mark.parametrize("name_len", [1, 80, 95])
def test_opset_wrapping_keeps_brackets(entries, name_len):
    """Regression: an empty op set with a long name lost its `]` when wrapped."""
    src = f"space s {{ opset {'o' * name_len} = [{entries}] }}"
    out = check_format(src, parse_ok(src))
    assert out.count("[") == out.count("]")
