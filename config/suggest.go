package config

// Closest returns the candidate nearest to s by edit distance, or "" when none is near
// enough to be a likely typo: the "did you mean" of every key kete reads, for files that
// are not configuration (the server's apps file) to say it the same way.
func Closest(s string, candidates []string) string { return closest(s, candidates) }
