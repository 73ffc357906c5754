# expect: E0401
genotype Environ of "/proc/self/environ" {
}
