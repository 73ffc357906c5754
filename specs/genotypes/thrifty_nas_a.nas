# A genotype of the Thrifty NAS space (an example derivation, not a published one: the
# authors did not release theirs).
genotype ThriftyA of "../thrifty_nas.nas" {
  DN.n[0] = sep_conv_3x3(p0) + dil_conv_3x3(p1)
  DN.n[1] = max_pool_3x3(p0) + sep_conv_3x3(n[0])
  UP.n[0] = skip_connect(p0) + sep_conv_3x3(p1)
  UP.n[1] = dil_conv_3x3(p1) + skip_connect(n[0])
}
