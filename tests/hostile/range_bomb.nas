# expect: E0220
space RangeBomb {
  param dims = 2
  let a = [i for i in 0..100000000]
}
