"""PyTorch modules of the built-in ops, for 2D and 3D networks.

Every class takes the keyword arguments its OpDef's ``ctor`` returns, and ``dims`` (2 or 3)
last. The defaults in these signatures are the only record of them: an emitted module
copies the signatures and leaves out every argument equal to its default (impl_source.py
reads them from this file). ``dims`` defaults to the module constant DIMS,
which an emitted module sets once for the whole network, and a norm's group count to
GROUPS, which it sets to the count most of its norms use; an int default of a per-axis
argument (stride=1) stands for that value on every axis, as torch's layers read it, so
such an argument must reach a torch layer (an emitted call writes `(1, 1)` as `1`).
The source of these classes is copied verbatim into emitted standalone model
files (see impl_source.py), so this file imports nothing but torch, and forward methods
contain no Python control flow on data: they run under torch.compile and export to ONNX
with dynamic batch and spatial axes.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

DIMS = 2  # spatial axes; an emitted module sets its own (callers here always pass dims)
GROUPS = 1  # group-norm groups; an emitted module sets the count most of its norms use


def _conv(dims):
    return nn.Conv2d if dims == 2 else nn.Conv3d


def _conv_transpose(dims):
    return nn.ConvTranspose2d if dims == 2 else nn.ConvTranspose3d


def _max_pool(dims):
    return nn.MaxPool2d if dims == 2 else nn.MaxPool3d


def _avg_pool(dims):
    return nn.AvgPool2d if dims == 2 else nn.AvgPool3d


def _staged_mean(h):
    # Mean over axes 2.., one axis at a time. ONNX Runtime's float32 reductions over the
    # millions of elements of a 3D feature map drift from torch's by ~1e-4; short ones
    # stay within ~1e-7.
    for axis in range(h.dim() - 1, 1, -1):
        h = h.mean(dim=axis, keepdim=True)
    return h


class StableGroupNorm(nn.GroupNorm):
    """nn.GroupNorm whose ONNX export reduces in short stages (see _staged_mean).

    torch's exporter lowers GroupNorm and InstanceNorm to InstanceNormalization, whose
    single long reduction misses torch's result by up to ~1e-3 on 3D volumes. Eager and
    compiled runs use the native kernel; the branch depends only on export mode.
    """

    def forward(self, x):
        if not torch.onnx.is_in_onnx_export():
            return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)
        h = x.reshape((x.shape[0], self.num_groups, -1) + x.shape[2:])
        h = h - _staged_mean(h)
        h = h * torch.rsqrt(_staged_mean(h * h) + self.eps)
        h = h.reshape(x.shape)
        if self.affine:
            shape = (1, -1) + (1,) * (x.dim() - 2)
            h = h * self.weight.reshape(shape) + self.bias.reshape(shape)
        return h


def _norm(dims, kind, channels, groups, affine):
    if kind == "group":
        return StableGroupNorm(groups, channels, affine=affine)
    if kind == "instance":
        # instance norm = group norm with one channel per group (same parameters; no
        # running statistics, as nn.InstanceNormNd's default)
        return StableGroupNorm(channels, channels, affine=affine)
    cls = nn.BatchNorm2d if dims == 2 else nn.BatchNorm3d
    return cls(channels, affine=affine)


def _interp_mode(dims, mode):
    if mode == "nearest":
        return "nearest"
    return "bilinear" if dims == 2 else "trilinear"


def _spatial_slice(dims, start, step):
    # x[:, :, start::step, ...]: exports to one ONNX Slice, symbolic in the spatial sizes
    return (slice(None), slice(None)) + (slice(start, None, step),) * dims


def _pre_upsample(role):
    # up edges of ops defined at stride 1: nearest x2 first, then the op
    return nn.Upsample(scale_factor=2.0, mode="nearest") if role == "up" else nn.Identity()


# ---- core ---------------------------------------------------------------------------------

# Conv, ConvTranspose, Norm and Act return torch's own layers rather than wrapping them:
# one module call per op (dispatch overhead decides small-patch GPU steps) and plain
# state_dict keys.
def Conv(in_channels, out_channels, kernel=3, stride=1, padding=0, dilation=1, groups=1,
         bias=False, dims=DIMS):
    return _conv(dims)(in_channels, out_channels, kernel, stride=stride, padding=padding,
                       dilation=dilation, groups=groups, bias=bias)


def ConvTranspose(in_channels, out_channels, kernel=2, stride=2, padding=0, output_padding=0,
                  bias=False, dims=DIMS):
    return _conv_transpose(dims)(in_channels, out_channels, kernel, stride=stride,
                                 padding=padding, output_padding=output_padding, bias=bias)


def Norm(kind, channels, groups=GROUPS, affine=True, dims=DIMS):
    return _norm(dims, kind, channels, groups, affine)


def Act(kind, dims=DIMS):
    if kind == "leaky_relu":
        return nn.LeakyReLU(0.01)
    if kind == "softmax":
        return nn.Softmax(dim=1)
    acts = {"relu": nn.ReLU, "elu": nn.ELU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
            "gelu": nn.GELU}
    return acts[kind]()


class Pool(nn.Module):
    def __init__(self, kind, kernel=2, stride=2, padding=0, dims=DIMS):
        super().__init__()
        if kind == "max":
            self.pool = _max_pool(dims)(kernel, stride=stride, padding=padding)
        else:
            # count_include_pad=False: border windows average real elements only (DARTS)
            self.pool = _avg_pool(dims)(kernel, stride=stride, padding=padding,
                                        count_include_pad=False)

    def forward(self, x):
        return self.pool(x)


class Upsample(nn.Module):
    def __init__(self, scale, mode="nearest", dims=DIMS):
        super().__init__()
        # integer scales: output = scale x input exactly, in torch and in ONNX Resize
        self.scale = tuple(float(s) for s in scale)
        self.mode = _interp_mode(dims, mode)
        self.align_corners = None if mode == "nearest" else False

    def forward(self, x):
        return F.interpolate(x, scale_factor=self.scale, mode=self.mode,
                             align_corners=self.align_corners)


class ResizeTo(nn.Module):
    def __init__(self, mode="linear", dims=DIMS):
        super().__init__()
        self.mode = _interp_mode(dims, mode)
        self.align_corners = None if mode == "nearest" else False

    def forward(self, x, ref):
        # the size is read from ref's shape, so it stays symbolic under export
        return F.interpolate(x, size=ref.shape[2:], mode=self.mode,
                             align_corners=self.align_corners)


class ResizeAdd(nn.Module):
    """Sum after nearest-resizing each input to the largest size on every axis.

    NAS-Unet's authors join a node's two edges this way (their up edges give 2H-1):
    `interpolate(smaller, larger.shape)`, nearest. Resizing to the same size is skipped,
    so inputs that already agree are summed exactly as `add`.
    """

    def __init__(self, mode="nearest", dims=DIMS):
        super().__init__()
        self.mode = mode

    def forward(self, *xs):
        size = [max(sizes) for sizes in zip(*[x.shape[2:] for x in xs])]
        out = None
        for x in xs:
            if list(x.shape[2:]) != size:
                x = F.interpolate(x, size=size, mode=self.mode)
            out = x if out is None else out + x
        return out


class Zero(nn.Module):
    """The zero op: zeros of the edge's output shape (DARTS's Zero: x.mul(0.))."""

    def __init__(self, role="normal", dims=DIMS):
        super().__init__()
        self.index = _spatial_slice(dims, 0, 2 if role == "down" else 1)
        self.pre = _pre_upsample(role)

    def forward(self, x):
        return self.pre(x[self.index].mul(0.0))


class Dropout(nn.Module):
    def __init__(self, p=0.0, dims=DIMS):
        super().__init__()
        self.drop = nn.Dropout(p)

    def forward(self, x):
        return self.drop(x)


# ---- NAS-Unet (tianbaochou/NasUnet util/prim_ops_set.py) ----------------------------------

class NasUnetConv(nn.Module):
    """ConvOps: 3x3 conv (or transposed conv) -> GroupNorm -> ReLU."""

    def __init__(self, channels, stride=1, padding=1, dilation=1, output_padding=0,
                 transpose=False, groups=GROUPS, affine=True, dims=DIMS):
        super().__init__()
        if transpose:
            self.conv = _conv_transpose(dims)(channels, channels, 3, stride=stride,
                                              padding=padding, dilation=dilation,
                                              output_padding=output_padding, bias=False)
        else:
            self.conv = _conv(dims)(channels, channels, 3, stride=stride, padding=padding,
                                    dilation=dilation, bias=False)
        self.norm = StableGroupNorm(groups, channels, affine=affine)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.norm(self.conv(x)))


class NasUnetDepConv(nn.Module):
    """ConvOps(use_depthwise): depthwise 3x3 (or transposed) -> 1x1 -> GroupNorm -> ReLU."""

    def __init__(self, channels, stride=1, padding=1, output_padding=0, transpose=False,
                 groups=GROUPS, affine=True, dims=DIMS):
        super().__init__()
        if transpose:
            self.depth_conv = _conv_transpose(dims)(channels, channels, 3, stride=stride,
                                                    padding=padding, groups=channels,
                                                    output_padding=output_padding,
                                                    bias=False)
        else:
            self.depth_conv = _conv(dims)(channels, channels, 3, stride=stride,
                                          padding=padding, groups=channels, bias=False)
        self.point_conv = _conv(dims)(channels, channels, 1, bias=False)
        self.norm = StableGroupNorm(groups, channels, affine=affine)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.norm(self.point_conv(self.depth_conv(x))))


class SEGate(nn.Module):
    """Squeeze-and-excitation gate: global mean -> Linear -> ReLU -> Linear -> sigmoid."""

    def __init__(self, channels, hidden, dims=DIMS):
        super().__init__()
        self.last = dims + 1
        self.fc = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(),
                                nn.Linear(hidden, channels), nn.Sigmoid())

    def forward(self, x):
        if not torch.onnx.is_in_onnx_export():
            # eager / compiled: one reduction, a 2-D linear, a view (fewest kernel calls)
            gate = self.fc(x.mean(dim=tuple(range(2, self.last + 1))))
            return gate.view(gate.shape + (1,) * (self.last - 1))
        # export: (B, C, 1, ..) -> (B, 1, .., C): the linears apply without a reshape to
        # (B, C); explicit axes, as ONNX Transpose refuses negative ones
        squeezed = _staged_mean(x).transpose(1, self.last)
        return self.fc(squeezed).transpose(1, self.last)


class CWeight(nn.Module):
    """CWeightOp, stride 1: x scaled per channel by its SE gate."""

    def __init__(self, channels, hidden, dims=DIMS):
        super().__init__()
        self.gate = SEGate(channels, hidden, dims=dims)

    def forward(self, x):
        return x * self.gate(x)


class CWeightConv(nn.Module):
    """CWeightOp, stride 2: SE-gated x -> 3x3 stride-2 conv (or transposed) -> GroupNorm."""

    def __init__(self, channels, hidden, padding=1, output_padding=0, transpose=False,
                 groups=GROUPS, affine=True, dims=DIMS):
        super().__init__()
        self.gate = SEGate(channels, hidden, dims=dims)
        if transpose:
            self.conv = _conv_transpose(dims)(channels, channels, 3, stride=2,
                                              padding=padding, output_padding=output_padding,
                                              bias=False)
        else:
            self.conv = _conv(dims)(channels, channels, 3, stride=2, padding=padding,
                                    bias=False)
        self.norm = StableGroupNorm(groups, channels, affine=affine)

    def forward(self, x):
        return self.norm(self.conv(x * self.gate(x)))


# ---- DARTS (quark0/darts operations.py); the up role upsamples first ----------------------

class DartsSepConv(nn.Module):
    """SepConv: (ReLU -> depthwise -> 1x1 -> norm) twice; the first depthwise strides."""

    def __init__(self, channels, kernel, role="normal", norm="batch", groups=GROUPS,
                 affine=True, dims=DIMS):
        super().__init__()
        conv = _conv(dims)
        stride = 2 if role == "down" else 1
        pad = (kernel - 1) // 2
        self.pre = _pre_upsample(role)
        self.op = nn.Sequential(
            nn.ReLU(),
            conv(channels, channels, kernel, stride=stride, padding=pad, groups=channels,
                 bias=False),
            conv(channels, channels, 1, bias=False),
            _norm(dims, norm, channels, groups, affine),
            nn.ReLU(),
            conv(channels, channels, kernel, padding=pad, groups=channels, bias=False),
            conv(channels, channels, 1, bias=False),
            _norm(dims, norm, channels, groups, affine),
        )

    def forward(self, x):
        return self.op(self.pre(x))


class DartsDilConv(nn.Module):
    """DilConv: ReLU -> depthwise dilated (2) -> 1x1 -> norm."""

    def __init__(self, channels, kernel, role="normal", norm="batch", groups=GROUPS,
                 affine=True, dims=DIMS):
        super().__init__()
        conv = _conv(dims)
        stride = 2 if role == "down" else 1
        self.pre = _pre_upsample(role)
        self.op = nn.Sequential(
            nn.ReLU(),
            conv(channels, channels, kernel, stride=stride, padding=kernel - 1, dilation=2,
                 groups=channels, bias=False),
            conv(channels, channels, 1, bias=False),
            _norm(dims, norm, channels, groups, affine),
        )

    def forward(self, x):
        return self.op(self.pre(x))


class DartsPool(nn.Module):
    """3x3 max / avg pool, stride 2 on down edges; no norm (as DARTS's standalone op)."""

    def __init__(self, kind, role="normal", dims=DIMS):
        super().__init__()
        self.pre = _pre_upsample(role)
        self.pool = Pool(kind, 3, 2 if role == "down" else 1, 1, dims=dims)

    def forward(self, x):
        return self.pool(self.pre(x))


class FactorizedReduce(nn.Module):
    """ReLU -> two 1x1 stride-2 convs (the second on x shifted by one per axis) -> norm."""

    def __init__(self, channels, norm="batch", groups=GROUPS, affine=True, dims=DIMS):
        super().__init__()
        conv = _conv(dims)
        self.shift = _spatial_slice(dims, 1, 1)
        self.relu = nn.ReLU()
        self.conv_1 = conv(channels, channels // 2, 1, stride=2, bias=False)
        self.conv_2 = conv(channels, channels // 2, 1, stride=2, bias=False)
        self.norm = _norm(dims, norm, channels, groups, affine)

    def forward(self, x):
        x = self.relu(x)
        # the second conv sees the odd positions: the input shifted by one on every axis
        return self.norm(torch.cat([self.conv_1(x), self.conv_2(x[self.shift])], dim=1))


class DartsReLUConvBN(nn.Module):
    """ReLUConvBN: ReLU -> conv (no bias) -> norm; DARTS's cell preprocessing."""

    def __init__(self, in_channels, out_channels, kernel=1, stride=1, padding=0, norm="batch",
                 groups=GROUPS, affine=True, dims=DIMS):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(),
            _conv(dims)(in_channels, out_channels, kernel, stride=stride, padding=padding,
                        bias=False),
            _norm(dims, norm, out_channels, groups, affine),
        )

    def forward(self, x):
        return self.op(x)


class DartsFactorizedReduce(nn.Module):
    """FactorizedReduce C_in -> C_out: ReLU, two 1x1 stride-2 convs (the second on x
    shifted by one per axis), concat, norm. State-dict keys as DARTS's (conv_1, conv_2, bn)."""

    def __init__(self, in_channels, out_channels, norm="batch", groups=GROUPS, affine=True,
                 dims=DIMS):
        super().__init__()
        conv = _conv(dims)
        self.shift = _spatial_slice(dims, 1, 1)
        self.relu = nn.ReLU()
        self.conv_1 = conv(in_channels, out_channels // 2, 1, stride=2, bias=False)
        self.conv_2 = conv(in_channels, out_channels // 2, 1, stride=2, bias=False)
        self.bn = _norm(dims, norm, out_channels, groups, affine)

    def forward(self, x):
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[self.shift])], dim=1))


class DartsSkip(nn.Module):
    """skip_connect: identity (normal), FactorizedReduce (down), nearest x2 (up)."""

    def __init__(self, channels, role="normal", norm="batch", groups=GROUPS, affine=True,
                 dims=DIMS):
        super().__init__()
        if role == "down":
            self.op = FactorizedReduce(channels, norm, groups, affine, dims=dims)
        else:
            self.op = _pre_upsample(role)

    def forward(self, x):
        return self.op(x)
