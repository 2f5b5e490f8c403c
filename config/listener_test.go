package config

import (
	"strings"
	"testing"
	"time"
)

// TestListenerKeys: kete.server.http.* and kete.sources.webhook.http.* set each
// listener's bounds; -1 turns one off; a bad value is an error naming its key.
func TestListenerKeys(t *testing.T) {
	c, err := Parse([]byte(`
kete.server.http.read-header-timeout=5s
kete.server.http.read-timeout=-1
kete.server.http.write-timeout=PT2M
kete.server.http.idle-timeout=90s
kete.server.http.max-connections-per-address=1000
kete.sources.webhook.http.read-timeout=15s
kete.sources.webhook.http.max-connections-per-address=-1
`), "properties", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := HTTPListenerSettings{ReadHeaderTimeout: 5 * time.Second, ReadTimeout: -1, WriteTimeout: 2 * time.Minute, IdleTimeout: 90 * time.Second, MaxConnsPerAddress: 1000}
	if c.Server.HTTP != want {
		t.Errorf("server: %+v, want %+v", c.Server.HTTP, want)
	}
	if w := (HTTPListenerSettings{ReadTimeout: 15 * time.Second, MaxConnsPerAddress: -1}); c.Sources.Webhook.HTTP != w {
		t.Errorf("webhook: %+v, want %+v", c.Sources.Webhook.HTTP, w)
	}
	for _, bad := range []string{
		"kete.server.http.read-timeout=soon",
		"kete.server.http.idle-timeout=0",
		"kete.sources.webhook.http.max-connections-per-address=-2",
	} {
		_, err := Parse([]byte(bad), "properties", nil)
		if key, _, _ := strings.Cut(bad, "="); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: err = %v, want one naming the key", bad, err)
		}
	}
}
