# A planted-signal space for the engine tests (tests/test_planted.py): the label is
# `image > 0` voxel by voxel, so the network that passes the signal through unchanged
# (`identity` on the edge from `signal`) is the only perfect one. The other candidates
# lose information: `none` drops it, the 3x3 pools blur or dilate it, and `blurred`
# is the image averaged over 8x8 blocks (its correlation with a voxel is about 1/8).
space Planted {
  param dims = 2
  param C = 4
  param patch = 16

  input x(channels=1, size=patch)

  opset ops = [identity, none, avg_pool_3x3, max_pool_3x3]

  cell Pick(s0, s1) {
    nodes n[1] keep 1 {
      from s0: ops
      from s1: ops
    }
    return concat(n)
  }

  signal = conv(x, C, 1)
  blurred = conv(upsample(pool(x, avg, 8, 8), 8), C, 1)
  h = Pick(signal, blurred)
  output y = conv(h, 2, 1, bias=true)
}
