space ConcatMismatch {
  param dims = 2
  input x(channels=1, size=64)
  a = conv(x, 8, 3)
  b = pool(a, max)
  c = concat(a, b)  # E: error[E0302] # E: differ
  output y = c
}
