"""DARTS edge ops (quark0/darts operations.py), dims-generic, for every edge role.

normal: stride 1; down: stride 2 on every axis (skip_connect becomes FactorizedReduce);
up: nearest x2 upsampling, then the normal-role op (DARTS has no up edges; this is our
choice, documented in docs/LANGUAGE.md). Pools carry no norm, as in DARTS's standalone
ops (PC-DARTS's search-time BN after pools belongs to the search engine).
`norm` picks the norm after each conv (DARTS: batch); group norm uses NAS-Unet's rule.
"""

from __future__ import annotations

from nasdsl.ops import formulas as f
from nasdsl.ops.lib_core import NORM_KINDS, ROLE
from nasdsl.ops.registry import AttrSpec, OpDef, OpError, register

ATTRS = (ROLE, AttrSpec("affine", "bool", True), AttrSpec("norm", "symbol", "batch", NORM_KINDS))


def _op_size(a, isz, osz):
    """Spatial size the op body sees: the input's, or the upsampled input's on up edges."""
    return osz if a["role"] == "up" else isz[0]


def _pre_flops(a, c, osz) -> int:
    return f.elementwise_flops(c, osz) if a["role"] == "up" else 0


def _norm_ctor(a, c) -> dict:
    return dict(norm=a["norm"], groups=f.gn_groups(c), affine=a["affine"])


def _conv_op(name: str, kernel: int, dilated: bool, doc: str) -> None:
    repeats = 1 if dilated else 2

    def params(a, ins, out):
        c, k = out.channels, (kernel,) * out.dims
        one = (f.conv_params(c, c, k, groups=c) + f.conv_params(c, c, (1,) * out.dims)
               + f.norm_params(c, a["affine"]))
        return repeats * one

    def flops(a, ins, out, isz, osz):
        c, k, ones = out.channels, (kernel,) * out.dims, (1,) * out.dims
        relu = f.elementwise_flops(c, _op_size(a, isz, osz))
        # per repeat: depthwise + pointwise + norm at the output size
        one = f.conv_flops(c, c, k, osz, groups=c) + f.conv_flops(c, c, ones, osz) \
            + f.elementwise_flops(c, osz)
        # the second repeat's ReLU runs at the output size
        extra_relu = f.elementwise_flops(c, osz) * (repeats - 1)
        return _pre_flops(a, c, osz) + relu + repeats * one + extra_relu

    def ctor(a, ins, out):
        return dict(channels=out.channels, kernel=kernel, role=a["role"],
                    **_norm_ctor(a, out.channels))

    register(OpDef(
        name, 1, ATTRS, infer=lambda a, ins: f.by_role(ins[0], a["role"]),
        params=params, flops=flops, impl="DartsDilConv" if dilated else "DartsSepConv",
        ctor=ctor, roles=("normal", "down", "up"), doc=doc, family="darts",
        saved=3.0 * repeats))


_conv_op("sep_conv_3x3", 3, False,
         "DARTS separable 3x3 conv: (ReLU -> depthwise -> 1x1 -> norm) twice")
_conv_op("sep_conv_5x5", 5, False,
         "DARTS separable 5x5 conv: (ReLU -> depthwise -> 1x1 -> norm) twice")
_conv_op("dil_conv_3x3", 3, True,
         "DARTS dilated 3x3 conv: ReLU -> depthwise, dilation 2 -> 1x1 -> norm")
_conv_op("dil_conv_5x5", 5, True,
         "DARTS dilated 5x5 conv: ReLU -> depthwise, dilation 2 -> 1x1 -> norm")


def _pool_op(name: str, kind: str) -> None:
    register(OpDef(
        name, 1, ATTRS, infer=lambda a, ins: f.by_role(ins[0], a["role"]),
        params=lambda a, ins, out: 0,
        flops=lambda a, ins, out, isz, osz: (_pre_flops(a, out.channels, osz)
                                             + f.elementwise_flops(out.channels, osz)),
        impl="DartsPool", ctor=lambda a, ins, out: dict(kind=kind, role=a["role"]),
        roles=("normal", "down", "up"), family="darts", saved=3.0,
        tags=frozenset({"pool"}),
        doc=f"DARTS 3x3 {kind} pooling, padding 1 (stride 2 on down edges), no norm"))


_pool_op("max_pool_3x3", "max")
_pool_op("avg_pool_3x3", "avg")


def _skip_infer(a, ins):
    x = ins[0]
    if a["role"] == "down" and x.channels % 2:
        raise OpError(f"`skip_connect` on a down edge (FactorizedReduce) needs an even "
                      f"channel count, found {x.channels}",
                      "it concatenates two 1x1 convs of C/2 channels each")
    return f.by_role(x, a["role"])


def _skip_params(a, ins, out):
    if a["role"] != "down":
        return 0
    c = out.channels
    return 2 * f.conv_params(c, c // 2, (1,) * out.dims) + f.norm_params(c, a["affine"])


def _skip_flops(a, ins, out, isz, osz):
    c = out.channels
    if a["role"] == "up":
        return _pre_flops(a, c, osz)
    if a["role"] == "normal":
        return 0
    convs = 2 * f.conv_flops(c, c // 2, (1,) * out.dims, osz)
    return f.elementwise_flops(c, isz[0]) + convs + f.elementwise_flops(c, osz)


register(OpDef(
    "skip_connect", 1, ATTRS, infer=_skip_infer, params=_skip_params, flops=_skip_flops,
    impl="DartsSkip",
    ctor=lambda a, ins, out: dict(channels=out.channels, role=a["role"],
                                  **_norm_ctor(a, out.channels)),
    roles=("normal", "down", "up"), family="darts", saved=0.0,
    tags=frozenset({"identity"}),
    doc="DARTS skip: identity (normal), FactorizedReduce (down: ReLU, two 1x1 stride-2 "
        "convs, the second on x shifted by one, concat, norm), nearest x2 (up)"))


# ---- cell preprocessing (DARTS model.py Cell: ReLUConvBN, FactorizedReduce) --------------
# Not edge ops: they map C_in -> `out` channels and feed a cell's nodes.
PRE_ATTRS = (AttrSpec("out", "int", minimum=1, doc="output channels"),
             AttrSpec("norm", "symbol", "batch", NORM_KINDS),
             AttrSpec("affine", "bool", True))


def _rcb_infer(a, ins):
    f.same_padding("relu_conv_bn", a["kernel"], a["stride"], (1,) * len(a["kernel"]))
    return f.strided(ins[0], a["stride"]).with_channels(a["out"])


def _rcb_flops(a, ins, out, isz, osz):
    return (f.elementwise_flops(ins[0].channels, isz[0])
            + f.conv_flops(ins[0].channels, a["out"], a["kernel"], osz)
            + f.elementwise_flops(a["out"], osz))


register(OpDef(
    "relu_conv_bn", 1,
    PRE_ATTRS[:1] + (AttrSpec("kernel", "axes", 1), AttrSpec("stride", "axes", 1))
    + PRE_ATTRS[1:],
    infer=_rcb_infer,
    params=lambda a, ins, out: (f.conv_params(ins[0].channels, a["out"], a["kernel"])
                                + f.norm_params(a["out"], a["affine"])),
    flops=_rcb_flops, impl="DartsReLUConvBN",
    ctor=lambda a, ins, out: dict(
        in_channels=ins[0].channels, out_channels=a["out"], kernel=a["kernel"],
        stride=a["stride"], padding=f.same_padding("relu_conv_bn", a["kernel"], a["stride"],
                                                   (1,) * len(a["kernel"])),
        **_norm_ctor(a, a["out"])),
    family="darts", saved=3.0,
    doc="DARTS ReLUConvBN (cell preprocessing): ReLU -> conv (no bias, 'same' padding) "
        "-> norm"))


def _fr_infer(a, ins):
    if a["out"] % 2:
        raise OpError(f"`factorized_reduce` needs an even `out`, found {a['out']}",
                      "it concatenates two 1x1 convs of out/2 channels each")
    return f.by_role(ins[0], "down").with_channels(a["out"])


def _fr_flops(a, ins, out, isz, osz):
    convs = 2 * f.conv_flops(ins[0].channels, a["out"] // 2, (1,) * out.dims, osz)
    return (f.elementwise_flops(ins[0].channels, isz[0]) + convs
            + f.elementwise_flops(a["out"], osz))


register(OpDef(
    "factorized_reduce", 1, PRE_ATTRS, infer=_fr_infer,
    params=lambda a, ins, out: (2 * f.conv_params(ins[0].channels, a["out"] // 2,
                                                  (1,) * out.dims)
                                + f.norm_params(a["out"], a["affine"])),
    flops=_fr_flops, impl="DartsFactorizedReduce",
    ctor=lambda a, ins, out: dict(in_channels=ins[0].channels, out_channels=a["out"],
                                  **_norm_ctor(a, a["out"])),
    family="darts", saved=3.0,
    doc="DARTS FactorizedReduce (preprocessing after a reduction cell): ReLU -> two 1x1 "
        "stride-2 convs of out/2 channels, the second on x shifted by one -> concat -> "
        "norm; halves the size"))
