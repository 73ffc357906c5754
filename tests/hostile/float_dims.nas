# expect: E0213
space FloatDims {
  param dims = 2.0
  input x(channels=1, size=32)
  output y = conv(x, 4, 3)
}
