genotype Bad of "space_small.nas" {  # E: error[E0413]: choice `k` is not decided
  act_kind = gelu  # E: error[E0412]: `gelu` is not a value of choice `act_kind`
  Cell.n[0] = sep_conv_3x3(p0)
  Cell.n[1] = dil_conv_5x5(n[0])  # E: error[E0412]: `dil_conv_5x5` is not an op of the edge from `n[0]` # E: did you mean `dil_conv_3x3`?
  Cell.n[2] = identity(p0)  # E: error[E0411]: unknown decision `Cell.n[2]` # E: did you mean `Cell.n[1]`?
  actkind = relu  # E: error[E0411]: unknown decision `actkind` # E: did you mean `act_kind`?
}
