//go:build !unix

package spool

// lockFile is a no-op where flock does not exist: there a replay must not run beside a
// daemon that dead-letters the same route.
func lockFile(string) (func(), error) { return func() {}, nil }

// lockDir is a no-op where flock does not exist: there two daemons must not share a
// spool directory.
func lockDir(string) (func(), error) { return func() {}, nil }
