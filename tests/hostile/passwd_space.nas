# expect: E0401
genotype Passwd of "/etc/passwd" {
}
