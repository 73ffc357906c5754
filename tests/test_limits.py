"""Parameter overrides and result magnitudes: a clean diagnostic, never an internal error
(issue 7). `-D` respects the 2**53 limit of spec arithmetic, every type mismatch of a
parameter is a spec error, and absurd models are refused before anything is built."""

from __future__ import annotations

import itertools

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SPECS, shipped_specs
from nasdsl.api import MAX_PARAMETERS, UsageError, compile_spec, parse_override, summarize
from nasdsl.cli import main
from nasdsl.diagnostics import NasError
from nasdsl.sema.values import Symbol


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_override_integers_respect_the_spec_limit():
    r = run("check", str(SPECS / "unet.nas"), "-D", "base=99999999999999999999")
    assert r.exit_code == 2 and "2**53" in r.output
    with pytest.raises(UsageError):
        parse_override("C=-9007199254740993")
    assert parse_override("C=9007199254740992") == ("C", 2 ** 53)


def test_override_of_the_wrong_kind_is_a_spec_error():
    r = run("check", str(SPECS / "unet.nas"), "-D", "dims=3.0")
    assert r.exit_code == 1, r.output
    assert "error[E0417]: -D dims=3.0: parameter `dims` is an integer, found 3.0" in r.output
    assert "unet.nas:7:3: note: the parameter is declared here" in r.output
    for bad in ("base=relu", "base=true", "base=2.5", "depth=(1.5, 2)"):
        r = run("check", str(SPECS / "unet.nas"), "-D", bad)
        assert r.exit_code == 1 and "E0417" in r.output, (bad, r.output)
    # an integer for a tuple of integers (a patch size) and back are both fine
    assert run("check", str(SPECS / "unet.nas"), "-D", "patch=128,128").exit_code == 0


def test_float_dims_in_a_spec_and_a_genotype(tmp_path):
    spec = tmp_path / "s.nas"
    spec.write_text("space S {\n  param dims = 2.0\n}\n")
    r = run("check", str(spec))
    assert r.exit_code == 1 and "error[E0213]: `dims` must be 2 or 3, found 2.0" in r.output
    geno = tmp_path / "g.nas"
    geno.write_text(f'genotype G of "{SPECS / "nas_unet.nas"}" {{\n  param dims = 3.0\n}}\n')
    r = run("check", str(geno))
    assert r.exit_code == 1 and f"{geno}:2:3: error[E0417]" in r.output, r.output


def test_absurd_models_are_refused(tmp_path):
    r = run("check", str(SPECS / "unet.nas"), "-D", "base=4000000000")
    assert r.exit_code == 1 and "error[E0430]" in r.output and "GB of float32" in r.output
    out = tmp_path / "m.py"
    r = run("compile", str(SPECS / "genotypes" / "nas_unet_v2.nas"), "-D", "C=999999999",
            "-o", str(out))
    assert r.exit_code == 1 and "error[E0430]" in r.output and not out.exists()
    c = compile_spec(str(SPECS / "unet.nas"), {"base": 1024})  # large, but under the limit
    assert summarize(c).params.lo <= MAX_PARAMETERS


def test_spaces_refused_only_when_every_network_is_absurd():
    with pytest.raises(NasError, match="every network of the space has"):
        compile_spec(str(SPECS / "nas_unet.nas"), {"C": 999999999})


VALUES = [2.5, 3.0, True, Symbol("foo"), -1, 0, 1, (1, 2), (), (2.0,), 2 ** 53, 10 ** 6]
PARAMS = [(spec, name) for spec in shipped_specs()
          for name in compile_spec(str(spec)).params]


def _never_internal(spec, name, value) -> None:
    try:
        summarize(compile_spec(str(spec), {name: value}))
    except (NasError, UsageError):
        pass


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(PARAMS), value=st.sampled_from(VALUES))
def test_any_override_of_any_shipped_parameter_is_diagnosed(case, value):
    _never_internal(*case, value)


@pytest.mark.slow
def test_every_override_of_every_shipped_parameter_is_diagnosed():
    for (spec, name), value in itertools.product(PARAMS, VALUES):
        _never_internal(spec, name, value)
