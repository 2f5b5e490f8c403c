package server_test

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestNPMClient runs the official realtime-pubsub-client npm package (1.0.0) against the
// server: two clients connect (session.started with the connection's id, appId and
// remote address), subscribe (confirmed by the topic's welcome), one publishes a request
// and gets the server's ack (waitForAck) and the other's answer (reply → waitForReply),
// then does the same with an inbound message through secure/inbound; a compress:true
// publish comes back as a binary frame; presence (code 0, then -1) reaches the responder.
// See testdata/node/npmclient.mjs.
func TestNPMClient(t *testing.T) {
	node, _ := nodeToolsOrSkip(t, false, "realtime-pubsub-client", "ws")
	app := startNodeTestServer(t)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	script := startNodeScript(ctx, t, node, nodeTestDir+"/npmclient.mjs",
		"KETE_WS_URL=ws"+strings.TrimPrefix(app.URL, "http"),
		"KETE_APP="+app.ID,
		"KETE_REQUESTER_TOKEN="+app.clientToken(t, "requester",
			"realtime:publisher:write:topic:rpc", "realtime:publisher:write:topic:zipped"),
		// The responder replies on priv/{connectionId} and reads secure/inbound.
		"KETE_RESPONDER_TOKEN="+app.clientToken(t, "responder",
			"realtime:publisher:write:topic:priv/*", "realtime:subscriber:read:topic:secure/inbound"),
	)
	passed := 0
	for {
		m := script.next(ctx, t)
		if f, ok := m["failed"]; ok {
			t.Fatalf("npm client: %v\nstderr:\n%s", f, script.stderr)
		}
		if ok, isCheck := m["ok"].(string); isCheck {
			passed++
			t.Logf("ok: %s", ok)
		}
		if m["ok"] == "responder: presence code -1 when the requester leaves" {
			break
		}
	}
	if err := script.cmd.Wait(); err != nil {
		t.Fatalf("npm client script: %v\nstderr:\n%s", err, script.stderr)
	}
	if passed < 15 {
		t.Fatalf("npm client script passed %d checks, want every one (15+)", passed)
	}
}
