arch GroupNorm {
  param dims = 2
  input x(channels=1, size=64)
  h = norm(conv(x, 24, 3), group, 16)  # E: error[E0300] # E: 24
  output y = h
}
