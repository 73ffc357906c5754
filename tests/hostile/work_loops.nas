# expect: error[E0238]
# work: 10**8 loop iterations, stopped by the elaboration work limit
space WorkLoops {
  param dims = 2
  for i in 0..10000 {
    for j in 0..10000 {
      let a = i * j
    }
  }
}
