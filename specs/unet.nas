# U-Net (Ronneberger et al. 2015) as configured in the UNet++ paper's comparison:
# filters 32-64-128-256-512, two 3x3 convs with bias per block (no normalisation),
# 2x2 max pooling, 2x2 transposed-conv upsampling, 1x1 head. At in_channels=1,
# classes=1 it has 7,759,521 parameters (the paper reports 7.76M).
# The same spec builds the 3D network: `nasdsl check specs/unet.nas -D dims=3`.
arch UNet {
  param dims = 2
  param in_channels = 1
  param classes = 1
  param base = 32
  param depth = 4
  param patch = 256

  input x(channels=in_channels, size=patch)

  op block(x, width) {
    let h = act(conv(x, width, 3, bias=true), relu)
    return act(conv(h, width, 3, bias=true), relu)
  }

  enc[0] = block(x, base)
  for i in 1..depth + 1 {
    enc[i] = block(pool(enc[i - 1], max), base * 2 ** i)
  }
  h = enc[depth]
  for j in 0..depth {
    let i = depth - 1 - j
    up[i] = conv_transpose(h, base * 2 ** i, bias=true)
    dec[i] = block(concat(enc[i], up[i]), base * 2 ** i)
    h = dec[i]
  }
  output y = conv(h, classes, 1, bias=true)
}
