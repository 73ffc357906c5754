# expect: E0430
# args: -D base=4000000000
arch OverrideSizeBomb {
  param dims = 2
  param base = 8
  input x(channels=1, size=32)
  h = conv(x, base, 3)
  output y = conv(h, base, 3)
}
