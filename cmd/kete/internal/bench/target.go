package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lxzan/gws"

	"github.com/kete-dev/kete/internal/redact"
)

// targetKind says which protocol a Target speaks.
type targetKind string

// target kinds.
const (
	// kindServer is kete's pub/sub server (or any Realtime Pub/Sub compatible one).
	kindServer targetKind = "server"
	// kindHub is the bare gws hub of this package.
	kindHub targetKind = "hub"
)

// target is what a fan-out run drives.
type target struct {
	// Name labels the target in reports ("server", "hub").
	Name string     `json:"name"`
	Kind targetKind `json:"kind"`
	// URL is the base WebSocket URL, ws://host:port (a path prefix is kept).
	URL string `json:"url"`
	// App is the server's app id (kindServer).
	App string `json:"app,omitempty"`
	// Token authenticates subscribers and the WebSocket (ingest) publisher; it needs
	// realtime:publisher:write:topic:<topic> for --publish ws.
	Token string `json:"-"`
	// AdminToken authenticates HTTP publishes (the app's adminKey); empty: Token.
	AdminToken string `json:"-"`
	// PID, when > 0, is read from /proc for CPU seconds and RSS.
	PID int `json:"pid,omitempty"`
	// RSSBase, when > 0, is the target's RSS before any subscriber ever connected;
	// RSSPerConn is measured from it rather than from the RSS at the start of the run
	// (which, after an earlier run, includes memory the runtime kept). compareFanout
	// fills it from each target's first run.
	RSSBase int64 `json:"rssBase,omitempty"`
	// AllowRemote lets URL name a non-loopback host; set only when a person gave the URL.
	AllowRemote bool `json:"-"`
	// Nodes, when set, makes the target a cluster: the base URLs of every node serving
	// the same app on one broker (URL is then ignored). Subscriber i connects to
	// Nodes[i mod len(Nodes)], and so does publisher i, so that both the subscribers and
	// the publishing load are spread evenly over the nodes.
	Nodes []string `json:"nodes,omitempty"`
	// PIDs, when set, are the processes whose CPU seconds and RSS are summed (every node
	// of a cluster); PID is then ignored.
	PIDs []int `json:"pids,omitempty"`
	// BrokerPID, when > 0, is the broker's process (nats-server): its CPU seconds are
	// reported apart from the nodes' (Result.BrokerCPU).
	BrokerPID int `json:"brokerPid,omitempty"`
}

// nodeURLs is every node's base URL: Nodes, or URL alone.
func (t target) nodeURLs() []string {
	if len(t.Nodes) > 0 {
		return t.Nodes
	}
	return []string{t.URL}
}

// node is the one-node target that subscriber or publisher i talks to.
func (t target) node(i int) target {
	if len(t.Nodes) == 0 {
		return t
	}
	n := t
	n.URL, n.Nodes = t.Nodes[i%len(t.Nodes)], nil
	return n
}

// pids is every process whose CPU and RSS are the target's: PIDs, or PID when > 0.
func (t target) pids() []int {
	if len(t.PIDs) > 0 {
		return t.PIDs
	}
	if t.PID > 0 {
		return []int{t.PID}
	}
	return nil
}

// check validates the target: a ws:// or wss:// URL (every node's), loopback unless
// AllowRemote, an app and a token for a server.
func (t target) check() error {
	for _, raw := range t.nodeURLs() {
		u, err := url.Parse(raw)
		if err != nil {
			return fmt.Errorf("target %s: url %q: %w", t.Name, redact.URL(raw), redact.Error(err))
		}
		if u.Scheme != "ws" && u.Scheme != "wss" {
			return fmt.Errorf("target %s: url %q: want ws:// or wss://", t.Name, redact.URL(raw))
		}
		if !t.AllowRemote && !isLoopback(u.Hostname()) {
			return fmt.Errorf("target %s: url %q is not a loopback address; give it explicitly to load a remote host", t.Name, redact.URL(raw))
		}
	}
	switch t.Kind {
	case kindHub:
	case kindServer:
		if t.App == "" {
			return fmt.Errorf("target %s: no app id", t.Name)
		}
		if t.Token == "" {
			return fmt.Errorf("target %s: no token (give a token or the app's secret)", t.Name)
		}
	default:
		return fmt.Errorf("target %s: kind %q: want server or hub", t.Name, t.Kind)
	}
	return nil
}

// isLoopback reports whether host is localhost or a loopback IP.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (t target) base() string { return strings.TrimRight(t.URL, "/") }

// httpBase is the target's base URL with an http(s) scheme.
func (t target) httpBase() string {
	b := t.base()
	if s, ok := strings.CutPrefix(b, "wss://"); ok {
		return "https://" + s
	}
	return "http://" + strings.TrimPrefix(b, "ws://")
}

// subscribeURL is where a subscriber connects.
func (t target) subscribeURL() string {
	if t.Kind == kindHub {
		return t.base() + "/"
	}
	return t.base() + "/apps/" + url.PathEscape(t.App) + "?access_token=" + url.QueryEscape(t.Token)
}

// subscribeFrame is what a subscriber sends after connecting (nil: nothing).
func (t target) subscribeFrame(topic string) []byte {
	if t.Kind == kindHub {
		return nil
	}
	b, _ := json.Marshal(map[string]any{"type": "subscribe", "data": map[string]string{"topic": topic}})
	return b
}

// readyPrefix is the start of the frame that says a subscriber will get every broadcast
// from now on: the hub's hubReadyFrame, the server's subscribe confirmation (or, for the
// topic "main", its connection welcome).
func (t target) readyPrefix(topic string) []byte {
	if t.Kind == kindHub {
		return []byte(hubReadyFrame)
	}
	tj, _ := json.Marshal(topic)
	return []byte(`{"topic":` + string(tj) + `,"messageType":"welcome"`)
}

// publisher sends one payload to the topic every subscriber listens to. runFanout builds
// one from the target unless fanoutOptions.NewPublisher is set (end-to-end runs publish
// through the daemon's webhook instead).
type publisher interface {
	Publish(ctx context.Context, payload []byte) error
	Close() error
}

// publishMode picks how runFanout publishes to its target.
type publishMode string

// Publish modes.
const (
	publishHTTP publishMode = "http" // server: POST /api/topics/{app}/publish; hub: POST /publish
	publishWS   publishMode = "ws"   // server: the ingest WebSocket; hub: /pub
)

// newPublisher connects a publisher of the given mode to t.
func (t target) newPublisher(ctx context.Context, mode publishMode, topic string) (publisher, error) {
	switch mode {
	case publishHTTP, "":
		p := &httpPublisher{client: &http.Client{
			Timeout:   10 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64, DisableCompression: true},
		}}
		if t.Kind == kindHub {
			p.url = t.httpBase() + "/publish"
		} else {
			p.url = t.httpBase() + "/api/topics/" + url.PathEscape(t.App) + "/publish"
			tok := t.AdminToken
			if tok == "" {
				tok = t.Token
			}
			p.auth = "Bearer " + tok
			tj, _ := json.Marshal(topic)
			p.prefix = []byte(`{"topic":` + string(tj) + `,"message":`)
		}
		return p, nil
	case publishWS:
		u := t.base() + "/pub"
		if t.Kind == kindServer {
			u = t.base() + "/apps/" + url.PathEscape(t.App) + "/publish/" + topic + "?access_token=" + url.QueryEscape(t.Token)
		}
		c, resp, err := gws.NewClient(gws.BuiltinEventHandler{}, &gws.ClientOption{Addr: u, HandshakeTimeout: 10 * time.Second})
		if err != nil {
			return nil, fmt.Errorf("publisher %s: %w", redact.URL(u), describeHandshake(err, resp))
		}
		p := &wsPublisher{c: c, done: make(chan struct{})}
		go func() { defer close(p.done); c.ReadLoop() }()
		return p, nil
	}
	return nil, fmt.Errorf("publish mode %q: want http or ws", mode)
}

type httpPublisher struct {
	client *http.Client
	url    string
	auth   string
	prefix []byte // server: the body's start; the payload and '}' follow
}

func (p *httpPublisher) Publish(ctx context.Context, payload []byte) error {
	body := payload
	if p.prefix != nil {
		body = make([]byte, 0, len(p.prefix)+len(payload)+1)
		body = append(append(append(body, p.prefix...), payload...), '}')
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("publish %s: %w", p.url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if p.auth != "" {
		req.Header.Set("Authorization", p.auth)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("publish %s: %w", p.url, err)
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("publish %s: %s: %s", p.url, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

func (p *httpPublisher) Close() error {
	p.client.CloseIdleConnections()
	return nil
}

type wsPublisher struct {
	c    *gws.Conn
	done chan struct{}
}

func (p *wsPublisher) Publish(_ context.Context, payload []byte) error {
	return p.c.WriteMessage(gws.OpcodeText, payload)
}

func (p *wsPublisher) Close() error {
	_ = p.c.WriteClose(1000, nil)
	_ = p.c.NetConn().Close()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		return errors.New("publisher: read loop did not end within 5s")
	}
	return nil
}

// describeHandshake adds the HTTP status to a failed WebSocket handshake.
func describeHandshake(err error, resp *http.Response) error {
	if resp == nil {
		return err
	}
	msg := ""
	if resp.Body != nil {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		_ = resp.Body.Close()
		msg = string(bytes.TrimSpace(b))
	}
	if msg != "" {
		return fmt.Errorf("%w (%s: %s)", err, resp.Status, msg)
	}
	return fmt.Errorf("%w (%s)", err, resp.Status)
}
