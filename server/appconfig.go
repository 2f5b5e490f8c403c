package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kete-dev/kete/server/auth"
)

// App is one isolated namespace of topics, connections and keys, with the field names of
// Realtime Pub/Sub's application configuration, so that its apps files load as they are.
type App struct {
	AppID       string `json:"appId" yaml:"appId"`
	Name        string `json:"name,omitempty" yaml:"name,omitempty"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// Enabled false refuses new connections with 403 (and HTTP API calls with 403).
	Enabled bool `json:"enabled" yaml:"enabled"`
	// AuthKey verifies client (WebSocket) tokens.
	AuthKey auth.Key `json:"authKey" yaml:"authKey"`
	// AdminKey verifies HTTP API tokens; when empty, the HTTP API refuses every token.
	AdminKey auth.Key `json:"adminKey" yaml:"adminKey"`
	// ClientSourceAddress lists IPs and CIDRs allowed ("!" denies) for WebSocket clients; empty allows all.
	ClientSourceAddress []string `json:"clientSourceAddress,omitempty" yaml:"clientSourceAddress,omitempty"`
	// AdminSourceAddress is the same for the HTTP API.
	AdminSourceAddress []string `json:"adminSourceAddress,omitempty" yaml:"adminSourceAddress,omitempty"`
	// EnableWebSocketInboundTopic forwards "message" frames and presence to secure/inbound.
	EnableWebSocketInboundTopic bool `json:"enableWebSocketInboundTopic" yaml:"enableWebSocketInboundTopic"`
	// ClientInboundAckEnabled acks every accepted publish/message on priv/acks.
	ClientInboundAckEnabled bool `json:"clientInboundAckEnabled" yaml:"clientInboundAckEnabled"`
	// APIKeys are for clients that cannot mint JWTs; only hashes are stored.
	APIKeys []auth.APIKey `json:"apiKeys,omitempty" yaml:"apiKeys,omitempty"`
	// AllowedOrigins, when set, refuses a browser whose Origin is not listed ("*" allows all).
	AllowedOrigins []string `json:"allowedOrigins,omitempty" yaml:"allowedOrigins,omitempty"`
	// MaxConnections caps this app's connections on this node (0: no cap); over it → 503.
	// It stays per node in a cluster: each node counts only its own connections, so the
	// cluster as a whole may hold up to MaxConnections times the number of nodes.
	MaxConnections int `json:"maxConnections,omitempty" yaml:"maxConnections,omitempty"`
	// OneConnectionPerUser is "replace" (the default, also JSON true: the older one is
	// closed with 1008 ReasonReplaced, on any node; a reconnecting client whose old socket
	// is half-dead must not be locked out), "reject" (a second connection of the same sub
	// gets 409, on any node of a cluster; of two that race on two nodes the later is
	// closed with 1008 ReasonConnectedElsewhere) or "off" (also false: any number per
	// subject). The platform allows one connection per user (seed 004, "Other low-level
	// WebSocket server settings"); see docs/server.md, "Compatibility".
	OneConnectionPerUser OnePerUser `json:"oneConnectionPerUser,omitempty" yaml:"oneConnectionPerUser,omitempty"`
	// TokensWithoutSubject says what a client token without "sub" gets: "connection"
	// (default: its connection id becomes its subject, so it shares no priv/ topic with
	// another such token and counts as a user of its own for oneConnectionPerUser) or
	// "reject" (401 token_invalid).
	TokensWithoutSubject SubjectlessPolicy `json:"tokensWithoutSubject,omitempty" yaml:"tokensWithoutSubject,omitempty"`
	// HistorySize is how many recent messages each topic keeps for clients that come back
	// (subscribe with "since"); 0 keeps none. See StreamPosition.
	HistorySize int `json:"historySize,omitempty" yaml:"historySize,omitempty"`
	// HistoryMaxBytes caps the memory this app's history holds on a node, frames plus a
	// fixed overhead per message and topic (DefaultHistoryMaxBytes); over it, the app's
	// oldest kept messages go first.
	HistoryMaxBytes int64 `json:"historyMaxBytes,omitempty" yaml:"historyMaxBytes,omitempty"`
	// HistoryMaxTopics caps the topics whose history this app keeps on a node
	// (DefaultHistoryMaxTopics); over it, topics without messages left, then the app's
	// oldest messages go, and a topic whose last message went is forgotten.
	HistoryMaxTopics int `json:"historyMaxTopics,omitempty" yaml:"historyMaxTopics,omitempty"`
	// HistoryTTL drops kept messages older than this ("5m" or milliseconds; 0: no age limit).
	HistoryTTL Duration `json:"historyTtl,omitempty" yaml:"historyTtl,omitempty"`
	Limits     Limits   `json:"limits" yaml:"limits"`
	Audit      Audit    `json:"audit" yaml:"audit"`

	// Compatibility policies: each zero value behaves as the Realtime Pub/Sub platform
	// does (docs/server.md, "Compatibility"; server/compat.go).
	//
	// OnForbidden is what a subscribe or publish frame the token does not allow gets:
	// "close" (default: 1008 with the platform's reason) or "errorFrame" (an error frame,
	// and the connection stays).
	OnForbidden ForbiddenPolicy `json:"onForbidden,omitempty" yaml:"onForbidden,omitempty"`
	// TokenExpiry is "handshake" (default: exp is checked when the client connects only)
	// or "close" (the connection is closed once exp plus the leeway passes, unless the
	// client refreshed its token).
	TokenExpiry TokenExpiryPolicy `json:"tokenExpiry,omitempty" yaml:"tokenExpiry,omitempty"`
	// CountryHeader names the request header that gives a client's country for the
	// connections heatmap (e.g. "CF-IPCountry" behind Cloudflare); empty counts every
	// connection under ZZ. Set it only behind a proxy that sets the header.
	CountryHeader string `json:"countryHeader,omitempty" yaml:"countryHeader,omitempty"`
}

// OnePerUser is the one-connection-per-subject policy; see App.OneConnectionPerUser.
type OnePerUser string

// One-connection-per-user policies.
const (
	OnePerUserDefault OnePerUser = "" // replace
	OnePerUserOff     OnePerUser = "off"
	OnePerUserReject  OnePerUser = "reject"
	OnePerUserReplace OnePerUser = "replace"
)

// UnmarshalJSON accepts a policy string or a boolean (true = replace).
func (p *OnePerUser) UnmarshalJSON(b []byte) error { return setFromJSON(b, p.set) }

// UnmarshalYAML accepts a policy string or a boolean (true = replace).
func (p *OnePerUser) UnmarshalYAML(n *yaml.Node) error { return setFromYAML(n, p.set) }

func (p *OnePerUser) set(v any) error {
	switch x := v.(type) {
	case nil:
		*p = OnePerUserDefault
	case bool:
		*p = OnePerUserOff
		if x {
			*p = OnePerUserReplace
		}
	case string:
		switch strings.ToLower(x) {
		case "":
			*p = OnePerUserDefault
		case "off", "false":
			*p = OnePerUserOff
		case "reject":
			*p = OnePerUserReject
		case "replace", "true":
			*p = OnePerUserReplace
		default:
			return fmt.Errorf("oneConnectionPerUser %q: want reject, replace or off", x)
		}
	default:
		return fmt.Errorf("oneConnectionPerUser: want a string or a boolean, got %T", v)
	}
	return nil
}

// SubjectlessPolicy is what a token without "sub" gets; see App.TokensWithoutSubject.
type SubjectlessPolicy string

// Policies for tokens without a subject.
const (
	SubjectlessConnection SubjectlessPolicy = "" // also "connection"
	SubjectlessReject     SubjectlessPolicy = "reject"
)

// Limits bounds what one client, connection or app may make the server hold.
// Zero fields take the defaults named in their comments.
type Limits struct {
	// MaxMessageSize is the largest client frame in bytes (5 KiB); over it → close 1009.
	MaxMessageSize int `json:"maxMessageSize,omitempty" yaml:"maxMessageSize,omitempty"`
	// MaxIngestMessageSize is the largest ingest frame in bytes (64 KiB).
	MaxIngestMessageSize int `json:"maxIngestMessageSize,omitempty" yaml:"maxIngestMessageSize,omitempty"`
	// MaxBacklog is the per-connection outbound queue in bytes (64 KiB); a subscriber
	// over it is closed with 1008 ReasonSlowConsumer.
	MaxBacklog int `json:"maxBacklog,omitempty" yaml:"maxBacklog,omitempty"`
	// MaxSubscriptions caps the topics one connection may subscribe to (128).
	MaxSubscriptions int `json:"maxSubscriptions,omitempty" yaml:"maxSubscriptions,omitempty"`
	// PingInterval is how often the server pings an idle connection (10s).
	PingInterval Duration `json:"pingInterval,omitempty" yaml:"pingInterval,omitempty"`
	// IdleTimeout closes a connection that sent nothing, not even a pong, for this long (30s).
	IdleTimeout Duration `json:"idleTimeout,omitempty" yaml:"idleTimeout,omitempty"`
	// DedupWindow is how long ingest remembers frame ids (5m).
	DedupWindow Duration `json:"dedupWindow,omitempty" yaml:"dedupWindow,omitempty"`
	// DedupMaxIDs bounds the (topic, id) pairs remembered per app (100,000); the oldest go first.
	DedupMaxIDs int `json:"dedupMaxIds,omitempty" yaml:"dedupMaxIds,omitempty"`
	// PublishRate caps the publish and message frames one client connection may send per
	// second (DefaultPublishRate, 100; negative: no limit); over it, beyond PublishBurst,
	// the connection is closed with 1008 ReasonRateLimited. Ingest connections are not
	// limited: they are the daemon's path, paced by their acks.
	PublishRate int `json:"publishRate,omitempty" yaml:"publishRate,omitempty"`
	// PublishBurst is how many such frames may come at once above the rate (2×PublishRate).
	PublishBurst int `json:"publishBurst,omitempty" yaml:"publishBurst,omitempty"`
	// MaxPublishSize is the largest message of an HTTP publish in bytes (5 KiB, like
	// MaxMessageSize: the platform's "max message payload size is 5KB" for both).
	MaxPublishSize int `json:"maxPublishSize,omitempty" yaml:"maxPublishSize,omitempty"`
	// MaxDeliveredSize is the largest frame the server delivers for a client or HTTP
	// publish, in bytes (6 KiB: what the platform's Go SDK reads); a publish whose frame
	// would be larger is refused, since a subscriber that cannot read it drops its connection.
	MaxDeliveredSize int `json:"maxDeliveredSize,omitempty" yaml:"maxDeliveredSize,omitempty"`
}

// Audit turns on one log line per client message and per delivery batch for an app.
type Audit struct {
	Enabled     bool `json:"enabled" yaml:"enabled"`
	LogPayloads bool `json:"logPayloads" yaml:"logPayloads"`
}

// Defaults for Limits.
const (
	DefaultMaxMessageSize       = 5 << 10
	DefaultMaxIngestMessageSize = 64 << 10
	DefaultMaxBacklog           = 64 << 10
	DefaultMaxSubscriptions     = 128
	DefaultPingInterval         = 10 * time.Second
	DefaultIdleTimeout          = 30 * time.Second
	DefaultDedupWindow          = 5 * time.Minute
	DefaultDedupMaxIDs          = 100_000
)

// withDefaults returns l with every zero field set to its default.
func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *Duration, d time.Duration) {
		if *v <= 0 {
			*v = Duration(d)
		}
	}
	def(&l.MaxMessageSize, DefaultMaxMessageSize)
	def(&l.MaxIngestMessageSize, DefaultMaxIngestMessageSize)
	def(&l.MaxBacklog, DefaultMaxBacklog)
	def(&l.MaxSubscriptions, DefaultMaxSubscriptions)
	def(&l.DedupMaxIDs, DefaultDedupMaxIDs)
	def(&l.MaxPublishSize, DefaultMaxPublishSize)
	def(&l.MaxDeliveredSize, DefaultMaxDeliveredSize)
	if l.PublishRate == 0 {
		l.PublishRate = DefaultPublishRate
	}
	def(&l.PublishBurst, max(2*l.PublishRate, 1))
	defD(&l.PingInterval, DefaultPingInterval)
	defD(&l.IdleTimeout, DefaultIdleTimeout)
	defD(&l.DedupWindow, DefaultDedupWindow)
	return l
}

// Duration is a time.Duration that reads "30s" or a number of milliseconds from files.
type Duration time.Duration

// UnmarshalJSON accepts "30s" or milliseconds.
func (d *Duration) UnmarshalJSON(b []byte) error { return setFromJSON(b, d.set) }

// UnmarshalYAML accepts "30s" or milliseconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error { return setFromYAML(n, d.set) }

// setFromJSON and setFromYAML decode a value of any shape and hand it to set: the
// fields that accept more than one shape (a string or a boolean, "30s" or milliseconds).
func setFromJSON(b []byte, set func(any) error) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	return set(v)
}

func setFromYAML(n *yaml.Node, set func(any) error) error {
	var v any
	if err := n.Decode(&v); err != nil {
		return err
	}
	return set(v)
}

// MarshalJSON writes the duration as a string such as "30s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *Duration) set(v any) error {
	switch x := v.(type) {
	case string:
		p, err := time.ParseDuration(x)
		if err != nil {
			return fmt.Errorf("duration %q: %w", x, err)
		}
		*d = Duration(p)
	case float64:
		*d = Duration(time.Duration(x) * time.Millisecond)
	case int:
		*d = Duration(time.Duration(x) * time.Millisecond)
	case nil:
		*d = 0
	default:
		return fmt.Errorf("duration: want \"30s\" or milliseconds, got %T", v)
	}
	return nil
}

// LoadApps reads an apps file: a JSON or YAML (by extension: .json, .yaml, .yml) list of
// apps, or an object {"apps": [...]}. Errors name the file and the app.
func LoadApps(path string) ([]App, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("apps file %s: %w", path, err)
	}
	var format string
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		format = "json"
	case ".yaml", ".yml":
		format = "yaml"
	default:
		return nil, fmt.Errorf("apps file %s: unknown extension, want .json, .yaml or .yml", path)
	}
	apps, err := ParseApps(b, format)
	if err != nil {
		return nil, fmt.Errorf("apps file %s: %w", path, err)
	}
	return apps, nil
}

// ParseApps decodes apps from JSON or YAML (format "json" or "yaml") and validates them.
func ParseApps(b []byte, format string) ([]App, error) {
	var apps []App
	switch format {
	case "json":
		trimmed := bytes.TrimSpace(b)
		// Unknown fields are errors: a misspelt adminSourceAddress must not leave the API open.
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if len(trimmed) > 0 && trimmed[0] == '{' {
			var wrap struct {
				Apps []App `json:"apps"`
			}
			if err := dec.Decode(&wrap); err != nil {
				return nil, fmt.Errorf("json: %w", err)
			}
			apps = wrap.Apps
		} else if err := dec.Decode(&apps); err != nil {
			return nil, fmt.Errorf("json: %w", err)
		}
		if dec.More() {
			return nil, fmt.Errorf("json: more after the apps at offset %d", dec.InputOffset())
		}
	case "yaml":
		var n yaml.Node
		if err := yaml.Unmarshal(b, &n); err != nil {
			return nil, fmt.Errorf("yaml: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		var err error
		if len(n.Content) > 0 && n.Content[0].Kind == yaml.MappingNode {
			var wrap struct {
				Apps []App `yaml:"apps"`
			}
			err = dec.Decode(&wrap)
			apps = wrap.Apps
		} else if len(n.Content) > 0 {
			err = dec.Decode(&apps)
		}
		if err != nil {
			return nil, fmt.Errorf("yaml: %w", err)
		}
	default:
		return nil, fmt.Errorf("apps format %q: want json or yaml", format)
	}
	if err := ValidateApps(apps); err != nil {
		return nil, err
	}
	return apps, nil
}

// ValidateApps reports every problem in apps at once: missing or duplicate appId, bad
// source addresses, a bad policy.
func ValidateApps(apps []App) error {
	var errs []error
	seen := make(map[string]bool, len(apps))
	for i, a := range apps {
		name := fmt.Sprintf("apps[%d]", i)
		if a.AppID == "" {
			errs = append(errs, fmt.Errorf("%s: appId is empty", name))
		} else {
			name = fmt.Sprintf("app %q", a.AppID)
			if seen[a.AppID] {
				errs = append(errs, fmt.Errorf("%s: duplicate appId", name))
			}
			seen[a.AppID] = true
			if strings.ContainsAny(a.AppID, "/?#% ") {
				errs = append(errs, fmt.Errorf("%s: appId must not contain '/', '?', '#', '%%' or spaces", name))
			}
		}
		if _, err := auth.ParseSourcePolicy(a.ClientSourceAddress); err != nil {
			errs = append(errs, fmt.Errorf("%s: clientSourceAddress: %w", name, err))
		}
		if _, err := auth.ParseSourcePolicy(a.AdminSourceAddress); err != nil {
			errs = append(errs, fmt.Errorf("%s: adminSourceAddress: %w", name, err))
		}
		if a.HistorySize < 0 {
			errs = append(errs, fmt.Errorf("%s: historySize %d is negative", name, a.HistorySize))
		}
		if a.HistoryTTL < 0 {
			errs = append(errs, fmt.Errorf("%s: historyTtl %v is negative", name, a.HistoryTTL.std()))
		}
		if a.HistoryMaxBytes < 0 {
			errs = append(errs, fmt.Errorf("%s: historyMaxBytes %d is negative", name, a.HistoryMaxBytes))
		}
		if a.HistoryMaxTopics < 0 {
			errs = append(errs, fmt.Errorf("%s: historyMaxTopics %d is negative", name, a.HistoryMaxTopics))
		}
		if a.MaxConnections < 0 {
			errs = append(errs, fmt.Errorf("%s: maxConnections %d is negative", name, a.MaxConnections))
		}
		switch a.TokensWithoutSubject {
		case SubjectlessConnection, "connection", SubjectlessReject:
		default:
			errs = append(errs, fmt.Errorf("%s: tokensWithoutSubject %q: want connection or reject", name, a.TokensWithoutSubject))
		}
		if err := a.OnForbidden.validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		if err := a.TokenExpiry.validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		if err := validateCountryHeader(a.CountryHeader); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		switch a.OneConnectionPerUser {
		case OnePerUserDefault, OnePerUserOff, OnePerUserReject, OnePerUserReplace:
		default:
			errs = append(errs, fmt.Errorf("%s: oneConnectionPerUser %q: want reject, replace or off", name, a.OneConnectionPerUser))
		}
	}
	return errors.Join(errs...)
}

func (d Duration) std() time.Duration { return time.Duration(d) }
