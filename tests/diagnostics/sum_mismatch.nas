space SumMismatch {
  param dims = 3
  input x(channels=1, size=32)
  a = conv(x, 8, 3)
  b = conv(x, 16, 3)
  c = a + b  # E: error[E0303] # E: channel
  d = pool(a, max)
  e = a + d  # E: error[E0302] # E: stride
  output y = c
}
