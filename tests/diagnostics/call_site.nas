space CallSite {
  param dims = 2
  input x(channels=1, size=32)
  op block(h, width) {
    return norm(conv(h, width, 3), group, 3)  # E: error[E0300]: group norm of 8 channels into 3 groups
  }
  enc[0] = x
  for i in 1..4 {
    enc[i] = block(enc[i - 1], 2 * i + 4)
  }
  output y = conv(enc[3], 2, 1)
}
