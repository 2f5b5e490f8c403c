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

// parsedVar sets *p to what parse reads from the value; parse's error says what is
// wanted, and *p keeps its default when there is one.
func parsedVar[T any](p *T, parse func(string) (T, error)) func(string, string) error {
	return func(_, v string) error {
		x, err := parse(v)
		if err == nil {
			*p = x
		}
		return err
	}
}

func boolVar(p *bool) func(string, string) error { return parsedVar(p, parseBool) }

// parseBool reads a boolean as KETE does, in any case: true/false, yes/no, on/off, y/n,
// t/f and 1/0. KETE reads most booleans through commons-configuration's getBoolean
// (BooleanUtils.toBooleanObject: true, yes, on, y, t and their negations) and some through
// its own ValidationUtils.tryParseBooleanLoose (true, 1, yes, y, on and their negations);
// kete takes the union so that no KETE value is refused.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "on", "y", "t", "1":
		return true, nil
	case "false", "no", "off", "n", "f", "0":
		return false, nil
	}
	return false, errors.New("want true or false (yes/no, on/off and 1/0 are read too)")
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
	return parsedVar(p, parseDuration)
}

// parseDuration reads a duration as KETE's ValidationUtils.tryParseDuration does
// (FortuneN/kete, src/main/java/io/github/fortunen/kete/utils/ValidationUtils.java;
// table in docs/user-guide/retry.md): ISO-8601 when it starts with P ("PT2S", "P1D",
// "P2DT3H4M"), a bare whole number as seconds ("15" is 15 s), or a whole number with
// one of the units ns, us, ms, s, m, h, d, w (7 days) and y (365 days). Beyond KETE, Go's
// own forms ("1m30s", "1.5s") are read too. Negative durations are refused.
func parseDuration(v string) (time.Duration, error) {
	const want = `want a duration such as 15 (seconds), 500ms, 2s, 5m, 1d, PT2S or P1D`
	v = strings.TrimSpace(v)
	lower := strings.ToLower(v)
	var d time.Duration
	switch {
	case lower == "":
		return 0, errors.New(want)
	case lower[0] == 'p':
		var err error
		if d, err = parseISODuration(v); err != nil {
			return 0, errors.New(want)
		}
	case isDigits(lower):
		n, err := strconv.ParseInt(lower, 10, 64)
		if err != nil || n > math.MaxInt64/int64(time.Second) {
			return 0, errors.New(want)
		}
		d = time.Duration(n) * time.Second
	default:
		var ok bool
		if d, ok = parseUnitDuration(lower); !ok {
			var err error
			if d, err = time.ParseDuration(lower); err != nil {
				return 0, errors.New(want)
			}
		}
	}
	if d < 0 {
		return 0, errors.New("want a duration of 0 or more")
	}
	return d, nil
}

// parseUnitDuration reads KETE's "<whole number><unit>", the number trimmed.
func parseUnitDuration(lower string) (time.Duration, bool) {
	// Longest suffixes first: "ms" before "s", as KETE tests ns, us, ms before s.
	units := []struct {
		suffix string
		unit   time.Duration
	}{
		{"ns", time.Nanosecond}, {"us", time.Microsecond}, {"ms", time.Millisecond},
		{"s", time.Second}, {"m", time.Minute}, {"h", time.Hour},
		{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}, {"y", 365 * 24 * time.Hour},
	}
	for _, u := range units {
		num, ok := strings.CutSuffix(lower, u.suffix)
		if !ok {
			continue
		}
		num = strings.TrimSpace(num)
		if !isDigits(num) {
			return 0, false
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > math.MaxInt64/int64(u.unit) {
			return 0, false
		}
		return time.Duration(n) * u.unit, true
	}
	return 0, false
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

// parseISODuration reads what Java's Duration.parse reads: PnDTnHnMn.nS, days in the
// date part and hours, minutes and (fractional) seconds in the time part, in any case.
func parseISODuration(v string) (time.Duration, error) {
	rest := strings.ToUpper(v)
	if !strings.HasPrefix(rest, "P") {
		return 0, errors.New("not ISO-8601")
	}
	rest = rest[1:]
	datePart, timePart, hasTime := strings.Cut(rest, "T")
	if datePart == "" && (!hasTime || timePart == "") {
		return 0, errors.New("empty")
	}
	var total float64
	add := func(part, units string, scale map[byte]float64) error {
		for part != "" {
			i := strings.IndexAny(part, units)
			if i <= 0 {
				return errors.New("bad ISO-8601 duration")
			}
			n, err := strconv.ParseFloat(part[:i], 64)
			if err != nil || n < 0 {
				return errors.New("bad ISO-8601 duration")
			}
			total += n * scale[part[i]]
			part = part[i+1:]
		}
		return nil
	}
	if err := add(datePart, "D", map[byte]float64{'D': float64(24 * time.Hour)}); err != nil {
		return 0, err
	}
	if err := add(timePart, "HMS", map[byte]float64{'H': float64(time.Hour), 'M': float64(time.Minute), 'S': float64(time.Second)}); err != nil {
		return 0, err
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
func bytesVar(p *int64) func(string, string) error { return parsedVar(p, parseBytes) }

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
