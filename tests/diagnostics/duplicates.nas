space Duplicates {
  param dims = 2
  param C = 8
  param C = 16  # E: error[E0230]: `C` is defined twice
  input x(channels=1)
  choice k in [3, 3]  # E: error[E0225]
  output y = conv(x, 2, 1)
}
