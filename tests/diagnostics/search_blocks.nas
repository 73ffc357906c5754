space SearchBlocks {
  param dims = 2
  input x(channels=1, size=32)
  output y = conv(x, 2, 1)
  search {
    engine = darts
    epochs = 4
    warmup_epochs = 4  # E: error[E0428]: no architecture step would run
  }
  search {
    engine = enas
    weight_momentum = 0.9  # E: error[E0428]: search setting `weight_momentum` has no effect for `enas`
    retrain = false  # E: error[E0424]: search setting `retrain` removed
  }
  search {  # E: error[E0427]: a second `search` block for `darts`
    engine = darts
  }
  search {  # E: error[E0426]: a `search` block configures the engine it names
    epochs = 3
  }
}
