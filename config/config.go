package config

import (
	"context"
	"crypto/tls"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/kete-dev/kete/tlsconfig"
)

// Load reads the file at path (by extension: .properties, .json, .yaml or .yml), lays the
// KETE_ variables of environ over it and KETE's own dotted variables (named exactly like
// the keys, kete.routes.ws.destination.url) over those (pass os.Environ()), resolves
// ${env:…} and ${file:…}, and validates the result. A *ValidationError lists every bad
// key at once.
func Load(path string, environ []string) (*Config, error) {
	return LoadContext(context.Background(), path, environ)
}

// LoadContext is Load that stops, with ctx's error, when ctx ends while ${file:…}
// references are read (SIGTERM during start-up).
func LoadContext(ctx context.Context, path string, environ []string) (*Config, error) {
	format, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	c, err := ParseContext(ctx, data, format, environ)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return c, nil
}

// Parse is Load for bytes already read, in format properties, json or yaml; data may be
// empty, leaving the environment alone to configure kete.
func Parse(data []byte, format string, environ []string) (*Config, error) {
	return ParseContext(context.Background(), data, format, environ)
}

// ParseContext is Parse that stops, with ctx's error, when ctx ends.
func ParseContext(ctx context.Context, data []byte, format string, environ []string) (*Config, error) {
	file, problems, err := readFile(data, format)
	if err != nil {
		return nil, err
	}
	// Layers, each over the one before: the file, KETE_ variables, KETE's dotted variables.
	dotted := readDottedEnv(environ)
	known := maps.Clone(file)
	maps.Copy(known, dotted) // so that KETE_ variables find routes only dotted ones name
	fromEnv, envProblems := readEnv(environ, known)
	problems = append(problems, envProblems...)
	maps.Copy(file, fromEnv)
	overridden := shadowed(fromEnv, dotted)
	maps.Copy(file, dotted)
	c, decodeProblems := decode(ctx, file, environ)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c.Warnings = append(c.Warnings, overridden...)
	problems = append(problems, decodeProblems...)
	if len(problems) > 0 {
		slices.SortStableFunc(problems, func(a, b Problem) int { return strings.Compare(a.Key, b.Key) })
		return nil, &ValidationError{Problems: problems}
	}
	return c, nil
}

// TLSConfig builds the bundled server's *tls.Config from kete.server.tls.*, or returns
// nil when TLS is off.
func (s ServerSettings) TLSConfig() (*tls.Config, error) {
	if !s.TLS.Enabled {
		return nil, nil
	}
	o := tlsconfig.ServerOptions{
		KeyStore:   tlsStore("kete.server.tls.key-store", s.TLS.KeyStore),
		ClientAuth: s.TLS.ClientAuth,
	}
	if s.TLS.TrustStore.Given() {
		o.TrustStore = tlsStore("kete.server.tls.trust-store", s.TLS.TrustStore)
	}
	return tlsconfig.Server(o)
}

// NATSTLSConfig builds the client *tls.Config for NATS from kete.server.nats.tls.*, or
// returns nil when TLS to NATS is off.
func (s ServerSettings) NATSTLSConfig() (*tls.Config, error) {
	t := s.NATS.TLS
	if !t.Enabled {
		return nil, nil
	}
	o := tlsconfig.Options{VerifyHostname: t.VerifyHostname}
	if t.TrustStore.Given() {
		o.TrustStore = tlsStore("kete.server.nats.tls.trust-store", t.TrustStore)
	}
	if t.KeyStore.Given() {
		o.KeyStore = tlsStore("kete.server.nats.tls.key-store", t.KeyStore)
	}
	return tlsconfig.Client(o)
}
