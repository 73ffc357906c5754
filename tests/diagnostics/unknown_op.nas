space Unknown {
  param dims = 2
  input x(channels=1, size=64)
  y = dwon_conv(x)  # E: unknown name `dwon_conv` # E: did you mean `down_conv`?
  z = conv(x, 8, 3, strid=2)  # E: op `conv` has no attribute `strid` # E: did you mean `stride`?
  output w = act(conv(x, 8), rleu)  # E: unknown name `rleu` # E: did you mean `relu`?
}
