space Broken {
  param dims = 2
  param C 32  # E: error[E0003]: unexpected number `32` # E: expected `=`
  input x(channels=1)
  let y = conv(x, C, 3))  # E: error[E0003]: unexpected `)`
  output z = y
}
