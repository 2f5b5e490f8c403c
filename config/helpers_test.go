package config

import (
	"errors"
	"testing"
)

// parse parses a .properties text with environ and fails the test on error.
func parse(t *testing.T, props string, environ ...string) *Config {
	t.Helper()
	c, err := Parse([]byte(props), FormatProperties, environ)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

// problems parses text in format and returns the problems it must have.
func problems(t *testing.T, format, text string, environ ...string) []Problem {
	t.Helper()
	_, err := Parse([]byte(text), format, environ)
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Parse: want a *ValidationError, got %v", err)
	}
	return verr.Problems
}

// comparable strips what cannot be compared with reflect.DeepEqual (compiled matchers,
// templates, serializers, TLS configs) and keeps the settings.
func comparable(c *Config) Config {
	out := *c
	out.explicit = nil
	out.Routes = nil
	for _, r := range c.Routes {
		r.serializer = nil
		r.Destination.url = nil
		r.Destination.tlsConfig = nil
		r.RealmMatchers = stripMatchers(r.RealmMatchers)
		r.EventMatchers = stripMatchers(r.EventMatchers)
		out.Routes = append(out.Routes, r)
	}
	return out
}

func stripMatchers(ms []MatcherSettings) []MatcherSettings {
	var out []MatcherSettings
	for _, m := range ms {
		m.Matcher = nil
		out = append(out, m)
	}
	return out
}
