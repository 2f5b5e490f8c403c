package config

import (
	"errors"
	"strings"
	"testing"
)

// TestListenPortOutOfRangeNamesTheKey: a port net.Listen would refuse only at start is
// refused by the loader, with the key and what was wanted.
func TestListenPortOutOfRangeNamesTheKey(t *testing.T) {
	for _, tc := range []struct{ key, value, want string }{
		{"kete.server.listen", ":99999", "port 99999 is out of range: want 0 to 65535"},
		{"kete.sources.webhook.listen", "127.0.0.1:-1", "out of range"},
		{"kete.sources.webhook.listen", "8081", "want host:port"},
		{"kete.server.listen", "localhost:eighty", `port "eighty" is not a number`},
	} {
		_, err := Parse([]byte(tc.key+"="+tc.value+"\n"), "properties", nil)
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Problems) != 1 {
			t.Errorf("%s=%s: err = %v, want one problem", tc.key, tc.value, err)
			continue
		}
		if p := ve.Problems[0]; p.Key != tc.key || !strings.Contains(p.Reason, tc.want) {
			t.Errorf("%s=%s: problem = %s, want key %s and %q", tc.key, tc.value, p, tc.key, tc.want)
		}
	}
	for _, ok := range []string{":8080", "127.0.0.1:0", "[::1]:65535", "localhost:http"} {
		if _, err := Parse([]byte("kete.server.listen="+ok+"\n"), "properties", nil); err != nil {
			t.Errorf("kete.server.listen=%s: %v", ok, err)
		}
	}
}
