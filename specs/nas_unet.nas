# NAS-Unet (Weng et al. 2019) as the authors' code (tianbaochou/NasUnet), PROMISE12 defaults:
# C=32, depth 5, 1 input channel, 2 classes. Up edges: see docs/LANGUAGE.md (`up`).
space NasUnet {
  param dims = 2
  param in_channels = 1
  param classes = 2
  param C = 32
  param depth = 5
  param M = 3
  param patch = 256
  param up = exact  # exact: up edges give 2H; authors: 2H-1, nodes resize (their code)

  input x(channels=in_channels, size=patch)

  # Edge op sets, in the authors' alpha-column order; labels are what genotypes use.
  opset normal_ops = [identity, none, cweight, dil_conv, dep_conv, shuffle_conv,
                      conv = conv_gn_relu]
  opset down_ops = [avg_pool, max_pool, down_cweight, down_dil_conv, down_dep_conv,
                    down_conv]
  opset up_ops = [up_cweight(fit=up), up_dep_conv(fit=up), up_conv(fit=up),
                  up_dil_conv(fit=up)]

  # Cell input preprocessing: ReLU -> 1x1 conv -> GroupNorm (C/16 groups, or 1).
  op preprocess(x, width, stride=1) {
    return norm(conv(act(x, relu), width, 1, stride), group)
  }

  # s0 is at twice s1's resolution: its preprocess strides, then both edges go down.
  cell DownSC(s0, s1) {
    p0 = preprocess(s0, C, 2)
    p1 = preprocess(s1, C)
    nodes n[M] keep 2, fit=up {
      from p0: down_ops
      from p1: down_ops
      from nodes: normal_ops
    }
    return concat(n)
  }

  # s0 is the encoder skip at the output resolution (a normal edge); s1 goes up.
  cell UpSC(s0, s1) {
    p0 = preprocess(s0, C)
    p1 = preprocess(s1, C)
    nodes n[M] keep 2, fit=up {
      from p0: normal_ops
      from p1: up_ops
      from nodes: normal_ops
    }
    return concat(n)
  }

  enc[0] = norm(conv(x, 4 * C, 1), group)
  enc[1] = norm(conv(x, 4 * C, 3, 2), group)
  for i in 0..depth {
    enc[i + 2] = DownSC(enc[i], enc[i + 1])
  }
  dec[0] = UpSC(enc[depth], enc[depth + 1])
  for i in 1..depth + 1 {
    dec[i] = UpSC(enc[depth - i], dec[i - 1])
  }
  output y = conv(dec[depth], classes, 1)

  # The authors search first-order DARTS at C=16, depth 4 (-D C=16 -D depth=4). This block
  # configures darts only: another engine (--engine) starts from its own defaults, or from
  # a `search` block of its own (docs/ENGINES.md).
  search {
    engine = darts
    epochs = 300
    warmup_epochs = 10
    patience = 40
    arch_lr = 0.0003
    arch_weight_decay = 0.005
    weight_lr = 0.025
    batch_size = 6
  }
}
