# expect: E0202
space PowerBomb {
  param dims = 2
  let a = 9 ** 9 ** 9
}
