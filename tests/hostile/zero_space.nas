# expect: E0401
genotype Zero of "/dev/zero" {
}
