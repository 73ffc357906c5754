"""The op registry agrees with its torch implementations, in 2D and 3D: output channels and
sizes match `infer`, parameter counts match `params` exactly, the emitted source of the
classes stands alone, and exported ONNX graphs (dynamic batch and spatial axes) match."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from fractions import Fraction

import pytest

torch = pytest.importorskip("torch")

from nasdsl.ir.types import TensorType  # noqa: E402
from nasdsl.ops import REGISTRY, OpError  # noqa: E402
from nasdsl.ops import torch_impl  # noqa: E402
from nasdsl.ops.impl_source import IMPL_IMPORTS, impl_source  # noqa: E402

SIZE = {2: 16, 3: 8}       # spatial size per axis of a stride-1 tensor in the tests
BATCH = 2


def _aniso(a: int, b: int):
    """Per-axis value: a on every axis but the last, b on the last (anisotropic)."""
    return lambda dims: (a,) * (dims - 1) + (b,)


# (op, attributes, input channel counts, input strides); attribute values may be functions
# of dims. Ops with several roles are run in each role.
CASES = [
    ("conv", dict(out=8), (6, 16), (1,)),
    ("conv", dict(out=12, kernel=1, stride=2, bias=True), (5,), (1,)),
    ("conv", dict(out=6, kernel=3, dilation=2, groups=3), (6,), (1,)),
    ("conv", dict(out=4, kernel=2, stride=2), (3,), (1,)),
    ("conv", dict(out=4, kernel=_aniso(5, 1), stride=_aniso(2, 1), dilation=_aniso(1, 3)),
     (3,), (1,)),
    ("conv_transpose", dict(out=4), (6,), (2,)),
    ("conv_transpose", dict(out=4, kernel=3, stride=2, bias=True), (6,), (2,)),
    ("conv_transpose", dict(out=4, kernel=_aniso(4, 3), stride=_aniso(2, 1)), (6,), (2,)),
    ("conv_transpose", dict(out=4, kernel=1, stride=2), (6,), (2,)),
    ("norm", dict(kind="group"), (6, 32), (1,)),
    ("norm", dict(kind="group", groups=3, affine=False), (6,), (1,)),
    ("norm", dict(kind="instance"), (6,), (1,)),
    ("norm", dict(kind="instance", affine=False), (6,), (1,)),
    ("norm", dict(kind="batch"), (6,), (1,)),
    ("norm", dict(kind="batch", affine=False), (6,), (1,)),
    *[("act", dict(kind=k), (4,), (1,)) for k in
      ("relu", "leaky_relu", "elu", "sigmoid", "tanh", "gelu", "softmax")],
    ("pool", dict(kind="max"), (4,), (1,)),
    ("pool", dict(kind="avg", kernel=3, stride=1), (4,), (1,)),
    ("pool", dict(kind="avg", kernel=3, stride=2), (4,), (1,)),
    ("pool", dict(kind="max", kernel=_aniso(2, 1), stride=_aniso(2, 1)), (4,), (1,)),
    ("upsample", dict(), (4,), (2,)),
    ("upsample", dict(mode="linear"), (4,), (2,)),
    ("upsample", dict(scale=_aniso(2, 1), mode="linear"), (4,), (2,)),
    ("resize_to", dict(), (4,), (2,)),
    ("resize_to", dict(mode="nearest"), (4,), (1,)),
    ("dropout", dict(p=0.5), (4,), (1,)),
    ("none", dict(), (4,), (1,)),
    *[(name, dict(), (16, 6), (1,)) for name in (
        "conv_gn_relu", "shuffle_conv", "dil_conv", "dep_conv", "cweight", "down_conv",
        "down_dil_conv", "down_dep_conv", "down_cweight", "up_conv", "up_dil_conv",
        "up_dep_conv", "up_cweight", "avg_pool", "max_pool")],
    ("down_cweight", dict(affine=False), (32,), (1,)),
    *[(name, dict(), (6,), (1,)) for name in (
        "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5", "max_pool_3x3",
        "avg_pool_3x3", "skip_connect")],
    ("sep_conv_3x3", dict(norm="group", affine=False), (16,), (1,)),
    ("dil_conv_5x5", dict(norm="instance"), (6,), (1,)),
    ("skip_connect", dict(norm="group"), (32,), (1,)),
    ("relu_conv_bn", dict(out=8), (6,), (1,)),
    ("relu_conv_bn", dict(out=16, kernel=3, stride=2, norm="group", affine=False), (6,), (1,)),
    ("factorized_reduce", dict(out=8), (6,), (1,)),
    ("factorized_reduce", dict(out=32, norm="instance"), (5,), (1,)),
    ("resize_add", dict(), (4,), (1,)),
]


def _expand():
    for name, attrs, channels, strides in CASES:
        op = REGISTRY[name]
        roles = op.roles if op.has_role_attr else (None,)
        for dims in (2, 3):
            for role in roles:
                for c in channels:
                    for s in strides:
                        given = {k: v(dims) if callable(v) else v for k, v in attrs.items()}
                        if role is not None:
                            given["role"] = role
                        yield pytest.param(name, dims, given, c, s,
                                           id=f"{name}-{dims}d-{role or ''}-{c}-{given}")


def _type(channels: int, dims: int, stride) -> TensorType:
    return TensorType(channels, (Fraction(stride),) * dims)


def _in_types(name: str, dims: int, channels: int, stride) -> tuple[TensorType, ...]:
    x = _type(channels, dims, stride)
    if name == "resize_to":
        # stride 2 -> 1 resizes up, stride 1 -> 2 resizes down
        return x, _type(3, dims, Fraction(1) if stride == 2 else Fraction(2))
    return (x,)


def _input(t: TensorType, dims: int, batch: int = BATCH, seed: int = 0,
           base: int | None = None) -> torch.Tensor:
    size = tuple(int((base or SIZE[dims]) / s) for s in t.stride)
    g = torch.Generator().manual_seed(seed)
    return torch.randn((batch, t.channels, *size), generator=g)


_RENDERABLE = re.compile(r"^[a-z][a-z0-9_]*$")


def _renderable(v) -> bool:
    """What the standalone backend can write as a Python literal."""
    if isinstance(v, tuple):
        return all(_renderable(x) for x in v)
    if isinstance(v, str):
        return bool(_RENDERABLE.match(v))
    return isinstance(v, (bool, int, float))


def _build(name: str, given: dict, in_types: tuple[TensorType, ...], impl=torch_impl):
    op = REGISTRY[name]
    dims = in_types[0].dims
    attrs = op.normalise(given, dims)
    out = op.infer(attrs, in_types)
    kwargs = op.ctor(attrs, in_types, out)
    assert all(_renderable(v) for v in kwargs.values()), kwargs
    module = getattr(impl, op.impl)(**kwargs, dims=dims)
    return op, attrs, out, module


@pytest.mark.parametrize("name,dims,given,channels,stride", list(_expand()))
def test_impl_matches_registry(name, dims, given, channels, stride):
    in_types = _in_types(name, dims, channels, stride)
    op, attrs, out, module = _build(name, given, in_types)
    module.eval()
    xs = [_input(t, dims, seed=i) for i, t in enumerate(in_types)]
    with torch.no_grad():
        y = module(*xs)
    # size = input size / stride ratio, exactly
    expected = []
    for axis in range(dims):
        ratio = in_types[0].stride[axis] / out.stride[axis]
        n = xs[0].shape[2 + axis] * ratio
        assert n.denominator == 1, f"non-integer size on axis {axis}"
        expected.append(int(n))
    assert tuple(y.shape) == (BATCH, out.channels, *expected)
    assert sum(p.numel() for p in module.parameters()) == op.params(attrs, in_types, out)
    in_sizes = tuple(tuple(x.shape[2:]) for x in xs)
    flops = op.flops(attrs, in_types, out, in_sizes, tuple(expected))
    assert isinstance(flops, int) and flops >= 0
    if op.params(attrs, in_types, out):
        assert flops > 0


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("name,given", [
    ("conv", dict(out=8, kernel=3, stride=2)), ("conv", dict(out=6, groups=3)),
    ("conv_transpose", dict(out=4, kernel=3)),
])
def test_conv_flops_are_twice_the_macs(name, given, dims):
    from torch.utils.flop_counter import FlopCounterMode

    in_types = (_type(6, dims, 1),)
    op, attrs, out, module = _build(name, given, in_types)
    x = _input(in_types[0], dims)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        y = module(x)
    ours = op.flops(attrs, in_types, out, (tuple(x.shape[2:]),), tuple(y.shape[2:]))
    assert ours * BATCH == counter.get_total_flops()


def test_every_op_with_an_impl_is_covered():
    covered = {name for name, *_ in CASES}
    missing = {n for n, op in REGISTRY.items() if op.impl is not None} - covered
    assert not missing


@pytest.mark.parametrize("name", sorted(n for n, op in REGISTRY.items() if op.roles))
def test_edge_ops_are_unary_and_keep_channels(name):
    op = REGISTRY[name]
    assert op.arity == 1
    assert op.has_role_attr == (len(op.roles) > 1)
    for dims in (2, 3):
        for role in op.roles:
            x = _type(16, dims, 2)
            given = {"role": role} if op.has_role_attr else {}
            out = op.infer(op.normalise(given, dims), (x,))
            assert out.channels == 16
            factor = {"normal": 1, "down": 2, "up": Fraction(1, 2)}[role]
            assert out.stride == tuple(s * factor for s in x.stride)


def test_every_op_is_documented_and_known_to_the_impl():
    for op in REGISTRY.values():
        assert op.doc and "\n" not in op.doc
        assert op.family in ("core", "nas_unet", "darts")
        if op.impl is not None:
            assert callable(getattr(torch_impl, op.impl))  # a class or a layer factory
    assert {n for n, op in REGISTRY.items() if op.impl is None} == {"add", "concat",
                                                                      "identity"}


# ---- shape errors --------------------------------------------------------------------------

def _error(name: str, given: dict, in_types) -> OpError:
    op = REGISTRY[name]
    with pytest.raises(OpError) as info:
        op.infer(op.normalise(given, in_types[0].dims), in_types)
    return info.value


def test_join_errors_name_the_mismatch():
    a, b = _type(8, 2, 1), _type(8, 2, 2)
    for name in ("concat", "add"):
        err = _error(name, {}, (a, b))
        assert "stride" in err.message and "differ" in err.message and err.hint
    err = _error("add", {}, (a, _type(16, 2, 1)))
    assert "channel" in err.message and "differ" in err.message
    assert "stride" not in err.message           # it is a channel error, not a stride one
    ok = REGISTRY["concat"].infer({}, (a, _type(16, 2, 1)))
    assert ok.channels == 24


def test_group_norm_error_names_both_numbers():
    err = _error("norm", {"kind": "group", "groups": 16}, (_type(24, 2, 1),))
    assert "24" in err.message and "16" in err.message and err.hint


@pytest.mark.parametrize("name,given,channels", [
    ("conv", dict(out=8, kernel=2), 4),                     # even kernel, stride 1
    ("conv", dict(out=8, kernel=4, stride=2), 4),           # even kernel != stride
    ("conv", dict(out=8, groups=3), 4),                     # groups do not divide
    ("conv_transpose", dict(out=8, kernel=2, stride=1), 4),  # cannot give exactly 1x
    ("pool", dict(kind="max", kernel=2, stride=1), 4),
    ("norm", dict(kind="batch", groups=2), 4),
    ("dropout", dict(p=1.0), 4),
    ("skip_connect", dict(role="down"), 5),                  # FactorizedReduce needs even C
])
def test_bad_attributes_are_op_errors(name, given, channels):
    err = _error(name, given, (_type(channels, 2, 1),))
    assert err.message


# ---- emitted source ------------------------------------------------------------------------

def _impl_namespace(names) -> dict:
    ns: dict = {}
    # DIMS and GROUPS are the emitted header's (HEADER_NAMES): the copied library
    # leaves them out
    exec("\n".join(IMPL_IMPORTS) + "\nDIMS = 2\nGROUPS = 1\n\n" + impl_source(names), ns)
    return ns


def test_impl_source_stands_alone():
    names = sorted({op.impl for op in REGISTRY.values() if op.impl})
    assert set(IMPL_IMPORTS) <= {"import math", "import torch", "import torch.nn as nn",
                                 "import torch.nn.functional as F"}
    ns = _impl_namespace(names)
    for name in names:
        assert callable(ns[name])
    # one class pulls in only what it needs
    src = impl_source(["DartsSkip"])
    assert "class FactorizedReduce" in src and "class DartsSepConv" not in src
    assert "import" not in src and "DIMS =" not in src and "GROUPS =" not in src
    with pytest.raises(KeyError):
        impl_source(["NoSuchClass"])


@pytest.mark.parametrize("name,given", [("up_cweight", {}),
                                        ("skip_connect", {"role": "down"})])
def test_emitted_classes_compute_the_same(name, given):
    op = REGISTRY[name]
    ns = type("ns", (), _impl_namespace([op.impl]))
    in_types = (_type(16, 2, 1),)
    torch.manual_seed(0)
    *_, ours = _build(name, given, in_types)
    *_, emitted = _build(name, given, in_types, impl=ns)
    emitted.load_state_dict(ours.state_dict())
    x = _input(in_types[0], 2)
    with torch.no_grad():
        assert torch.equal(ours.eval()(x), emitted.eval()(x))


def test_front_end_import_does_not_load_torch():
    code = "import sys, nasdsl.ops; assert 'torch' not in sys.modules, 'torch imported'"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


# ---- ONNX ------------------------------------------------------------------------------------

ONNX_CASES = [("up_cweight", {}), ("down_dep_conv", {}), ("up_dil_conv", {}),
              ("sep_conv_3x3", {"role": "down"}), ("skip_connect", {"role": "down"}),
              ("dil_conv_5x5", {"role": "up"}), ("none", {"role": "down"}),
              ("none", {"role": "up"}), ("upsample", {"mode": "linear"}),
              ("resize_to", {}), ("norm", {"kind": "instance"}), ("act", {"kind": "gelu"}),
              ("act", {"kind": "softmax"}), ("pool", {"kind": "avg", "kernel": 3}),
              ("conv_transpose", {"out": 4, "kernel": 3})]


class _Pair(torch.nn.Module):
    """resize_to with its ref: ONNX gets the ref as a second dynamic input."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x, ref):
        return self.inner(x, ref)


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("name,given", ONNX_CASES, ids=lambda v: str(v))
def test_onnx_export_matches_onnxruntime(name, given, dims, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    in_types = _in_types(name, dims, 8, 2 if name in ("resize_to", "conv_transpose") else 1)
    torch.manual_seed(0)
    *_, module = _build(name, given, in_types)
    module.eval()
    with torch.no_grad():   # non-trivial affine and running stats
        for p in module.parameters():
            p.uniform_(-1.0, 1.0)
    names = [f"in{i}" for i in range(len(in_types))]
    axes = {0: "batch", **{2 + i: f"size{i}" for i in range(dims)}}
    ref_axes = {0: "batch", **{2 + i: f"ref{i}" for i in range(dims)}}
    dynamic = {"in0": axes, "out": {0: "batch", **{2 + i: f"o{i}" for i in range(dims)}}}
    if len(in_types) == 2:
        dynamic["in1"] = ref_axes
    path = tmp_path / "op.onnx"
    example = tuple(_input(t, dims, batch=1, seed=i) for i, t in enumerate(in_types))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, example, str(path), input_names=names,
                          output_names=["out"], opset_version=18, dynamic_axes=dynamic,
                          dynamo=False)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    # another batch and another spatial size than exported: the axes must be dynamic
    feed = tuple(_input(t, dims, batch=3, seed=7 + i, base=2 * SIZE[dims])
                 for i, t in enumerate(in_types))
    with torch.no_grad():
        expected = module(*feed)
    got = session.run(None, {n: x.numpy() for n, x in zip(names, feed)})[0]
    assert tuple(got.shape) == tuple(expected.shape)
    assert float((expected - torch.from_numpy(got)).abs().max()) <= 1e-4


def test_group_norm_onnx_is_precise_on_large_volumes(tmp_path):
    """A 3D group spans millions of elements; the export must not drift (see StableGroupNorm)."""
    ort = pytest.importorskip("onnxruntime")
    in_types = (_type(8, 3, 1),)
    *_, module = _build("norm", {"kind": "group", "groups": 1}, in_types)
    module.eval()
    path = tmp_path / "gn.onnx"
    axes = {0: "batch", 2: "d", 3: "h", 4: "w"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (_input(in_types[0], 3, batch=1),), str(path),
                          input_names=["x"], output_names=["y"], opset_version=18,
                          dynamic_axes={"x": axes, "y": axes}, dynamo=False)
    x = _input(in_types[0], 3, batch=1, base=64) * 2.0 + 3.0
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"x": x.numpy()})[0]
    with torch.no_grad():
        exact = module.double()(x.double())
    assert float((exact - torch.from_numpy(got).double()).abs().max()) < 2e-5


@pytest.mark.parametrize("name,given", [("sep_conv_3x3", {"role": "down"}),
                                        ("none", {"role": "up"}), ("up_cweight", {}),
                                        ("resize_to", {})])
def test_modules_compile_without_graph_breaks(name, given):
    in_types = _in_types(name, 2, 8, 2 if name == "resize_to" else 1)
    *_, module = _build(name, given, in_types)
    module.eval()
    torch._dynamo.reset()
    compiled = torch.compile(module, backend="eager", fullgraph=True, dynamic=True)
    xs = [_input(t, 2, seed=i) for i, t in enumerate(in_types)]
    with torch.no_grad():
        assert torch.allclose(compiled(*xs), module(*xs))
