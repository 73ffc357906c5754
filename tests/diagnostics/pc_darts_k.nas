space PcDartsK {
  param dims = 2
  param C = 18
  input x(channels=1, size=32)
  opset ops = [none, skip_connect, sep_conv_3x3]
  cell Cell(s0) {
    p0 = conv(s0, C, 1)
    nodes n[1] keep 1 {
      from p0 normal: ops  # E: error[E0421]: PC-DARTS samples 1/4 of the channels
    }
    return concat(n)
  }
  output y = conv(Cell(x), 2, 1)
  search {
    engine = pc_darts
    k = 4
  }
}
