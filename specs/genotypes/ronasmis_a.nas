# A genotype of the RONASMIS space (an example derivation with anisotropic pooling:
# stages 3-4 keep the through-plane axis). The paper publishes no genotype.
genotype RonasmisA of "../ronasmis.nas" {
  patch_hw = 128
  patch_d = 32
  act_kind = leaky_relu
  pool_kind = max
  stride_hw[2] = 2
  stride_d[2] = 1
  stride_hw[3] = 2
  stride_d[3] = 1
  dilation[1] = 1
  dilation[2] = 2
  dilation[3] = 3
  zero[0] = false
  zero[1] = false
  zero[2] = true
  zero[3] = false
  zero[4] = false
  skip[3] = [enc[3]]
  zero_dec[3] = false
  skip[2] = []
  zero_dec[2] = true
  skip[1] = [enc[1]]
  zero_dec[1] = false
  skip[0] = [enc[0]]
  zero_dec[0] = false
}
