arch Budget {
  param dims = 2
  input x(channels=1, size=32)
  output y = conv(x, 64, 3)
  constraint params <= 100  # E: error[E0423]: constraint does not hold for this network
}
