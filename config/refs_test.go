package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/redact"
)

// fileRefProblem parses a configuration whose client secret is ${file:path} and returns
// the one problem reported for that key, or the error when there is no such problem. It
// fails the test if loading takes longer than 10 s, which is how a read that blocks shows.
func fileRefProblem(t *testing.T, ctx context.Context, path string) (Problem, error) {
	t.Helper()
	props := `
kete.routes.ws.destination.url=ws://h/x
kete.routes.ws.destination.oauth.enabled=true
kete.routes.ws.destination.oauth.token-url=https://auth.example.com/token
kete.routes.ws.destination.oauth.client-id=kete
kete.routes.ws.destination.oauth.client-secret=${file:` + path + `}
`
	type result struct {
		c   *Config
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := ParseContext(ctx, []byte(props), FormatProperties, nil)
		done <- result{c, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("${file:%s} still loading after 10s: it blocks", path)
	}
	if r.err == nil {
		t.Fatalf("${file:%s} loaded (%d bytes), want an error", path, len(r.c.Route("ws").Destination.OAuth.ClientSecret))
	}
	var ve *ValidationError
	if !errors.As(r.err, &ve) {
		return Problem{}, r.err
	}
	if len(ve.Problems) != 1 || ve.Problems[0].Key != "kete.routes.ws.destination.oauth.client-secret" {
		t.Fatalf("problems %v, want one for the client secret", ve.Problems)
	}
	return ve.Problems[0], nil
}

func TestFileRefRefusesDevices(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero here")
	}
	p, err := fileRefProblem(t, context.Background(), "/dev/zero")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Reason, "not a regular file (a character device)") {
		t.Errorf("reason %q, want it to refuse the device", p.Reason)
	}
	p, err = fileRefProblem(t, context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Reason, "not a regular file (a directory)") {
		t.Errorf("reason %q, want it to refuse the directory", p.Reason)
	}
}

func TestFileRefIsBoundedInSize(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, MaxFileRefBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := fileRefProblem(t, context.Background(), big)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Reason, "larger than 1048576 bytes (1 MiB)") {
		t.Errorf("reason %q, want the size limit", p.Reason)
	}
	// Exactly the limit is read.
	fits := filepath.Join(dir, "fits")
	if err := os.WriteFile(fits, []byte(strings.Repeat("k", MaxFileRefBytes)), 0o600); err != nil {
		t.Fatal(err)
	}
	c := parse(t, "kete.routes.ws.destination.url=ws://h/x\nkete.routes.ws.destination.headers.X-Key=${file:"+fits+"}\n")
	if got := len(c.Route("ws").Destination.Headers["X-Key"]); got != MaxFileRefBytes {
		t.Errorf("a file of exactly the limit read as %d bytes, want %d", got, MaxFileRefBytes)
	}
}

func TestUnterminatedRefIsAnErrorNamingTheKey(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{"${file:/run/secrets/pw", "${file: reference without its closing }: want ${file:/path}"},
		{"Bearer ${env:WS_TOKEN", "${env: reference without its closing }: want ${env:NAME}"},
		{"${env:A}${file:/x", "${file: reference without its closing }"},
	} {
		ps := problems(t, FormatProperties, "kete.routes.ws.destination.url=ws://h/x\nkete.routes.ws.destination.oauth.enabled=true\nkete.routes.ws.destination.oauth.token-url=https://a/t\nkete.routes.ws.destination.oauth.client-id=k\nkete.routes.ws.destination.oauth.client-secret="+tc.value+"\n", "A=a")
		if len(ps) != 1 || ps[0].Key != "kete.routes.ws.destination.oauth.client-secret" || !strings.Contains(ps[0].Reason, tc.want) {
			t.Errorf("client-secret=%s: problems %v, want one for the client secret saying %q", tc.value, ps, tc.want)
		}
	}
}

// One line ending (\n or \r\n), as editors and echo write it, is not part of the value;
// anything more is, where the reference is inside a longer value.
func TestFileRefDropsOneLineEnding(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ content, want string }{
		{"pw\n", "u-pw-v"},
		{"pw\r\n", "u-pw-v"},
		{"pw", "u-pw-v"},
		{"pw\n\n", "u-pw\n-v"},
	} {
		path := filepath.Join(dir, "f")
		if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		c := parse(t, "kete.routes.ws.destination.url=ws://h/x\nkete.routes.ws.serializer.kind=template\nkete.routes.ws.serializer.template=u-${file:"+path+"}-v\n")
		if got := c.Route("ws").Serializer.Template; got != tc.want {
			t.Errorf("file %q: value %q, want %q", tc.content, got, tc.want)
		}
	}
}

func TestFileAndEnvReferences(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := parse(t, `
kete.routes.ws.destination.url=ws://h/${realmLowerCase}
kete.routes.ws.destination.headers.Authorization=Bearer ${env:WS_TOKEN}
kete.routes.ws.destination.oauth.enabled=true
kete.routes.ws.destination.oauth.token-url=${env:TOKEN_URL}
kete.routes.ws.destination.oauth.client-id=kete
kete.routes.ws.destination.oauth.client-secret=${file:`+secretFile+`}
`, "WS_TOKEN=tok", "TOKEN_URL=https://auth.example.com/token")
	d := c.Route("ws").Destination
	for _, tc := range []struct{ name, got, want string }{
		{"env in the middle of a value", d.Headers["Authorization"], "Bearer tok"},
		{"env as the whole value", d.OAuth.TokenURL, "https://auth.example.com/token"},
		{"file without its newline", d.OAuth.ClientSecret, "from-file"},
		{"template variable kept", d.URL, "ws://h/${realmLowerCase}"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}

	ps := problems(t, FormatProperties, `
kete.routes.ws.destination.url=ws://h/${env:NO_SUCH_VAR}
kete.routes.ws.destination.headers.X-Api-Key=${file:`+filepath.Join(dir, "missing")+`}
`)
	if len(ps) != 2 {
		t.Fatalf("want 2 problems, got %v", ps)
	}
	for _, p := range ps {
		switch p.Key {
		case "kete.routes.ws.destination.url":
			if !strings.Contains(p.Reason, "NO_SUCH_VAR is not set") {
				t.Errorf("url problem: %v", p)
			}
		case "kete.routes.ws.destination.headers.X-Api-Key":
			if p.Value != redact.Mask || !strings.Contains(p.Reason, "missing") {
				t.Errorf("header problem: %v", p)
			}
		default:
			t.Errorf("unexpected problem %v", p)
		}
	}
}
