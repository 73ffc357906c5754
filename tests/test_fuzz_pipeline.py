"""Whatever the bytes, the whole front end answers with diagnostics, never a traceback."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import shipped_specs
from nasdsl.api import compile_spec
from nasdsl.diagnostics import NasError

SPECS = shipped_specs()
_TOKEN = re.compile(r'"[^"\n]*"|#[^\n]*|[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|\*\*|//|\.\.|'
                    r'[=!<>]=|\S')


def _check(path: str, data: bytes) -> None:
    try:
        compile_spec(path, data=data)
    except NasError as err:
        assert err.diagnostics
        for d in err.diagnostics:
            head = d.render().splitlines()[0]
            assert "error[E" in head or "warning[" in head


@st.composite
def mutated(draw):
    path = draw(st.sampled_from(SPECS))
    text = path.read_text()
    tokens = [m for m in _TOKEN.finditer(text)]
    i = draw(st.integers(0, len(tokens) - 2))
    kind = draw(st.sampled_from(["delete", "duplicate", "swap", "number"]))
    a, b = tokens[i], tokens[i + 1]
    if kind == "delete":
        out = text[: a.start()] + text[a.end():]
    elif kind == "duplicate":
        out = text[: a.end()] + " " + a.group() + text[a.end():]
    elif kind == "swap":
        out = text[: a.start()] + b.group() + text[a.end(): b.start()] + a.group() + \
            text[b.end():]
    else:
        big = draw(st.sampled_from(["0", "-1", "99999999999999999999", "1000000", "7"]))
        out = text[: a.start()] + big + text[a.end():]
    return str(path), out.encode()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_specs_only_raise_diagnostics(case):
    path, data = case
    _check(path, data)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_diagnostics(data):
    _check("fuzz.nas", data)


def test_pathological_inputs():
    for text in ["(" * 5000, "space S { param dims = " + "9" * 5000 + " }",
                 "space S { param dims = 2 param x = 2 ** 64 ** 64 }",
                 "space S { param dims = 2 op f(x) { return f(x) } input x(channels=1) "
                 "output y = f(x) }",
                 "space S { param dims = 2 input x(channels=1) for i in 0..100000 { } }",
                 "arch A { param dims = 2 input x(channels=1, size=0) output y = x }",
                 "genotype G of \"/nonexistent.nas\" { a = 1 }",
                 "genotype G of \"../../../../etc/passwd\" { a = 1 }"]:
        _check("fuzz.nas", text.encode())
