arch StridePatch {
  param dims = 2
  input x(channels=1, size=(100, 96))
  h = x
  for i in 0..3 {
    h = pool(h, max)  # E: error[E0301]: stride 8 on axis 0 does not divide the patch size 100
  }
  output y = h
}
