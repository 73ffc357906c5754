# Not a test case: the space the genotype cases below refer to.
space Small {
  param dims = 2
  param C = 16
  input x(channels=1, size=64)
  opset ops = [identity, none, sep_conv_3x3, dil_conv_3x3]
  choice act_kind in [relu, elu]
  choice k in [3, 5]
  cell Cell(s0) {
    p0 = conv(s0, C, 1)
    nodes n[2] keep 1 {
      from p0: ops
      from nodes: ops
    }
    return sum(n)
  }
  h = act(conv(x, C, k), act_kind)
  c = Cell(h)
  output y = conv(c, 2, 1)
}
