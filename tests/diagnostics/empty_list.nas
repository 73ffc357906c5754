space EmptyList {
  param dims = 2
  input x(channels=1, size=32)
  choice skip[0] from [x] keep 0..1
  let nothing = [x for i in 0..0]
  a = concat(conv(x, 4, 1), skip[0])
  b = concat(nothing)  # E: error[E0209]: `concat` got no tensors: `nothing` is empty here
  c = sum(nothing)  # E: error[E0207]: `sum` adds one or more tensors
  output y = conv(a, 2, 1)
}
