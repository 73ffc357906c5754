# Not a test case: a space for tests/test_sema_robustness.py (its cell fails with k = 4).
space Kernel {
  param dims = 2
  param C = 16
  input x(channels=1, size=64)
  opset ops = [identity, none, sep_conv_3x3, dil_conv_3x3]
  choice k in [3, 4]
  cell Cell(s0) {
    p0 = conv(s0, C, k)
    nodes n[2] keep 1 {
      from p0: ops
      from nodes: ops
    }
    return sum(n)
  }
  c = Cell(x)
  output y = conv(c, 2, 1)
}
