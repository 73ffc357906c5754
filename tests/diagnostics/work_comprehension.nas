space Comprehension {
  param dims = 2
  let grid = [[i * j for j in 0..10000] for i in 0..10000]  # E: error[E0238] # E: the loop over `j`
  input x(channels=1)
  output y = conv(x, 2, 1)
}
