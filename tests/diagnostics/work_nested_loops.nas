space NestedLoops {
  param dims = 2
  for i in 0..10000 {
    for j in 0..10000 {  # E: error[E0238]: elaboration stopped after 100,000 steps # E: the loop over `j` does too much work
      let a = i * j
    }
  }
  input x(channels=1)
  output y = conv(x, 2, 1)
}
