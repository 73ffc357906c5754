space Unsafe {
  param dims = 2
  param class = 3  # E: error[E0240]: `class` cannot be used as a name: it is a Python keyword
  input x(channels=1)
  let _hidden = 1  # E: error[E0240]: `_hidden` cannot be used as a name
  list = conv(x, 8)  # E: error[E0240]: `list` cannot be used as a name: it shadows a Python builtin
  op torch(y) {  # E: error[E0240]: `torch` cannot be used as a name
    return y
  }
  output out = conv(x, 2, 1)
}
