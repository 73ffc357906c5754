# NAS_UNET_V2: the default genotype the NAS-Unet authors ship (models/geno_searched.py),
# searched on PASCAL VOC. Node n[0] is the authors' node 2, p0/p1 their s0/s1.
genotype NasUnetV2 of "../nas_unet.nas" {
  DownSC.n[0] = down_conv(p1) + down_dep_conv(p0)
  DownSC.n[1] = down_cweight(p1) + down_dil_conv(p0)
  DownSC.n[2] = down_dil_conv(p1) + down_conv(p0)
  UpSC.n[0] = identity(p0) + up_cweight(p1)
  UpSC.n[1] = identity(n[0]) + up_cweight(p1)
  UpSC.n[2] = cweight(n[1]) + up_conv(p1)
}
