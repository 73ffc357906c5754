genotype Lost of "no_such_space.nas" {  # E: error[E0401]: space file `no_such_space.nas` not found
  a = 1
}
