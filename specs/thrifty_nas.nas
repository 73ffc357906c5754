# Thrifty NAS (Chen et al., AAAI-22): a UNet++-like dense grid of two-input cells at a
# constant width C, searched with PC-DARTS. X[0][j] is the down path (DN cells fed by
# the two previous levels); X[k][j] (k >= 1) is an UP cell fed by the concatenation of
# X[0..k-1][j] (same resolution) and X[k-1][j+1] (one level coarser). Every cell ends in
# a 1x1 conv back to C (the channel filter), so the width stays constant.
# The public record is the abstract only; the choices it leaves open are ours and are
# listed in docs/LANGUAGE.md (stems, DARTS op set, node count).
space ThriftyNAS {
  param dims = 2
  param in_channels = 1
  param classes = 2
  param C = 16
  param levels = 4
  param N = 2
  param patch = 256

  input x(channels=in_channels, size=patch)

  opset ops = [none, skip_connect, sep_conv_3x3, dil_conv_3x3, max_pool_3x3,
               avg_pool_3x3]

  op preprocess(x, width, stride=1) {
    return norm(conv(act(x, relu), width, 1, stride), batch)
  }

  op channel_filter(x, width) {
    return norm(conv(x, width, 1), batch)
  }

  cell DN(s0, s1) {
    p0 = preprocess(s0, C, 2)
    p1 = preprocess(s1, C)
    nodes n[N] keep 2 {
      from p0 down: ops
      from p1 down: ops
      from nodes: ops
    }
    return channel_filter(concat(n), C)
  }

  cell UP(s0, s1) {
    p0 = preprocess(s0, C)
    p1 = preprocess(s1, C)
    nodes n[N] keep 2 {
      from p0 normal: ops
      from p1 up: ops
      from nodes: ops
    }
    return channel_filter(concat(n), C)
  }

  X[0][0] = act(norm(conv(x, C, 3), batch), relu)
  X[0][1] = act(norm(conv(X[0][0], C, 3, 2), batch), relu)
  for j in 2..levels + 1 {
    X[0][j] = DN(X[0][j - 2], X[0][j - 1])
  }
  for k in 1..levels + 1 {
    for j in 0..levels + 1 - k {
      X[k][j] = UP(concat([X[m][j] for m in 0..k]), X[k - 1][j + 1])
    }
  }
  output y = conv(X[levels][0], classes, 1, bias=true)

  search {
    engine = pc_darts
    k = 4
    epochs = 50
    warmup_epochs = 15
    weight_lr = 0.1
    arch_lr = 0.0006
    arch_weight_decay = 0.001
  }
}
