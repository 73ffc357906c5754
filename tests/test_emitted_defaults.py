"""Outlined emission leaves out constructor arguments equal to the op class's default:
every op is still built with exactly the arguments the flat form spells out, and the
defaults the emitter trusts are the ones in the class signatures it copies."""

from __future__ import annotations

import inspect
import random
from collections import Counter

import pytest

from conftest import SPECS
from nasdsl.api import compile_spec
from nasdsl.backends.onnx_export import load_emitted
from nasdsl.backends.torch_src import emit_torch
from nasdsl.ops import REGISTRY, torch_impl
from nasdsl.ops.impl_source import REQUIRED, impl_names, impl_params

pytestmark = pytest.mark.usefixtures("one_thread")

# small 2D variants (the 3D forms take the same code path with dims=3)
CASES = {
    "unet.nas": ({"base": 4}, (16, 16)),
    "unet_pp.nas": ({"base": 4}, (16, 16)),
    "genotypes/nas_unet_v2.nas": ({"C": 16, "depth": 3}, (16, 16)),
    "genotypes/thrifty_nas_a.nas": ({}, (32, 32)),
    "genotypes/ronasmis_a.nas": ({"base": 4, "dims": 3}, (32, 32, 16)),
}


def _built_with(source: str) -> list[tuple[str, dict]]:
    """Every op-library constructor call the model makes, in order, with all its
    arguments bound (defaults applied): each library name in the loaded module is
    wrapped by a recorder, so calls from one library class to another count too."""
    module = load_emitted(source)
    calls: list[tuple[str, dict]] = []
    for name in impl_names():
        real = getattr(module, name, None)
        if not callable(real) or name.startswith("_") or name == "StableGroupNorm":
            continue

        def record(*args, _real=real, _name=name, **kwargs):
            bound = inspect.signature(_real).bind(*args, **kwargs)
            bound.apply_defaults()
            calls.append((_name, dict(bound.arguments)))
            return _real(*args, **kwargs)

        setattr(module, name, record)
    module.Model()
    return calls


def _as_written(value, dims: int) -> str:
    """A value as the class sees it: a per-axis tuple of one int is that int (torch's
    layers broadcast `stride=1` to `(1, 1)`; test_outlined checks the outputs), and
    True is not 1."""
    if (isinstance(value, tuple) and len(value) == dims and len(set(value)) == 1
            and all(type(v) is int for v in value)):
        value = value[0]
    return repr(value)


def _calls(source: str, dims: int) -> Counter:
    return Counter(f"{name}({', '.join(f'{k}={_as_written(v, dims)}' for k, v in a.items())})"
                   for name, a in _built_with(source))


def _assert_same_calls(c) -> None:
    """The same constructor calls, each with the same full arguments (paramless modules
    such as pools may be built in another order: compared as multisets)."""
    dims = c.graph.dims
    flat, outlined = _calls(emit_torch(c, flat=True), dims), _calls(emit_torch(c), dims)
    assert sum(flat.values()) > 0
    assert flat == outlined, (f"only flat: {sorted((flat - outlined).elements())}\n"
                              f"only outlined: {sorted((outlined - flat).elements())}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_op_gets_the_flat_forms_arguments(name):
    small, size = CASES[name]
    _assert_same_calls(compile_spec(str(SPECS / name), small, size))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_nas_unet_genotypes_get_the_flat_forms_arguments(seed):
    """Random genotypes reach up, down and normal edges of every op family."""
    spec = str(SPECS / "nas_unet.nas")
    base = compile_spec(spec, {"C": 16, "depth": 2}, (16, 16))
    assignment = base.table.sample(random.Random(seed))
    _assert_same_calls(compile_spec(spec, {"C": 16, "depth": 2}, (16, 16),
                                    assignment=assignment))


def test_the_check_finds_an_argument_left_out_that_differs_from_the_default(monkeypatch):
    """With an emitter that drops every defaulted argument, transposed up edges would
    be built as strided convs: the recorded calls tell."""
    from nasdsl.backends import outline

    monkeypatch.setattr(outline, "_is_default", lambda v, d: d is not REQUIRED)
    c = compile_spec(str(SPECS / "genotypes/nas_unet_v2.nas"), {"C": 16, "depth": 2},
                     (16, 16))
    with pytest.raises(AssertionError, match="transpose"):
        _assert_same_calls(c)


def test_the_defaults_read_from_source_are_the_classes_own():
    """impl_params reads torch_impl.py as text (the emitter never imports torch): for
    every op's class it gives the signature Python sees, `DIMS` resolved."""
    for impl in sorted({op.impl for op in REGISTRY.values() if op.impl}):
        real = inspect.signature(getattr(torch_impl, impl)).parameters
        read = impl_params(impl, {"DIMS": torch_impl.DIMS, "GROUPS": torch_impl.GROUPS})
        assert [p for p, _ in read] == list(real), impl
        for param, default in read:
            want = real[param].default
            assert (default is REQUIRED) == (want is inspect.Parameter.empty), (impl, param)
            if default is not REQUIRED:
                assert repr(default) == repr(want), (impl, param)
        assert dict(read)["dims"] == torch_impl.DIMS, impl
    read = dict(impl_params("NasUnetConv", {"DIMS": 3, "GROUPS": 4}))
    assert read["dims"] == 3 and read["groups"] == 4


def test_groups_is_the_count_most_norms_use():
    """NAS-Unet's 32-channel edges and preprocessing norms have 2 groups, its two
    128-channel stem norms 8: GROUPS = 2 and only the stems pass theirs; a network
    without norms defines no GROUPS."""
    source = emit_torch(compile_spec(str(SPECS / "genotypes/nas_unet_v2.nas")))
    assert "\nGROUPS = 2  #" in source
    network = source[source.index("\ndef _check_input"):]   # below the copied library
    calls = [line.strip() for line in network.splitlines() if "groups=" in line]
    assert len(calls) == 2 and all("Norm('group', channels=128, groups=8)" in line
                                   for line in calls), calls
    unet = emit_torch(compile_spec(str(SPECS / "unet.nas")))
    assert "GROUPS" not in unet
