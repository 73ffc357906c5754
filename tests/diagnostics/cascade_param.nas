space CascadeParam {
  param dims = 2
  param C = 32 / 0  # E: error[E0204]: division by zero
  input x(channels=1, size=32)
  op block(h, width) {
    return act(conv(h, width, 3), relu)
  }
  a = block(x, C)
  b = block(a, 2 * C)
  output y = conv(b, 2, 1)
}
