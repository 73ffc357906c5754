space Recursion {
  param dims = 2
  op grow(x, n) {
    if n == 0 {
      return x
    }
    return grow(x, n - 1) + grow(x, n - 1)  # E: error[E0238] # E: the calls of `grow` (recursion?) do too much work
  }
  input x(channels=1)
  output y = grow(x, 30)
}
