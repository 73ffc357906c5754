# A macro space of three op choices under a parameter budget: ProxylessNAS's cost
# term has something to steer (tests/test_engines.py, tests/test_engines_published.py).
space Macro {
  param dims = 2
  input x(channels=1, size=32)
  opset ops = [to = sep_conv_3x3, cuda = dil_conv_3x3, train = skip_connect, none]
  h = conv(x, 8, 3)
  for i in 0..3 {
    choice blk[i] in ops
    h = blk[i](h)
  }
  output y = conv(h, 4, 1)
  constraint params <= 700
}
