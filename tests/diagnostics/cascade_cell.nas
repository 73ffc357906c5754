space CascadeCell {
  param dims = 2
  param C = 16
  input x(channels=1, size=32)
  opset ops = [identity, sep_conv_3x3]
  cell Cell(s0) {
    p0 = conv(s0, C, 1)
    bad = norm(p0, group, 5)  # E: error[E0300]: group norm of 16 channels into 5 groups
    nodes n[2] keep 1 {
      from p0: ops
      from nodes: ops
    }
    return concat(n)
  }
  c = Cell(x)
  d = Cell(c)
  output y = conv(d, 2, 1)
}
