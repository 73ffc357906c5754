# expect: E0220
space ListBomb {
  param dims = 2
  let xs = [i for i in 0..10000000000000]
}
