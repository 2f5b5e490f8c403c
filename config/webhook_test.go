package config

import (
	"strings"
	"testing"
)

func TestOpenWebhook(t *testing.T) {
	for _, tc := range []struct {
		listen string
		open   bool
	}{
		{":8081", true},
		{"0.0.0.0:8081", true},
		{"[::]:8081", true},
		{"10.0.0.5:8081", true},
		{"kete.internal:8081", true},
		{"127.0.0.1:8081", false},
		{"127.0.0.2:8081", false},
		{"[::1]:8081", false},
		{"localhost:8081", false},
		{"LOCALHOST.:8081", false},
		{"kete.localhost:8081", false},
	} {
		w := WebhookSettings{Enabled: true, Listen: tc.listen}
		if got := w.Open(); got != tc.open {
			t.Errorf("webhook on %s without auth: Open() = %v, want %v", tc.listen, got, tc.open)
		}
		for _, auth := range []WebhookSettings{{Secret: "s"}, {BearerToken: "t"}, {BasicUsername: "u", BasicPassword: "p"}} {
			auth.Enabled, auth.Listen = true, tc.listen
			if auth.Open() {
				t.Errorf("webhook on %s with %+v: Open() = true", tc.listen, auth)
			}
		}
		if (WebhookSettings{Listen: tc.listen}).Open() {
			t.Errorf("a disabled webhook on %s is open", tc.listen)
		}
	}
}

// The warning names the key and the address, and is among Config.Warnings, which
// `kete check` prints and `kete run` logs.
func TestOpenWebhookWarning(t *testing.T) {
	c := parse(t, "kete.sources.webhook.enabled=true\n")
	if len(c.Warnings) != 1 || c.Warnings[0].Key != "kete.sources.webhook.listen" || !strings.Contains(c.Warnings[0].Reason, "the webhook on :8081 takes events from anyone") {
		t.Errorf("warnings %v, want one about the open webhook on :8081", c.Warnings)
	}
	if c := parse(t, "kete.sources.webhook.enabled=true\nkete.sources.webhook.secret=${env:HMAC}\n", "HMAC=k"); len(c.Warnings) != 0 {
		t.Errorf("warnings %v with a secret, want none", c.Warnings)
	}
}
