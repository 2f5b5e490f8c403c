package main

import "os"

// environ is the environment configuration reads KETE_ overrides from.
func environ() []string { return os.Environ() }
