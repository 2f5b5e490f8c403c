package bench

import (
	"context"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// startHub serves a Hub on 127.0.0.1 for the test.
func startHub(t *testing.T) (*bareHub, string) {
	t.Helper()
	h := newBareHub()
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		_ = h.Close()
		srv.Close()
	})
	return h, "ws://" + srv.Listener.Addr().String()
}

func TestFanoutAgainstHub(t *testing.T) {
	_, url := startHub(t)
	for _, mode := range []publishMode{publishHTTP, publishWS} {
		t.Run(string(mode), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			// 20 subscribers, 200 messages: 4,000 deliveries over 0.5s.
			res, err := runFanout(ctx, target{Name: "hub", Kind: kindHub, URL: url}, fanoutOptions{
				Subscribers: 20, Rate: 8000, Duration: 500 * time.Millisecond, Publish: mode, Size: 100,
			})
			if err != nil {
				t.Fatal(err)
			}
			checkClean(t, res, 20, 200)
		})
	}
}

func checkClean(t *testing.T, res *result, subs int, msgs int64) {
	t.Helper()
	if res.Connected != subs {
		t.Errorf("connected %d, want %d (errors %v)", res.Connected, subs, res.Errors)
	}
	if res.Sent != msgs {
		t.Errorf("sent %d messages, want %d (errors %v)", res.Sent, msgs, res.Errors)
	}
	if res.Expected != res.Sent*int64(subs) || res.Received != res.Expected || res.Loss != 0 {
		t.Errorf("expected %d received %d loss %d", res.Expected, res.Received, res.Loss)
	}
	l := res.Latency
	if l.Count != uint64(res.Received) || l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.P999 || l.P999 > l.Max {
		t.Errorf("latency summary not ordered: %+v", l)
	}
	if res.DeliveriesPerSec <= 0 || res.Elapsed <= 0 {
		t.Errorf("rate %v over %v", res.DeliveriesPerSec, res.Elapsed)
	}
	var tl int64
	for _, n := range res.Timeline {
		tl += n
	}
	if tl != res.Received {
		t.Errorf("timeline holds %d deliveries, received %d", tl, res.Received)
	}
}

func TestFanoutSaturateHub(t *testing.T) {
	_, url := startHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := runFanout(ctx, target{Name: "hub", Kind: kindHub, URL: url}, fanoutOptions{
		Mode: modeSaturate, Subscribers: 10, Duration: 300 * time.Millisecond, Publish: publishWS, Window: 16,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent == 0 || res.Loss != 0 || res.Received != res.Sent*10 {
		t.Fatalf("sent %d received %d loss %d errors %v", res.Sent, res.Received, res.Loss, res.Errors)
	}
}

func TestFanoutRefusesRemoteUnlessExplicit(t *testing.T) {
	_, err := runFanout(context.Background(), target{Name: "hub", Kind: kindHub, URL: "ws://192.0.2.1:9"}, fanoutOptions{Subscribers: 1})
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("err = %v, want a loopback refusal", err)
	}
}

func TestFanoutDialErrorNamesURL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := runFanout(ctx, target{Name: "hub", Kind: kindHub, URL: "ws://127.0.0.1:1"}, fanoutOptions{Subscribers: 3, ConnectTimeout: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("err = %v, want one naming the url", err)
	}
}

// TestFanoutSpreadsSourceAddresses: with SourceIPs, subscribers come from several
// loopback addresses (what lets 100,000 of them reach one node), and every one is served.
func TestFanoutSpreadsSourceAddresses(t *testing.T) {
	h := newBareHub()
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			mu.Lock()
			seen[host]++
			mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { _ = h.Close(); srv.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := runFanout(ctx, target{Name: "hub", Kind: kindHub, URL: "ws://" + srv.Listener.Addr().String()}, fanoutOptions{
		Subscribers: 9, SourceIPs: 3, Rate: 900, Duration: 500 * time.Millisecond, Size: 100,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, res, 9, 50)
	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{"127.0.0.1": 3, "127.0.0.2": 3, "127.0.0.3": 3}
	if !maps.Equal(seen, want) {
		t.Errorf("subscribers by source address %v, want %v", seen, want)
	}
}

func TestSourceDialersOnlyOnIPv4Loopback(t *testing.T) {
	for _, tt := range []struct {
		urls []string
		n    int
		want int
	}{
		{[]string{"ws://127.0.0.1:1/x"}, 4, 4},
		{[]string{"ws://127.0.0.1:1", "ws://127.0.0.9:2"}, 2, 2},
		{[]string{"ws://localhost:1"}, 4, 1}, // a name: the kernel picks the source
		{[]string{"ws://[::1]:1"}, 4, 1},
		{[]string{"ws://127.0.0.1:1"}, 1, 1},
	} {
		d, err := sourceDialers(tt.urls, tt.n)
		if err != nil || len(d) != tt.want {
			t.Errorf("sourceDialers(%v, %d) = %d dialers, %v; want %d", tt.urls, tt.n, len(d), err, tt.want)
		}
	}
	if _, err := sourceDialers([]string{"ws://127.0.0.1:1"}, 300); err == nil || !strings.Contains(err.Error(), "254") {
		t.Errorf("300 source addresses: %v, want an error naming the 254 limit", err)
	}
}

// TestFanoutHubReport was the package's example: a fan-out run against the bare gws hub,
// 3 subscribers, 300 deliveries/s (100 messages/s) for 300ms, then the report as a table.
func TestFanoutHubReport(t *testing.T) {
	_, url := startHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := runFanout(ctx, target{Name: "hub", Kind: kindHub, URL: url},
		fanoutOptions{Subscribers: 3, Rate: 300, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 30 || res.Received != 90 || res.Expected != 90 || res.Loss != 0 {
		t.Errorf("sent %d messages, delivered %d of %d, lost %d; want 30, 90 of 90, 0", res.Sent, res.Received, res.Expected, res.Loss)
	}
	rep := newReport("example", "TestFanoutHubReport")
	rep.Fanout = append(rep.Fanout, res)
	var table strings.Builder
	if err := rep.writeTable(&table); err != nil || !strings.Contains(table.String(), "hub") {
		t.Errorf("table: %v\n%s", err, table.String())
	}
}
