package keycloak

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRateLogSaysHowManyItLeftOut(t *testing.T) {
	var buf strings.Builder
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	now := time.Unix(1_700_000_000, 0)
	l := newRateLog(10 * time.Second)
	l.now = func() time.Time { return now }
	for range 5 {
		l.log(logger, "signature", slog.LevelWarn, "refused")
	}
	l.log(logger, "full", slog.LevelWarn, "refused") // another reason has its own allowance
	now = now.Add(10 * time.Second)
	l.log(logger, "signature", slog.LevelWarn, "refused")

	var suppressed []any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		suppressed = append(suppressed, rec["suppressed"])
	}
	want := []any{nil, nil, float64(4)}
	if len(suppressed) != len(want) || suppressed[0] != want[0] || suppressed[1] != want[1] || suppressed[2] != want[2] {
		t.Errorf("suppressed counts per line %v, want %v", suppressed, want)
	}
}
