# expect: out of range (values in specs stay below 2**53)
# args: -D base=99999999999999999999
arch OverrideBomb {
  param dims = 2
  param base = 8
  input x(channels=1, size=32)
  output y = conv(x, base, 3)
}
