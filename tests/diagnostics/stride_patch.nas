arch StridePatch {
  param dims = 2
  input x(channels=1, size=(100, 96))
  h = x
  for i in 0..3 {
    h = pool(h, max)  # E: error[E0301]: the patch size 100 on axis 0 is not a multiple of the network's total stride 8 # E: 96 or 104
  }
  output y = h
}
