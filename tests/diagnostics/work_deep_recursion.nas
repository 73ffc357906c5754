space DeepRecursion {
  param dims = 2
  op deeper(x, n) {
    return deeper(act(x, relu), n + 1)  # E: error[E0234]: `deeper` calls itself too deeply
  }
  input x(channels=1)
  output y = deeper(x, 0)
}
