# expect: E0417
# args: -D dims=3.0
arch OverrideKind {
  param dims = 2
  input x(channels=1, size=32)
  output y = conv(x, 4, 3)
}
