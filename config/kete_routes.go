package config

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// keteDestinationKinds are the destination kinds KETE has (docs/user-guide/destinations/
// overview.md, "Available Destinations", FortuneN/kete). kete runs only websocket; a route
// of any other of these kinds is skipped with a warning, as KETE drops a route that fails
// to start and starts the rest (docs/user-guide/routes.md, "Delivery Semantics").
var keteDestinationKinds = []string{
	"kafka", "amqp-0.9.1", "amqp-1", "mqtt-3", "mqtt-5", "http", "websocket", "nats",
	"nats-jetstream", "redis-pubsub", "redis-stream", "pulsar", "stomp", "zeromq", "signalr",
	"socketio", "grpc", "soap", "aws-sns", "aws-sqs", "aws-kinesis", "aws-eventbridge",
	"gcp-pubsub", "gcp-cloud-tasks", "azure-storage-queue", "azure-webpubsub",
	"azure-eventhubs", "azure-servicebus", "azure-eventgrid",
}

// legacyEnabledKey is KETE's unprefixed master switch, read by ConfigurationUtils.
// createConfiguration (map.getBoolean("enabled", true)) and still honoured beside
// kete.enabled (docs/user-guide/enabling-disabling.md).
const legacyEnabledKey = "enabled"

// routeOf returns the route name of a kete.routes.<name>.… key.
func routeOf(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, "kete.routes.")
	if !ok {
		return "", false
	}
	name, _, found := strings.Cut(rest, ".")
	return name, found && routeNamePattern.MatchString(name)
}

// skippedRoutes finds the routes kete does not run — enabled=false, or a destination.kind
// of KETE's other than websocket — and returns them as settings with the reason, warning
// once for each. Their other keys are not validated: a Kafka route's bootstrap.servers is
// no concern of kete's, and a disabled route may be half-written.
func (d *decoder) skippedRoutes(ctx context.Context, lookup func(string) (string, bool)) map[string]*RouteSettings {
	value := func(key string) string {
		s, ok := d.settings[key]
		if !ok {
			return ""
		}
		v, err := resolveRefs(ctx, s.raw, lookup)
		if err != nil {
			return "" // reported when the key is decoded
		}
		return strings.TrimSpace(v)
	}
	out := map[string]*RouteSettings{}
	for key := range d.settings {
		name, ok := routeOf(key)
		if !ok || out[name] != nil {
			continue
		}
		p := "kete.routes." + name + "."
		reason, reasonKey := "", ""
		if on, err := parseBool(value(p + "enabled")); value(p+"enabled") != "" && err == nil && !on {
			reason, reasonKey = "enabled=false", p+"enabled"
		} else if kind := strings.ToLower(value(p + "destination.kind")); kind != "" && kind != string(DestinationWebSocket) && slices.Contains(keteDestinationKinds, kind) {
			reason, reasonKey = fmt.Sprintf("destination.kind=%s: kete forwards to websocket destinations only; run this route in KETE", kind), p+"destination.kind"
		}
		if reason == "" {
			continue
		}
		r := defaultRoute(name)
		r.Enabled = false
		r.Skipped = reason
		if k := strings.ToLower(value(p + "destination.kind")); k != "" {
			r.Destination.Kind = DestinationKind(k)
		}
		out[name] = r
		d.cfg.explicit[reasonKey] = d.settings[reasonKey].envVar
		d.warn(reasonKey, "route "+name+" skipped: "+reason+"; its other keys are not checked")
	}
	return out
}

// applyLegacyEnabled reads KETE's unprefixed enabled: false switches kete off as
// kete.enabled=false does; either one false is enough.
func (d *decoder) applyLegacyEnabled(ctx context.Context, lookup func(string) (string, bool)) {
	s := d.settings[legacyEnabledKey]
	v, err := resolveRefs(ctx, s.raw, lookup)
	if err != nil {
		d.add(legacyEnabledKey, err.Error())
		return
	}
	if strings.TrimSpace(v) == "" {
		return
	}
	on, err := parseBool(v)
	if err != nil {
		d.add(legacyEnabledKey, err.Error())
		return
	}
	d.cfg.legacyDisabled = !on
	d.warn(legacyEnabledKey, "KETE's legacy unprefixed switch; read as kete.enabled (write kete.enabled instead)")
}

// ErrNoRoutes is returned by NothingToRun when a daemon would forward nothing.
var ErrNoRoutes = errors.New("no routes to run")

// NothingToRun says why `kete run` would forward no event, or nil when some route runs
// or kete.enabled=false says so on purpose. A daemon without routes would take events
// in, spool them and send them nowhere; the usual cause is configuration kete did not
// see (a file not passed, variables misnamed), so it is an error, not a quiet exit.
func (c *Config) NothingToRun() error {
	if !c.Enabled {
		return nil
	}
	var skipped []string
	for _, r := range c.Routes {
		if r.Enabled {
			return nil
		}
		skipped = append(skipped, "route "+r.Name+" ("+r.Skipped+")")
	}
	if len(skipped) == 0 {
		return fmt.Errorf("%w: none configured; set kete.routes.<name>.destination.url=ws://… in the --config file, or as an environment variable of that name (KETE's way) or KETE_ROUTES_<NAME>_DESTINATION_URL", ErrNoRoutes)
	}
	return fmt.Errorf("%w: every route is skipped: %s", ErrNoRoutes, strings.Join(skipped, "; "))
}
