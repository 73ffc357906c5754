"""Core ops: convolutions, norms, activations, pooling, resampling, joins, zero, dropout."""

from __future__ import annotations

from nasdsl.ir.types import TensorType
from nasdsl.ops import formulas as f
from nasdsl.ops.registry import AttrSpec, OpDef, OpError, register

ROLE = AttrSpec("role", "symbol", "normal", ("normal", "down", "up"),
                doc="edge role, filled in by the cell")
NORM_KINDS = ("group", "instance", "batch")
ACT_KINDS = ("relu", "leaky_relu", "elu", "sigmoid", "tanh", "gelu", "softmax")
MODES = ("nearest", "linear")


def no_params(a, ins, out) -> int:
    return 0


def no_flops(a, ins, out, in_sizes, out_size) -> int:
    return 0


def per_output(a, ins, out, in_sizes, out_size) -> int:
    return f.elementwise_flops(out.channels, out_size)


def no_ctor(a, ins, out) -> dict:
    return {}


def same_type(a, ins) -> TensorType:
    return ins[0]


def _ones(dims: int) -> tuple[int, ...]:
    return (1,) * dims


# ---- conv --------------------------------------------------------------------------------

def _conv_infer(a, ins):
    x = ins[0]
    f.same_padding("conv", a["kernel"], a["stride"], a["dilation"])
    g = a["groups"]
    if x.channels % g or a["out"] % g:
        raise OpError(f"`conv` with groups={g} needs input ({x.channels}) and output "
                      f"({a['out']}) channel counts divisible by {g}",
                      "choose groups that divide both channel counts")
    return f.strided(x, a["stride"]).with_channels(a["out"])


def _conv_ctor(a, ins, out):
    return dict(in_channels=ins[0].channels, out_channels=a["out"], kernel=a["kernel"],
                stride=a["stride"],
                padding=f.same_padding("conv", a["kernel"], a["stride"], a["dilation"]),
                dilation=a["dilation"], groups=a["groups"], bias=a["bias"])


register(OpDef(
    "conv", 1,
    (AttrSpec("out", "int", minimum=1, doc="output channels"),
     AttrSpec("kernel", "axes", 3), AttrSpec("stride", "axes", 1),
     AttrSpec("dilation", "axes", 1), AttrSpec("groups", "int", 1, minimum=1),
     AttrSpec("bias", "bool", False)),
    infer=_conv_infer,
    params=lambda a, ins, out: f.conv_params(ins[0].channels, a["out"], a["kernel"],
                                             a["groups"], a["bias"]),
    flops=lambda a, ins, out, isz, osz: f.conv_flops(ins[0].channels, a["out"], a["kernel"],
                                                     osz, a["groups"], a["bias"]),
    impl="Conv", ctor=_conv_ctor,
    doc="convolution; 'same' padding dilation*(kernel-1)/2, output = input / stride exactly",
    saved=1.06))


# ---- conv_transpose -----------------------------------------------------------------------

def _convt_infer(a, ins):
    f.transpose_padding("conv_transpose", a["kernel"], a["stride"])
    return f.upscaled(ins[0], a["stride"]).with_channels(a["out"])


def _convt_ctor(a, ins, out):
    pad, extra = f.transpose_padding("conv_transpose", a["kernel"], a["stride"])
    return dict(in_channels=ins[0].channels, out_channels=a["out"], kernel=a["kernel"],
                stride=a["stride"], padding=pad, output_padding=extra, bias=a["bias"])


register(OpDef(
    "conv_transpose", 1,
    (AttrSpec("out", "int", minimum=1, doc="output channels"),
     AttrSpec("kernel", "axes", 2), AttrSpec("stride", "axes", 2),
     AttrSpec("bias", "bool", False)),
    infer=_convt_infer,
    params=lambda a, ins, out: f.conv_transpose_params(ins[0].channels, a["out"],
                                                       a["kernel"], 1, a["bias"]),
    flops=lambda a, ins, out, isz, osz: f.conv_transpose_flops(
        ins[0].channels, a["out"], a["kernel"], isz[0], osz, 1, a["bias"]),
    impl="ConvTranspose", ctor=_convt_ctor,
    doc="transposed convolution giving exactly stride x input (padding and output_padding "
        "chosen per axis; stride 1 allowed on some axes)",
    saved=0.19))


# ---- norm ---------------------------------------------------------------------------------

def norm_groups(kind: str, channels: int, groups: int) -> int:
    """Group count of a norm (0 = NAS-Unet's rule); OpError when it does not fit."""
    if kind != "group":
        if groups:
            raise OpError(f"`norm` groups={groups} applies to group norm only, not {kind}",
                          "drop the group count, or use `group`")
        return 1
    if groups == 0:
        return f.gn_groups(channels)
    if channels % groups:
        fits = [g for g in range(1, min(channels, 64) + 1) if channels % g == 0]
        raise OpError(f"group norm of {channels} channels into {groups} groups: {channels} "
                      f"is not divisible by {groups}",
                      f"use a group count that divides {channels} (e.g. "
                      f"{', '.join(map(str, fits[-4:]))}), or 0 for the NAS-Unet rule "
                      f"(groups of 16 channels, else one group)")
    return groups


def _norm_infer(a, ins):
    norm_groups(a["kind"], ins[0].channels, a["groups"])
    return ins[0]


register(OpDef(
    "norm", 1,
    (AttrSpec("kind", "symbol", None, NORM_KINDS),
     AttrSpec("groups", "int", 0, minimum=0,
              doc="group norm only; 0 = C/16 groups when 16 divides C, else 1 (NAS-Unet)"),
     AttrSpec("affine", "bool", True)),
    infer=_norm_infer,
    params=lambda a, ins, out: f.norm_params(out.channels, a["affine"]),
    flops=per_output, impl="Norm",
    ctor=lambda a, ins, out: dict(kind=a["kind"], channels=out.channels,
                                  groups=norm_groups(a["kind"], out.channels, a["groups"]),
                                  affine=a["affine"]),
    doc="group, instance or batch normalisation (scale and shift per channel when affine)",
    saved=1.0))


# ---- act ----------------------------------------------------------------------------------

register(OpDef(
    "act", 1, (AttrSpec("kind", "symbol", None, ACT_KINDS),),
    infer=same_type, params=no_params, flops=per_output, impl="Act",
    ctor=lambda a, ins, out: dict(kind=a["kind"]),
    doc="activation; leaky_relu has slope 0.01 (torch's default), softmax is over channels",
    saved=0.64))


# ---- pool ---------------------------------------------------------------------------------

def _pool_padding(a):
    return f.same_padding("pool", a["kernel"], a["stride"], _ones(len(a["kernel"])))


def _pool_infer(a, ins):
    _pool_padding(a)
    return f.strided(ins[0], a["stride"])


register(OpDef(
    "pool", 1,
    (AttrSpec("kind", "symbol", None, ("max", "avg")), AttrSpec("kernel", "axes", 2),
     AttrSpec("stride", "axes", 2)),
    infer=_pool_infer,
    params=no_params, flops=per_output, impl="Pool",
    ctor=lambda a, ins, out: dict(kind=a["kind"], kernel=a["kernel"], stride=a["stride"],
                                  padding=_pool_padding(a)),
    tags=frozenset({"pool"}),
    doc="max or average pooling (padding (kernel-1)/2 for odd kernels, excluded from "
        "averages); output = input / stride exactly",
    saved=4.8))


# ---- resampling ---------------------------------------------------------------------------

def _interp_flops(a, ins, out, isz, osz):
    # nearest copies one element; linear blends 2^dims corners (one MAC each)
    n = f.elementwise_flops(out.channels, osz)
    return n if a["mode"] == "nearest" else 2 * n * 2 ** out.dims


register(OpDef(
    "upsample", 1,
    (AttrSpec("scale", "axes", 2), AttrSpec("mode", "symbol", "nearest", MODES)),
    infer=lambda a, ins: f.upscaled(ins[0], a["scale"]),
    params=no_params, flops=_interp_flops, impl="Upsample",
    ctor=lambda a, ins, out: dict(scale=a["scale"], mode=a["mode"]),
    doc="upsampling by an integer factor per axis (linear = bi/trilinear, "
        "align_corners=False)",
    saved=0.0))


register(OpDef(
    "resize_to", 2, (AttrSpec("mode", "symbol", "linear", MODES),),
    infer=lambda a, ins: TensorType(ins[0].channels, ins[1].stride),
    params=no_params, flops=_interp_flops, impl="ResizeTo",
    ctor=lambda a, ins, out: dict(mode=a["mode"]),
    doc="resize x to ref's spatial size (linear = bi/trilinear, align_corners=False); "
        "x's channels, ref's stride",
    saved=0.0))


# ---- joins --------------------------------------------------------------------------------

def _same_stride(op: str, ins: tuple[TensorType, ...]) -> None:
    for i, t in enumerate(ins[1:], start=2):
        if t.stride != ins[0].stride:
            raise OpError(f"inputs of `{op}` differ in stride: input 1 is at stride "
                          f"{f.describe_stride(ins[0])}, input {i} at stride "
                          f"{f.describe_stride(t)}",
                          "resample one of them (pool, upsample, resize_to) first")


def _concat_infer(a, ins):
    _same_stride("concat", ins)
    return ins[0].with_channels(sum(t.channels for t in ins))


def _add_infer(a, ins):
    _same_stride("add", ins)
    for i, t in enumerate(ins[1:], start=2):
        if t.channels != ins[0].channels:
            raise OpError(f"inputs of `add` differ in channel count: input 1 has "
                          f"{ins[0].channels}, input {i} has {t.channels}",
                          "match them with a 1x1 conv, e.g. `conv(x, C, 1)`")
    return ins[0]


register(OpDef(
    "concat", None, (), infer=_concat_infer, params=no_params, flops=no_flops, impl=None,
    ctor=no_ctor, doc="channel concatenation of tensors at the same stride (inline)",
    saved=0.0))

register(OpDef(
    "add", None, (), infer=_add_infer, params=no_params,
    flops=lambda a, ins, out, isz, osz: (len(ins) - 1) * f.elementwise_flops(
        out.channels, osz),
    impl=None, ctor=no_ctor, doc="elementwise sum of tensors of one type (inline)",
    saved=0.0))


def _resize_add_infer(a, ins):
    # nominal types agree; the real sizes may differ by rounding (2H-1, odd sizes)
    return _add_infer(a, ins)


register(OpDef(
    "resize_add", None, (AttrSpec("mode", "symbol", "nearest", ("nearest",)),),
    infer=_resize_add_infer, params=no_params,
    flops=lambda a, ins, out, isz, osz: (len(ins) - 1) * f.elementwise_flops(
        out.channels, osz),
    impl="ResizeAdd", ctor=lambda a, ins, out: dict(mode=a["mode"]),
    tags=frozenset({"any_size"}),
    doc="elementwise sum that first nearest-resizes every input to the largest input's "
        "size (NAS-Unet authors' node rule; their 2H-1 up edges need it)",
    saved=0.0))


# ---- edge ops: identity, zero -------------------------------------------------------------

register(OpDef(
    "identity", 1, (), infer=same_type, params=no_params, flops=no_flops, impl=None,
    ctor=no_ctor, roles=("normal",), doc="the input itself (inline)", saved=0.0,
    tags=frozenset({"identity"})))

register(OpDef(
    "none", 1, (ROLE,), infer=lambda a, ins: f.by_role(ins[0], a["role"]),
    params=no_params, flops=no_flops, impl="Zero",
    ctor=lambda a, ins, out: dict(role=a["role"]), roles=("normal", "down", "up"),
    tags=frozenset({"zero"}),
    doc="the zero op: zeros of the edge's output shape (x.mul(0.), strided or upsampled)",
    saved=0.0))


# ---- dropout ------------------------------------------------------------------------------

def _dropout_infer(a, ins):
    if not 0.0 <= a["p"] < 1.0:
        raise OpError(f"`dropout` probability must be in [0, 1), found {a['p']}")
    return ins[0]


register(OpDef(
    "dropout", 1, (AttrSpec("p", "float", 0.0),), infer=_dropout_infer,
    params=no_params, flops=no_flops, impl="Dropout",
    ctor=lambda a, ins, out: dict(p=a["p"]),
    doc="elementwise dropout with probability p (identity at inference)", saved=1.0))
