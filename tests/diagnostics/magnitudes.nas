space Magnitudes {
  param dims = 2
  param huge = 2 ** 60  # E: error[E0202]: number is out of range
  param big = 2 ** 50
  param product = big * big  # E: error[E0202]: number is out of range
  let doubled = [1]
  for i in 0..20 {
    doubled = doubled + doubled  # E: error[E0220]: list has 16384 items # E: lists are limited to 10000 items
  }
  let long = [i for i in 0..20000]  # E: error[E0220]: range has 20000 items
  input x(channels=1)
  output y = conv(x, int(1.5 * 2), 1)
}
