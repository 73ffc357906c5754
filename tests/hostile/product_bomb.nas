# expect: E0202
space ProductBomb {
  param dims = 2
  let a = 3037000499 * 3037000499 * 3037000499
}
