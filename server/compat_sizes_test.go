package server

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestPublishSizes: an HTTP publish takes a message of at most 5 KiB by default, like a
// client frame (the platform: "Max message payload size is 5KB"), and no publish reaches
// subscribers in a frame over 6 KiB, the Go SDK's read limit.
func TestPublishSizes(t *testing.T) {
	app := testApp("a", secretA)
	big := testApp("big", secretB)
	big.Limits.MaxPublishSize = 16 << 10
	_, hs := startServer(t, Options{Apps: []App{app, big}})
	admin := mint(t, secretAdmin, "ops", time.Hour, "realtime:publisher:write:topic:*")
	sub := connect(t, hs, "a", mint(t, secretA, "reader", time.Hour))
	sub.Subscribe("news")
	// A JSON string of n bytes in all, quotes included.
	msg := func(n int) string { return strings.Repeat("x", n-2) }

	tests := []struct {
		name, app string
		size      int
		want      int
	}{
		{"5 KiB message accepted", "a", DefaultMaxPublishSize, 200},
		{"one byte over 5 KiB refused", "a", DefaultMaxPublishSize + 1, 413},
		{"over 5 KiB where the app allows it, frame within 6 KiB", "big", 6<<10 - 100, 200},
		{"frame over 6 KiB refused even where the app allows the message", "big", 6 << 10, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, body := apiCall(t, hs, "POST", "/api/topics/"+tt.app+"/publish", admin, map[string]any{"topic": "news", "message": msg(tt.size)})
			if st != tt.want {
				t.Fatalf("publish of %d bytes: %d %v, want %d", tt.size, st, body, tt.want)
			}
		})
	}
	if f := sub.WaitFor("news", "broadcast"); len(f.Raw) > DefaultMaxDeliveredSize {
		t.Fatalf("delivered frame of %d bytes, over %d", len(f.Raw), DefaultMaxDeliveredSize)
	}

	t.Run("client publish whose delivered frame would be over 6 KiB closes 1009", func(t *testing.T) {
		// A frame within 5 KiB, but the server adds the publisher's client object with its
		// permissions, which here take over 1 KiB.
		perms := []string{"realtime:publisher:write:topic:*"}
		for i := range 30 {
			perms = append(perms, fmt.Sprintf("realtime:subscriber:read:topic:secure/area-%02d/*", i))
		}
		pub := connect(t, hs, "a", mint(t, secretA, "writer", time.Hour, perms...))
		pub.Send(map[string]any{"type": "publish", "data": map[string]any{"topic": "news", "payload": strings.Repeat("y", 4900), "id": "big"}})
		if ce := pub.WaitClosed(); ce.Code != CloseMessageTooBig || string(ce.Reason) != ReasonDeliveredTooBig {
			t.Fatalf("closed with %d %q, want %d %q", ce.Code, ce.Reason, CloseMessageTooBig, ReasonDeliveredTooBig)
		}
	})
}
