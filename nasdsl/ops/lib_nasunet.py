"""NAS-Unet edge ops (tianbaochou/NasUnet util/prim_ops_set.py), dims-generic.

All map C -> C channels. Conv family: 3x3 conv (no bias) -> GroupNorm -> ReLU, GN with
C/16 groups when 16 divides C, else one group (the authors' ops_order 'weight_norm_act').
`conv` and `shuffle_conv` are the same op in the authors' code (the shuffle flag is inert
at groups=1); `conv` is registered as `conv_gn_relu` because `conv` is the core op.
The authors' optional Dropout2d before the conv (0 in their final models) is left out.

Deliberate deviation: the authors' up ops are transposed convs with output_padding 0,
giving 2H-1 (a node then nearest-resizes before summing); here they use output_padding=1
by default and give exactly 2H, so no resize is needed. `fit=authors` on the up ops and
on the cell's `nodes` reproduces the authors' function (`-D up=authors`).
`affine` (default true) is the GroupNorm's affine flag: the authors search with
affine-free GN.
"""

from __future__ import annotations

from nasdsl.ops import formulas as f
from nasdsl.ops.lib_core import per_output
from nasdsl.ops.registry import AttrSpec, OpDef, register

AFFINE = AttrSpec("affine", "bool", True, doc="GroupNorm scale and shift")
FIT = AttrSpec("fit", "symbol", "exact", ("exact", "authors"),
               doc="up ops: exact gives 2H (output_padding 1); authors gives their 2H-1")


def _k3(dims: int) -> tuple[int, ...]:
    return (3,) * dims


def _define(name: str, role: str, impl: str, params, flops, ctor, saved: float,
            doc: str) -> None:
    has_norm = impl != "Pool" and name != "cweight"
    attrs = ((AFFINE,) if has_norm else ()) + ((FIT,) if role == "up" else ())
    register(OpDef(
        name, 1, attrs, infer=lambda a, ins: f.by_role(ins[0], role),
        params=params, flops=flops, impl=impl, ctor=ctor, roles=(role,), doc=doc,
        family="nas_unet", saved=saved,
        tags=frozenset({"pool"}) if impl == "Pool" else frozenset()))


def _out_pad(a, role: str) -> int:
    """Up edges: output_padding 1 gives exactly 2H; `fit=authors` gives their 2H-1 (the IR
    keeps the nominal 2H; a node with `fit=authors` nearest-resizes before summing)."""
    return int(role == "up" and a["fit"] == "exact")


# ---- conv family: NasUnetConv (full 3x3, optionally dilated / strided / transposed) ----

def _conv_family(name: str, role: str, dilation: int, doc: str) -> None:
    def params(a, ins, out):
        c = out.channels
        return f.conv_params(c, c, _k3(out.dims)) + f.norm_params(c, a["affine"])

    def flops(a, ins, out, isz, osz):
        c, k = out.channels, _k3(out.dims)
        if role == "up":
            weight = f.conv_transpose_flops(c, c, k, isz[0], osz)
        else:
            weight = f.conv_flops(c, c, k, osz)
        return weight + 2 * f.elementwise_flops(c, osz)      # + GroupNorm, ReLU

    def ctor(a, ins, out):
        return dict(channels=out.channels, stride=1 if role == "normal" else 2,
                    padding=dilation, dilation=dilation,
                    output_padding=_out_pad(a, role), transpose=role == "up",
                    groups=f.gn_groups(out.channels), affine=a["affine"])

    _define(name, role, "NasUnetConv", params, flops, ctor,
            {"normal": 3.0, "down": 3.33, "up": 2.08}[role], doc)


_conv_family("conv_gn_relu", "normal", 1, "NAS-Unet `conv`: 3x3 conv -> GN -> ReLU")
_conv_family("shuffle_conv", "normal", 1,
             "NAS-Unet `shuffle_conv`: 3x3 conv -> GN -> ReLU (shuffle inert at groups=1)")
_conv_family("dil_conv", "normal", 2,
             "NAS-Unet `dil_conv`: full (not separable) 3x3 conv, dilation 2 -> GN -> ReLU")
_conv_family("down_conv", "down", 1, "NAS-Unet `down_conv`: 3x3 stride-2 conv -> GN -> ReLU")
_conv_family("down_dil_conv", "down", 2,
             "NAS-Unet `down_dil_conv`: 3x3 stride-2 conv, dilation 2 -> GN -> ReLU")
_conv_family("up_conv", "up", 1,
             "NAS-Unet `up_conv`: 3x3 stride-2 transposed conv -> GN -> ReLU; output_padding "
             "1 gives exactly 2H (the authors' code gives 2H-1)")
_conv_family("up_dil_conv", "up", 2,
             "NAS-Unet `up_dil_conv`: 3x3 stride-2 transposed conv, dilation 2 -> GN -> ReLU;"
             " output_padding 1 gives exactly 2H (the authors' code gives 2H-1)")


# ---- depthwise family: NasUnetDepConv (one depthwise 3x3 + pointwise 1x1) ---------------

def _dep_family(name: str, role: str, doc: str) -> None:
    def params(a, ins, out):
        c, k = out.channels, _k3(out.dims)
        return (f.conv_params(c, c, k, groups=c) + f.conv_params(c, c, (1,) * out.dims)
                + f.norm_params(c, a["affine"]))

    def flops(a, ins, out, isz, osz):
        c, k = out.channels, _k3(out.dims)
        if role == "up":
            depth = f.conv_transpose_flops(c, c, k, isz[0], osz, groups=c)
        else:
            depth = f.conv_flops(c, c, k, osz, groups=c)
        point = f.conv_flops(c, c, (1,) * out.dims, osz)
        return depth + point + 2 * f.elementwise_flops(c, osz)

    def ctor(a, ins, out):
        return dict(channels=out.channels, stride=1 if role == "normal" else 2, padding=1,
                    output_padding=_out_pad(a, role), transpose=role == "up",
                    groups=f.gn_groups(out.channels), affine=a["affine"])

    _define(name, role, "NasUnetDepConv", params, flops, ctor,
            {"normal": 4.0, "down": 4.33, "up": 2.5}[role], doc)


_dep_family("dep_conv", "normal",
            "NAS-Unet `dep_conv`: depthwise 3x3 -> pointwise 1x1 -> GN -> ReLU (once)")
_dep_family("down_dep_conv", "down",
            "NAS-Unet `down_dep_conv`: depthwise 3x3 stride 2 -> 1x1 -> GN -> ReLU")
_dep_family("up_dep_conv", "up",
            "NAS-Unet `up_dep_conv`: transposed depthwise 3x3 stride 2 -> 1x1 -> GN -> ReLU;"
            " output_padding 1 gives exactly 2H (the authors' code gives 2H-1)")


# ---- cweight family: squeeze-and-excitation gate ----------------------------------------
# Linear(C, C//16) -> ReLU -> Linear(C//16, C) -> sigmoid, both linears with bias (torch's
# default, as the authors'); the gate multiplies x. Below 16 channels the authors' bottleneck
# would be empty (C//16 = 0); here it keeps one unit.

register(OpDef(
    "cweight", 1, (), infer=lambda a, ins: ins[0],
    params=lambda a, ins, out: f.se_params(out.channels),
    flops=lambda a, ins, out, isz, osz: f.se_flops(out.channels, isz[0]),
    impl="CWeight",
    ctor=lambda a, ins, out: dict(channels=out.channels, hidden=f.se_hidden(out.channels)),
    roles=("normal",), family="nas_unet", saved=1.0,
    doc="NAS-Unet `cweight`: x times its SE gate (GAP -> Linear(C, C//16) -> ReLU -> "
        "Linear -> sigmoid); no conv, norm or act"))


def _cweight_conv(name: str, role: str, doc: str) -> None:
    def params(a, ins, out):
        c = out.channels
        return (f.se_params(c) + f.conv_params(c, c, _k3(out.dims))
                + f.norm_params(c, a["affine"]))

    def flops(a, ins, out, isz, osz):
        c, k = out.channels, _k3(out.dims)
        if role == "up":
            weight = f.conv_transpose_flops(c, c, k, isz[0], osz)
        else:
            weight = f.conv_flops(c, c, k, osz)
        return f.se_flops(c, isz[0]) + weight + f.elementwise_flops(c, osz)   # + GN

    def ctor(a, ins, out):
        c = out.channels
        return dict(channels=c, hidden=f.se_hidden(c), padding=1,
                    output_padding=_out_pad(a, role), transpose=role == "up",
                    groups=f.gn_groups(c), affine=a["affine"])

    _define(name, role, "CWeightConv", params, flops, ctor,
            {"down": 6.34, "up": 1.33}[role], doc)


_cweight_conv("down_cweight", "down",
              "NAS-Unet `down_cweight`: SE-gated x -> 3x3 stride-2 conv -> GN (no ReLU)")
_cweight_conv("up_cweight", "up",
              "NAS-Unet `up_cweight`: SE-gated x -> 3x3 stride-2 transposed conv -> GN (no "
              "ReLU); output_padding 1 gives exactly 2H (the authors' code gives 2H-1)")


# ---- pools (down edges only) -------------------------------------------------------------

def _pool(name: str, kind: str) -> None:
    _define(name, "down", "Pool", lambda a, ins, out: 0, per_output,
            lambda a, ins, out: dict(kind=kind, kernel=(2,) * out.dims,
                                     stride=(2,) * out.dims, padding=(0,) * out.dims),
            1.0, f"NAS-Unet `{name}`: 2x2 {kind} pooling, stride 2, no norm")


_pool("avg_pool", "avg")
_pool("max_pool", "max")
