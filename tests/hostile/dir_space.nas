# expect: is a directory
genotype Dir of "." {
}
