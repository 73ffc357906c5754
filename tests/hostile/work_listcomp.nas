# expect: error[E0238]
# work: a 10000x10000 nested list, stopped by the elaboration work limit
space WorkList {
  param dims = 2
  let xs = [[i * j for i in 0..10000] for j in 0..10000]
}
