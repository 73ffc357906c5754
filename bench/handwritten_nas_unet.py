"""NAS-Unet with the NAS_UNET_V2 genotype, written by hand in plain PyTorch.

This is the baseline the emitted module (`nasdsl compile specs/genotypes/nas_unet_v2.nas
--target torch`) is benchmarked against. It is written the way an engineer would write
the network from the authors' description (tianbaochou/NasUnet, `util/prim_ops_set.py`,
`models/nas_unet.py`; notes in ../shared/reference/seed-algorithms.md section 1), not
generated from the spec, so that the parameter-count and speed comparisons are
independent checks of the compiler.

Configuration (PROMISE12): C=32, depth 5, M=3 nodes per cell, 1 input channel, 2 classes.
`dims` selects 2D or 3D layers.

Deliberate deviation from the authors' code, shared with nasdsl (docs/LANGUAGE.md): the
transposed convolutions use output_padding=1, so an up edge gives exactly 2H and no
nearest resize is needed before a node's sum (the authors get 2H-1 and resize).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["NasUnetV2", "gn_groups"]


def gn_groups(channels: int) -> int:
    """NAS-Unet's GroupNorm rule: groups of 16 channels when 16 divides C, else 1 group."""
    return channels // 16 if channels % 16 == 0 else 1


def _conv(dims: int) -> type[nn.Module]:
    return {2: nn.Conv2d, 3: nn.Conv3d}[dims]


def _conv_t(dims: int) -> type[nn.Module]:
    return {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}[dims]


# --------------------------------------------------------------------------- ops


class ConvGnReLU(nn.Sequential):
    """3x3 conv (no bias) -> GroupNorm -> ReLU; stride 2 for the down ops.

    dilation=2 gives dil_conv (a full dilated conv, padding 2); depthwise=True gives
    dep_conv (depthwise 3x3, then pointwise 1x1, then GN and ReLU).
    """

    def __init__(self, c: int, stride: int = 1, dilation: int = 1, depthwise: bool = False,
                 dims: int = 2):
        Conv = _conv(dims)
        if depthwise:
            layers = [Conv(c, c, 3, stride, padding=dilation, dilation=dilation, groups=c,
                           bias=False),
                      Conv(c, c, 1, bias=False)]
        else:
            layers = [Conv(c, c, 3, stride, padding=dilation, dilation=dilation, bias=False)]
        super().__init__(*layers, nn.GroupNorm(gn_groups(c), c), nn.ReLU(inplace=True))


class UpConvGnReLU(nn.Sequential):
    """up_conv: ConvTranspose k3 s2 p1, output_padding 1 (exactly 2H) -> GN -> ReLU."""

    def __init__(self, c: int, dims: int = 2):
        super().__init__(
            _conv_t(dims)(c, c, 3, stride=2, padding=1, output_padding=1, bias=False),
            nn.GroupNorm(gn_groups(c), c),
            nn.ReLU(inplace=True),
        )


class ChannelGate(nn.Module):
    """Squeeze-and-excitation gate: GAP -> Linear(C, C//16) -> ReLU -> Linear -> sigmoid."""

    def __init__(self, c: int, reduction: int = 16):
        super().__init__()
        hidden = c // reduction
        self.fc = nn.Sequential(nn.Linear(c, hidden), nn.ReLU(inplace=True),
                                nn.Linear(hidden, c), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spatial = tuple(range(2, x.dim()))
        gate = self.fc(x.mean(dim=spatial))
        return x * gate.view(*gate.shape, *([1] * len(spatial)))


class CWeight(ChannelGate):
    """cweight: the gate alone, x * gate (no conv, norm or activation)."""


class DownCWeight(nn.Module):
    """down_cweight: gate, then 3x3 stride-2 conv, then GN (no ReLU)."""

    def __init__(self, c: int, dims: int = 2):
        super().__init__()
        self.gate = ChannelGate(c)
        self.conv = _conv(dims)(c, c, 3, stride=2, padding=1, bias=False)
        self.norm = nn.GroupNorm(gn_groups(c), c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(self.gate(x)))


class UpCWeight(nn.Module):
    """up_cweight: gate, then ConvTranspose k3 s2 p1 (output_padding 1), then GN."""

    def __init__(self, c: int, dims: int = 2):
        super().__init__()
        self.gate = ChannelGate(c)
        self.conv = _conv_t(dims)(c, c, 3, stride=2, padding=1, output_padding=1, bias=False)
        self.norm = nn.GroupNorm(gn_groups(c), c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(self.gate(x)))


class Preprocess(nn.Sequential):
    """Cell input: ReLU -> 1x1 conv (no bias) -> GN, to C channels."""

    def __init__(self, c_in: int, c: int, stride: int = 1, dims: int = 2):
        # not in place: the input is also kept in the encoder list
        super().__init__(nn.ReLU(), _conv(dims)(c_in, c, 1, stride, bias=False),
                         nn.GroupNorm(gn_groups(c), c))


class Stem(nn.Sequential):
    """conv (no bias) -> GN, no activation."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, dims: int = 2):
        super().__init__(_conv(dims)(c_in, c_out, kernel, stride, padding=kernel // 2,
                                     bias=False),
                         nn.GroupNorm(gn_groups(c_out), c_out))


# --------------------------------------------------------------------------- cells


class DownSC(nn.Module):
    """NAS_UNET_V2 down cell; s0 is at twice s1's resolution, output at half of s1's.

    n0 = down_conv(s1) + down_dep_conv(s0)
    n1 = down_cweight(s1) + down_dil_conv(s0)
    n2 = down_dil_conv(s1) + down_conv(s0)
    """

    def __init__(self, c_prev_prev: int, c_prev: int, c: int, dims: int = 2):
        super().__init__()
        self.pre0 = Preprocess(c_prev_prev, c, stride=2, dims=dims)
        self.pre1 = Preprocess(c_prev, c, dims=dims)
        self.n0_s1 = ConvGnReLU(c, stride=2, dims=dims)
        self.n0_s0 = ConvGnReLU(c, stride=2, depthwise=True, dims=dims)
        self.n1_s1 = DownCWeight(c, dims=dims)
        self.n1_s0 = ConvGnReLU(c, stride=2, dilation=2, dims=dims)
        self.n2_s1 = ConvGnReLU(c, stride=2, dilation=2, dims=dims)
        self.n2_s0 = ConvGnReLU(c, stride=2, dims=dims)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        s0, s1 = self.pre0(s0), self.pre1(s1)
        n0 = self.n0_s1(s1) + self.n0_s0(s0)
        n1 = self.n1_s1(s1) + self.n1_s0(s0)
        n2 = self.n2_s1(s1) + self.n2_s0(s0)
        return torch.cat([n0, n1, n2], dim=1)


class UpSC(nn.Module):
    """NAS_UNET_V2 up cell; s0 is the encoder skip at the output resolution.

    n0 = identity(s0) + up_cweight(s1)
    n1 = identity(n0) + up_cweight(s1)
    n2 = cweight(n1) + up_conv(s1)
    """

    def __init__(self, c_prev_prev: int, c_prev: int, c: int, dims: int = 2):
        super().__init__()
        self.pre0 = Preprocess(c_prev_prev, c, dims=dims)
        self.pre1 = Preprocess(c_prev, c, dims=dims)
        self.n0_s1 = UpCWeight(c, dims=dims)
        self.n1_s1 = UpCWeight(c, dims=dims)
        self.n2_n1 = CWeight(c)
        self.n2_s1 = UpConvGnReLU(c, dims=dims)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        s0, s1 = self.pre0(s0), self.pre1(s1)
        n0 = s0 + self.n0_s1(s1)
        n1 = n0 + self.n1_s1(s1)
        n2 = self.n2_n1(n1) + self.n2_s1(s1)
        return torch.cat([n0, n1, n2], dim=1)


# --------------------------------------------------------------------------- network


class NasUnetV2(nn.Module):
    """Stems (4C at H and H/2), `depth` DownSCs, `depth + 1` UpSCs, 1x1 head (no bias)."""

    def __init__(self, in_channels: int = 1, classes: int = 2, c: int = 32, depth: int = 5,
                 dims: int = 2):
        super().__init__()
        multiplier = 3  # M nodes per cell, all concatenated
        stem = 4 * c
        self.stem0 = Stem(in_channels, stem, 1, 1, dims)
        self.stem1 = Stem(in_channels, stem, 3, 2, dims)

        enc_channels = [stem, stem]
        self.down = nn.ModuleList()
        for _ in range(depth):
            self.down.append(DownSC(enc_channels[-2], enc_channels[-1], c, dims))
            enc_channels.append(multiplier * c)

        self.up = nn.ModuleList()
        c_prev = enc_channels[-1]
        for i in range(depth + 1):
            self.up.append(UpSC(enc_channels[-(i + 2)], c_prev, c, dims))
            c_prev = multiplier * c

        self.head = _conv(dims)(c_prev, classes, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        enc = [self.stem0(x), self.stem1(x)]
        for cell in self.down:
            enc.append(cell(enc[-2], enc[-1]))
        h = enc[-1]
        for i, cell in enumerate(self.up):
            h = cell(enc[-(i + 2)], h)
        return self.head(h)


Model = NasUnetV2


if __name__ == "__main__":
    net = NasUnetV2()
    y = net(torch.randn(2, 1, 128, 128))
    print(f"{sum(p.numel() for p in net.parameters()):,} parameters; output {tuple(y.shape)}")
