space StructuralChoices {
  param dims = 2
  input x(channels=1)
  for i in 0..3000 {
    choice c[i] in [1, 2]  # E: error[E0238]: checking stopped after 300,000 steps # E: structural choices
    let a = c[i] + 1
  }
  output y = conv(x, 2, 1)
}
