# expect: E0401
genotype Shadow of "../../../../../../../../etc/shadow" {
}
