# expect: error[E0238]
# work: a doubly recursive op, 2**40 calls, stopped by the elaboration work limit
space WorkRecursion {
  param dims = 2
  input x(channels=1, size=32)
  op f(x, n) {
    if n == 0 { return x }
    return f(x, n - 1) + f(x, n - 1)
  }
  output y = f(x, 40)
}
