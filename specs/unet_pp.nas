# UNet++ (Zhou et al. 2018), without deep supervision, as in its paper: nested dense
# skip pathways X[i][j] (i = resolution level, j = column). Node X[i][j] concatenates
# X[i][0..j-1] with the upsampled X[i+1][j-1]. Blocks and upsampling as in unet.nas.
# At in_channels=1, classes=1 it has 9,041,601 parameters (the paper reports 9.04M).
arch UNetPlusPlus {
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

  X[0][0] = block(x, base)
  for i in 1..depth + 1 {
    X[i][0] = block(pool(X[i - 1][0], max), base * 2 ** i)
  }
  for j in 1..depth + 1 {
    for i in 0..depth + 1 - j {
      up[i][j] = conv_transpose(X[i + 1][j - 1], base * 2 ** i, bias=true)
      X[i][j] = block(concat([X[i][k] for k in 0..j], up[i][j]), base * 2 ** i)
    }
  }
  output y = conv(X[0][depth], classes, 1, bias=true)
}
