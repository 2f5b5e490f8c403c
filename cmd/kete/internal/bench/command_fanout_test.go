package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/syncbuf"
)

// testChildCommand runs children as this test binary re-run as `kete bench` (see
// TestMain).
func testChildCommand(args ...string) (argv, env []string) {
	return []string{os.Args[0], "-test.run=^$"}, []string{childEnv + "=" + strings.Join(args, "\x1f")}
}

// TestBenchFanoutThreeNodesVsOne runs `kete bench fanout --self --nodes 3 --nats URL
// --compare-nodes 1` with four child `kete bench server` processes on a NATS embedded in
// the test, and checks that every subscriber on every node of both sides got every
// message and that the report has both sides and their ratios.
func TestBenchFanoutThreeNodesVsOne(t *testing.T) {
	natsURL := startNATS(t)
	jsonPath := filepath.Join(t.TempDir(), "report.json")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var (
		stdout bytes.Buffer
		stderr syncbuf.Buffer // the children's stderr copiers and the progress write here at once
	)
	err := runFanoutCommand(ctx, []string{
		"--self", "--nodes", "3", "--nats", natsURL, "--compare-nodes", "1",
		"--subscribers", "30", "--rate", "3000", "--duration", "1s", "--rounds", "1",
		"--publishers", "3", "--json", jsonPath,
	}, &stdout, &stderr, testChildCommand)
	if err != nil {
		t.Fatalf("bench fanout: %v\nstderr:\n%s", err, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"figure (3 nodes ÷ 1 node)", "NATS broker at " + natsURL, "NATS runs outside this bench"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("report JSON: %v", err)
	}
	if rep.Pair == nil || rep.Pair.Subject != "3 nodes" || rep.Pair.Baseline != "1 node" {
		t.Errorf("pair %+v", rep.Pair)
	}
	if len(rep.Fanout) != 2 {
		t.Fatalf("%d runs, want 2 (3 nodes, 1 node)", len(rep.Fanout))
	}
	for i, want := range []struct {
		name  string
		nodes int
	}{{"3 nodes", 3}, {"1 node", 1}} {
		res := rep.Fanout[i]
		if res.Target.Name != want.name || len(res.Target.PIDs) != want.nodes {
			t.Errorf("run %d: target %q with %d pids, want %q with %d", i, res.Target.Name, len(res.Target.PIDs), want.name, want.nodes)
		}
		if res.Connected != 30 || res.Sent != 100 || res.Received != 3000 || res.Loss != 0 {
			t.Errorf("%s: connected %d, sent %d, received %d, loss %d (errors %v)", res.Target.Name, res.Connected, res.Sent, res.Received, res.Loss, res.Errors)
		}
		if res.SubscriberMin != res.Sent || res.SubscriberMax != res.Sent {
			t.Errorf("%s: a subscriber got between %d and %d messages, want all %d", res.Target.Name, res.SubscriberMin, res.SubscriberMax, res.Sent)
		}
		if len(res.PerNode) != want.nodes {
			t.Fatalf("%s: %d nodes in the report, want %d", res.Target.Name, len(res.PerNode), want.nodes)
		}
		for _, n := range res.PerNode {
			if n.Subscribers != 30/want.nodes || n.Received != int64(n.Subscribers)*res.Sent {
				t.Errorf("%s: node %s: %d subscribers received %d", res.Target.Name, n.URL, n.Subscribers, n.Received)
			}
		}
		if res.ServerCPU <= 0 || res.RSSConnected <= 0 {
			t.Errorf("%s: server CPU %v, RSS %d: not read from the nodes' /proc", res.Target.Name, res.ServerCPU, res.RSSConnected)
		}
	}
	figures := map[string]bool{}
	for _, r := range rep.Ratios {
		figures[r.Figure] = r.Subject > 0 || r.Figure == "fan-out loss"
	}
	for _, f := range []string{"fan-out deliveries/s", "fan-out server CPU seconds", "fan-out p99 latency", "fan-out loss"} {
		if !figures[f] {
			t.Errorf("no ratio for %q in %+v", f, rep.Ratios)
		}
	}
}

func TestBenchFanoutClusterFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"nodes without nats", []string{"--self", "--nodes", "3"}, "--nats"},
		{"compare without nats", []string{"--self", "--compare-nodes", "1"}, "--nats"},
		{"nodes without self", []string{"--url", "ws://127.0.0.1:1", "--app", "a", "--token", "t", "--nodes", "3"}, "--self"},
		{"compare equals nodes", []string{"--self", "--nodes", "3", "--compare-nodes", "3", "--nats", "nats://127.0.0.1:4222"}, "--compare-nodes 3"},
		{"compare with baseline", []string{"--self", "--nodes", "3", "--compare-nodes", "1", "--nats", "nats://127.0.0.1:4222", "--baseline"}, "--baseline"},
		{"nats not a nats url", []string{"--self", "--nodes", "2", "--nats", "http://127.0.0.1:4222"}, "http://127.0.0.1:4222"},
		{"zero nodes", []string{"--self", "--nodes", "0"}, "--nodes 0"},
		{"nats unreachable", []string{"--self", "--nodes", "2", "--nats", "nats://127.0.0.1:1"}, "nats://127.0.0.1:1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			err := runFanoutCommand(ctx, tc.args, &stdout, &stderr, testChildCommand)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
			if tc.name != "nats unreachable" && !errors.Is(err, ErrUsage) {
				t.Errorf("err = %v, want a usage error", err)
			}
		})
	}
}

func TestBenchServerNATSFlags(t *testing.T) {
	t.Setenv(secretEnv, strings.Repeat("s", 64))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad scheme", []string{"--nats", "ws://127.0.0.1:4222"}, "ws://127.0.0.1:4222"},
		{"prefix without nats", []string{"--subject-prefix", "x"}, "--subject-prefix needs --nats"},
		{"unreachable", []string{"--nats", "nats://127.0.0.1:1"}, "nats://127.0.0.1:1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			err := runServerCommand(ctx, append([]string{"--listen", "127.0.0.1:0"}, tc.args...), &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
}
