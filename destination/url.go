package destination

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/internal/ingestwire"
	"github.com/kete-dev/kete/internal/redact"
	"github.com/kete-dev/kete/template"
)

// urlTemplate renders a destination URL with each value escaped for where it stands: the
// part before the first "?" with url.PathEscape, the query with url.QueryEscape.
type urlTemplate struct {
	source string
	path   *template.Template
	query  *template.Template // nil without a "?"
}

func compileURL(source string) (urlTemplate, error) {
	lower := strings.ToLower(source)
	if !strings.HasPrefix(lower, "ws://") && !strings.HasPrefix(lower, "wss://") {
		return urlTemplate{}, fmt.Errorf("websocket url %q: must start with ws:// or wss://", redact.URL(source))
	}
	ut := urlTemplate{source: source}
	pathPart, queryPart, hasQuery := strings.Cut(source, "?")
	var err error
	if ut.path, err = template.CompileWith(pathPart, template.Options{Escape: url.PathEscape}); err != nil {
		return urlTemplate{}, fmt.Errorf("websocket url: %w", err)
	}
	if hasQuery {
		if ut.query, err = template.CompileWith("?"+queryPart, template.Options{Escape: url.QueryEscape}); err != nil {
			return urlTemplate{}, fmt.Errorf("websocket url: %w", err)
		}
	}
	return ut, nil
}

// RenderURL renders the URL template source for e as a WebSocket destination does, each
// value escaped for where it stands, so that a checker shows the URL an event goes to.
func RenderURL(source string, e *kete.Event) (string, error) {
	ut, err := compileURL(source)
	if err != nil {
		return "", err
	}
	return string(ut.appendRender(nil, e)), nil
}

func (u urlTemplate) static() bool {
	return u.path.Static() && (u.query == nil || u.query.Static())
}

// display is the template's source with secrets masked.
func (u urlTemplate) display() string { return redact.URL(u.source) }

func (u urlTemplate) appendRender(dst []byte, e *kete.Event) []byte {
	dst = u.path.AppendRender(dst, e)
	if u.query != nil {
		dst = u.query.AppendRender(dst, e)
	}
	return dst
}

// parseEndpoint checks a rendered URL and works out where to dial.
func parseEndpoint(raw string) (*endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the whole URL, query secrets included: keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("websocket url %q: %w", redact.URL(raw), err)
	}
	ep := &endpoint{url: raw, display: redact.URL(raw), hostname: u.Hostname()}
	port := u.Port()
	switch strings.ToLower(u.Scheme) {
	case "ws":
		if port == "" {
			port = "80"
		}
	case "wss":
		ep.tls = true
		if port == "" {
			port = "443"
		}
	default:
		return nil, fmt.Errorf("websocket url %q: scheme %q, want ws or wss", ep.display, u.Scheme)
	}
	if ep.hostname == "" {
		return nil, fmt.Errorf("websocket url %q: no host", ep.display)
	}
	ep.addr = net.JoinHostPort(ep.hostname, port)
	ep.awaitAck = ingestwire.AckRequested(u.Query())
	return ep, nil
}
