package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Problem is one bad setting: the key, the value as given (secrets masked) and why it
// was refused. A ValidationError carries every Problem found, so one run shows them all.
type Problem struct {
	// Key is the configuration key, e.g. kete.routes.ws.destination.pool.max-total; for a
	// KETE_ variable that names no key, the variable's name.
	Key string
	// Env is the variable the value came from (a KETE_ one, or a dotted one named like the
	// key); blank when it came from the file.
	Env string
	// Value is the value as written, before ${env:}/${file:} are resolved, redacted by
	// redact.Value: secrets (passwords, client secrets, key material, Authorization-like
	// headers) read ****, and a URL's password and secret query values are masked.
	Value string
	// Reason says what was wanted.
	Reason string
}

// String renders the problem on one line: key (from VAR) = "value": reason.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Key)
	if p.Env != "" && p.Env != p.Key {
		b.WriteString(" (from " + p.Env + ")")
	} else if p.Env != "" {
		b.WriteString(" (from the environment)")
	}
	if p.Value != "" {
		b.WriteString(" = " + strconv.Quote(p.Value))
	}
	b.WriteString(": " + p.Reason)
	return b.String()
}

// ValidationError is what Load and Parse return when settings are wrong: all of them.
type ValidationError struct {
	Problems []Problem
}

// Error lists one problem per line.
func (e *ValidationError) Error() string {
	var b strings.Builder
	if len(e.Problems) == 1 {
		b.WriteString("invalid configuration: 1 problem")
	} else {
		fmt.Fprintf(&b, "invalid configuration: %d problems", len(e.Problems))
	}
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}

// closest returns the candidate nearest to s by edit distance (a swap of two neighbours
// counts as one edit), or "" when none is near enough to be a likely typo.
func closest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := max(2, len(s)/4)
	if bestD < 0 || bestD > limit {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
