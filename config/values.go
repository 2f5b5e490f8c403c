package config

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The value parsers below are what every key's setter is made of; each error says what
// was wanted, and the caller adds the key and the value.

func boolVar(p *bool) func(string, string) error {
	return func(_, v string) error {
		switch strings.ToLower(v) {
		case "true":
			*p = true
		case "false":
			*p = false
		default:
			return errors.New("want true or false")
		}
		return nil
	}
}

func stringVar(p *string) func(string, string) error {
	return func(_, v string) error { *p = v; return nil }
}

func intVar(p *int, min, max int) func(string, string) error {
	return func(_, v string) error {
		n, err := parseInt(v, min, max)
		if err != nil {
			return err
		}
		*p = n
		return nil
	}
}

func parseInt(v string, min, max int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errors.New("want a whole number")
	}
	if n < min || n > max {
		if max >= math.MaxInt32 {
			return 0, fmt.Errorf("want %d or more", min)
		}
		return 0, fmt.Errorf("want %d to %d", min, max)
	}
	return n, nil
}

// secondsVar reads KETE's *-seconds keys: a whole number of seconds, at least min.
func secondsVar(p *time.Duration, min int) func(string, string) error {
	return func(_, v string) error {
		n, err := parseInt(v, min, math.MaxInt32)
		if err != nil {
			return fmt.Errorf("%w (seconds)", err)
		}
		*p = time.Duration(n) * time.Second
		return nil
	}
}

func durationVar(p *time.Duration) func(string, string) error {
	return func(_, v string) error {
		d, err := parseDuration(v)
		if err != nil {
			return err
		}
		*p = d
		return nil
	}
}

// parseDuration reads a Go duration ("500ms", "1m30s"), plain milliseconds ("500", as
// Resilience4j reads a number) or an ISO-8601 duration ("PT2S", as KETE's docs write
// them). Negative durations are refused.
func parseDuration(v string) (time.Duration, error) {
	const want = `want a duration such as 500ms, 2s, PT2S, or plain milliseconds`
	var d time.Duration
	switch {
	case isDigits(v):
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n > math.MaxInt64/int64(time.Millisecond) {
			return 0, errors.New(want)
		}
		d = time.Duration(n) * time.Millisecond
	case strings.HasPrefix(strings.ToUpper(v), "PT"):
		var err error
		if d, err = parseISODuration(v); err != nil {
			return 0, errors.New(want)
		}
	default:
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, errors.New(want)
		}
	}
	if d < 0 {
		return 0, errors.New("want a duration of 0 or more")
	}
	return d, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// parseISODuration reads the time part of ISO-8601 (PT1H2M3.5S), which is what Java's
// Duration.toString writes.
func parseISODuration(v string) (time.Duration, error) {
	rest := strings.ToUpper(v)[2:]
	if rest == "" {
		return 0, errors.New("empty")
	}
	var total float64
	for rest != "" {
		i := strings.IndexAny(rest, "HMS")
		if i <= 0 {
			return 0, errors.New("bad ISO-8601 duration")
		}
		n, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil {
			return 0, err
		}
		switch rest[i] {
		case 'H':
			total += n * float64(time.Hour)
		case 'M':
			total += n * float64(time.Minute)
		case 'S':
			total += n * float64(time.Second)
		}
		rest = rest[i+1:]
	}
	if total > math.MaxInt64 {
		return 0, errors.New("too long")
	}
	return time.Duration(total), nil
}

// enumVar accepts one of allowed in any case and stores it in lower case.
func enumVar(p *string, allowed ...string) func(string, string) error {
	return func(_, v string) error {
		for _, a := range allowed {
			if strings.EqualFold(v, a) {
				*p = a
				return nil
			}
		}
		return fmt.Errorf("want one of %s", strings.Join(allowed, ", "))
	}
}

// listVar reads a comma-separated list, trimming items and dropping empty ones.
func listVar(p *[]string) func(string, string) error {
	return func(_, v string) error { *p = splitList(v); return nil }
}

func splitList(v string) []string {
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// urlVar accepts an absolute URL with one of the schemes and stores it without a
// trailing slash.
func urlVar(p *string, schemes ...string) func(string, string) error {
	return func(_, v string) error {
		if err := checkURL(v, schemes...); err != nil {
			return err
		}
		*p = strings.TrimRight(v, "/")
		return nil
	}
}

func checkURL(v string, schemes ...string) error {
	u, err := url.Parse(v)
	if err != nil {
		return fmt.Errorf("not a URL: %w", errors.Unwrap(err))
	}
	for _, s := range schemes {
		if strings.EqualFold(u.Scheme, s) {
			if u.Host == "" {
				return errors.New("the URL has no host")
			}
			return nil
		}
	}
	return fmt.Errorf("want a %s:// URL", strings.Join(schemes, ":// or "))
}

// bytesVar reads a size: plain bytes, or a number with KB, MB, GB (powers of 1000) or
// KiB, MiB, GiB (powers of 1024).
func bytesVar(p *int64) func(string, string) error {
	return func(_, v string) error {
		n, err := parseBytes(v)
		if err != nil {
			return err
		}
		*p = n
		return nil
	}
}

func parseBytes(v string) (int64, error) {
	const want = "want a size such as 1073741824, 512MiB or 2GB, more than 0"
	s := strings.TrimSpace(v)
	i := len(s)
	for i > 0 && (s[i-1] < '0' || s[i-1] > '9') {
		i--
	}
	num, unit := strings.TrimSpace(s[:i]), strings.ToUpper(strings.TrimSpace(s[i:]))
	mult := map[string]int64{"": 1, "B": 1,
		"KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
		"KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40}[unit]
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || mult == 0 || n <= 0 || n > math.MaxInt64/mult {
		return 0, errors.New(want)
	}
	return n * mult, nil
}
