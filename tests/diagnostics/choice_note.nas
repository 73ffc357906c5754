space ChoiceNote {
  param dims = 2
  input x(channels=1, size=32)
  op block(h, width, groups) {
    return norm(conv(h, width, 3), group, groups)  # E: error[E0300]: group norm of 8 channels into 3 groups
  }
  for i in 0..2 {
    choice g[i] in [3, 2]
  }
  a = block(x, 8, g[1])
  output y = conv(a, 2, 1)
}
