# RONASMIS (Bae et al. 2019): macro search on a U-Net-like 3D base, trained once with an
# ENAS controller and shared weights, and deployed without retraining.
# Searched: patch size, pooling strides of stages 3-4 per axis (anisotropy), dilation of
# stages 2-4, activation, pooling type, skip points, and zero ops that drop a stage's
# residual conv. Fixed: instance norm, sums (not concatenation) for skips after a 1x1x1
# channel-matching conv, deep supervision (coarse heads resized and summed).
space RONASMIS {
  param dims = 3
  param in_channels = 1
  param classes = 2
  param base = 16

  # Patch candidates floor(max / 16) * 16 - 16 * {0..4} (paper Eq. 1-2; 16 = the largest
  # total stride), from the median image size: `nasdsl data inspect DIR` prints the -D
  # values of these four params for a dataset. Through-plane choices (patch_d, stride_d)
  # are declared in 2D too, where they have no effect, so one genotype compiles in 2D and 3D.
  param patch_hw_max = 160
  param patch_hw_n = 5
  param patch_d_max = 48
  param patch_d_n = 3
  choice patch_hw in [patch_hw_max - 16 * k for k in 0..patch_hw_n]
  choice patch_d in [patch_d_max - 16 * k for k in 0..patch_d_n]
  if dims == 3 {
    input x(channels=in_channels, size=(patch_hw, patch_hw, patch_d))
  } else {
    input x(channels=in_channels, size=(patch_hw, patch_hw))
  }

  choice act_kind in [relu, leaky_relu, elu]
  choice pool_kind in [max, avg]

  op cna(x, width, kernel, dilation) {
    return act(norm(conv(x, width, kernel, dilation=dilation), instance), act_kind)
  }

  # A stage: conv, then a residual dilated conv unless the zero op replaces it.
  op stage(x, width, dilation, zero) {
    let h = cna(x, width, 3, 1)
    if zero {
      return h
    }
    return h + cna(h, width, 3, dilation)
  }

  # Pooling strides: stages 1-2 halve every axis; stages 3-4 choose per axis.
  stride[0] = 2
  stride[1] = 2
  dilation[0] = 1
  for i in 2..4 {
    choice stride_hw[i] in [2, 1]
    choice stride_d[i] in [2, 1]
    if dims == 3 {
      stride[i] = (stride_hw[i], stride_hw[i], stride_d[i])
    } else {
      stride[i] = stride_hw[i]
    }
  }
  for i in 1..4 {
    choice dilation[i] in [1, 2, 3]
  }

  # Encoder: four stages, each followed by pooling; then the bottom stage.
  h = x
  for i in 0..4 {
    choice zero[i] in [false, true]
    enc[i] = stage(h, base * 2 ** i, dilation[i], zero[i])
    h = pool(enc[i], pool_kind, stride[i], stride[i])
  }
  choice zero[4] in [false, true]
  bottom = stage(h, base * 16, 1, zero[4])

  # Decoder: transposed conv by the stage's stride, skip point summed after a 1x1x1
  # channel-matching conv (when the skip is kept), then a stage.
  h = bottom
  for j in 0..4 {
    let i = 3 - j
    let width = base * 2 ** i
    choice skip[i] from [enc[i]] keep 0..1
    let matched = [conv(skip[i][k], width, 1) for k in 0..len(skip[i])]
    choice zero_dec[i] in [false, true]
    up[i] = conv_transpose(h, width, stride[i], stride[i])
    dec[i] = stage(sum(up[i], matched), width, dilation[i], zero_dec[i])
    h = dec[i]
  }

  # Deep supervision: heads on the three finest decoder stages, resized and summed.
  head[0] = conv(dec[0], classes, 1, bias=true)
  for i in 1..3 {
    head[i] = resize_to(conv(dec[i], classes, 1, bias=true), x)
  }
  output y = sum(head[0], head[1], head[2])

  search {
    engine = enas
    # RONASMIS samples 20 children per episode but does not say how many controller
    # updates they feed; one update per episode barely moves the controller (issue 14),
    # so the ENAS schedule: 50 updates of 20 children per episode
    children_per_episode = 20
    controller_steps = 50
    child_epochs = 3
    controller_lr = 0.001
    entropy_weight = 0.0001
    weight_decay = 0.0001
    lstm_size = 100
    lstm_layers = 2
    baseline_decay = 0.95
    temperature = 5.0
    tanh_constant = 2.5
  }
}
