# expect: E0430
# A width of 2**52: every layer is absurd; refused by the model-size limit.
space WidthBomb {
  param dims = 2
  input x(channels=1, size=32)
  output y = conv(x, 4503599627370496, 3)
}
