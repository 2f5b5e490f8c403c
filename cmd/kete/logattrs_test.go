package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"
)

// TestLogDurationsInSecondsAndSecretsMasked: a JSON log line gives a duration as seconds
// under a key that says so (slog alone writes nanoseconds: "wait":1500000000), and the
// redactor still masks secrets in the same line.
func TestLogDurationsInSecondsAndSecretsMasked(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: replaceLogAttr}))
	log.Warn("x", "wait", 1500*time.Millisecond, "down_for_seconds", 2*time.Minute,
		"err", errors.New(`Post "http://kc/token?client_secret=S3CRET": refused`))
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m["wait_seconds"] != 1.5 || m["down_for_seconds"] != float64(120) || m["wait"] != nil {
		t.Errorf("durations: %s; want wait_seconds 1.5 and down_for_seconds 120", buf.Bytes())
	}
	if bytes.Contains(buf.Bytes(), []byte("S3CRET")) {
		t.Errorf("secret not masked: %s", buf.Bytes())
	}
}
