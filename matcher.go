package kete

import (
	"fmt"
	"regexp"
	"strings"
)

// Matcher decides whether a realm name or an event type is accepted by a route.
type Matcher interface {
	Match(s string) bool
	// String gives back the spec the matcher was parsed from, for `kete check`.
	String() string
}

// MatchMode combines a route's matchers: any one (OR) or all of them (AND).
type MatchMode string

const (
	// MatchAny accepts when at least one matcher does; KETE's default.
	MatchAny MatchMode = "any"
	// MatchAll accepts only when every matcher does.
	MatchAll MatchMode = "all"
)

// ParseMatchMode reads "any" or "all" in any case; blank means any.
func ParseMatchMode(s string) (MatchMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "any":
		return MatchAny, nil
	case "all":
		return MatchAll, nil
	}
	return "", fmt.Errorf("match mode %q: want any or all", s)
}

// ParseMatcher reads a KETE matcher spec: "list:a,b", "glob:LOGIN*", "regex:^LOG.*",
// "sql:LOG%", each optionally negated as "list:not:a,b". It splits the spec as KETE's
// MatcherUtils.createMatcher does (FortuneN/kete): kind, an optional "not" in any case,
// and the pattern, each trimmed. Matching ignores case. A glob knows *, ? and [abc], and
// a backslash makes the next character literal (glob:USER_\* is the name USER_*), as
// KETE's GlobMatcher compiles with HANDLE_ESCAPES; sql knows % and _; a regex must match
// the whole string.
func ParseMatcher(spec string) (Matcher, error) {
	parts := strings.SplitN(strings.TrimSpace(spec), ":", 3)
	if len(parts) < 2 {
		return nil, fmt.Errorf("matcher %q: want kind:pattern with kind list, glob, regex or sql", spec)
	}
	kind, negate := parts[0], false
	var pattern string
	switch {
	case len(parts) == 3 && strings.EqualFold(strings.TrimSpace(parts[1]), "not"):
		negate, pattern = true, strings.TrimSpace(parts[2])
	case len(parts) == 2:
		pattern = strings.TrimSpace(parts[1])
	default: // kind:a:b, a pattern with a colon in it
		pattern = strings.TrimSpace(parts[1]) + ":" + strings.TrimSpace(parts[2])
	}
	if pattern == "" {
		return nil, fmt.Errorf("matcher %q: the pattern is empty", spec)
	}
	var m func(string) bool
	switch strings.ToLower(strings.TrimSpace(kind)) {
	case "list":
		set := map[string]bool{}
		for item := range strings.SplitSeq(pattern, ",") {
			if item = strings.TrimSpace(item); item != "" {
				set[strings.ToLower(item)] = true
			}
		}
		if len(set) == 0 {
			return nil, fmt.Errorf("matcher %q: list is empty", spec)
		}
		m = func(s string) bool { return set[strings.ToLower(s)] }
	case "glob":
		re, err := compileAnchored(globToRegexp(pattern))
		if err != nil {
			return nil, fmt.Errorf("matcher %q: bad glob: %w", spec, err)
		}
		m = re.MatchString
	case "regex":
		re, err := compileAnchored(pattern)
		if err != nil {
			return nil, fmt.Errorf("matcher %q: bad regex: %w", spec, err)
		}
		m = re.MatchString
	case "sql":
		re, err := compileAnchored(likeToRegexp(pattern))
		if err != nil {
			return nil, fmt.Errorf("matcher %q: bad sql pattern: %w", spec, err)
		}
		m = re.MatchString
	default:
		return nil, fmt.Errorf("matcher %q: unknown kind %q, want list, glob, regex or sql", spec, kind)
	}
	if negate {
		inner := m
		m = func(s string) bool { return !inner(s) }
	}
	return funcMatcher{match: m, spec: spec, negate: negate}, nil
}

type funcMatcher struct {
	match  func(string) bool
	spec   string
	negate bool
}

// MatchEither tests a realm known by two names, its name and its id: a matcher accepts
// the realm when it accepts either, and a negated one (not:) only when it accepts both,
// so "list:not:acme" refuses acme whichever way an event names it.
func (f funcMatcher) MatchEither(name, id string) bool {
	if f.negate {
		return f.match(name) && f.match(id)
	}
	return f.match(name) || f.match(id)
}

// matchRealm applies realm matchers to an event's realm by name or by id: some senders
// carry only the id (vymalo's HTTP sender, Keycloak's own representations), so a route
// may list either. A Matcher that is not one of ParseMatcher's sees Event.Realm.
func matchRealm(matchers []Matcher, mode MatchMode, e *Event) bool {
	if e.RealmName == "" || e.RealmID == "" || e.RealmName == e.RealmID {
		return matchAll(matchers, mode, e.Realm())
	}
	accepts := func(m Matcher) bool {
		if f, ok := m.(funcMatcher); ok {
			return f.MatchEither(e.RealmName, e.RealmID)
		}
		return m.Match(e.Realm())
	}
	if len(matchers) == 0 {
		return true
	}
	for _, m := range matchers {
		if accepts(m) != (mode == MatchAll) {
			return mode != MatchAll
		}
	}
	return mode == MatchAll
}

func (f funcMatcher) Match(s string) bool { return f.match(s) }
func (f funcMatcher) String() string      { return f.spec }

func compileAnchored(expr string) (*regexp.Regexp, error) {
	return regexp.Compile(`(?is)^(?:` + expr + `)$`)
}

// globToRegexp translates *, ? and [..], takes the character after a backslash
// literally, and quotes everything else.
func globToRegexp(glob string) string {
	var b strings.Builder
	for i := 0; i < len(glob); i++ {
		switch c := glob[i]; c {
		case '\\':
			if i+1 < len(glob) {
				i++
			}
			b.WriteString(regexp.QuoteMeta(glob[i : i+1])) // bytes: a UTF-8 sequence stays whole
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '[':
			end := strings.IndexByte(glob[i+1:], ']')
			if end < 0 {
				b.WriteString(`\[`)
				continue
			}
			class := glob[i+1 : i+1+end]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += end + 1
		default:
			b.WriteString(regexp.QuoteMeta(glob[i : i+1]))
		}
	}
	return b.String()
}

// likeToRegexp translates SQL LIKE's % and _ and quotes everything else.
func likeToRegexp(like string) string {
	var b strings.Builder
	for _, r := range like {
		switch r {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	return b.String()
}

// matchAll applies matchers under mode; no matchers accept everything.
func matchAll(matchers []Matcher, mode MatchMode, s string) bool {
	if len(matchers) == 0 {
		return true
	}
	if mode == MatchAll {
		for _, m := range matchers {
			if !m.Match(s) {
				return false
			}
		}
		return true
	}
	for _, m := range matchers {
		if m.Match(s) {
			return true
		}
	}
	return false
}
