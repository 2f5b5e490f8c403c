package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childEnv makes the test binary run `kete bench` with the arguments it holds
// ("bench\x1fhub\x1f…") instead of running tests, so that the child-process path
// (startChild, /proc of another pid, Stop) and the children of `bench fanout --self` are
// tested for real.
const childEnv = "KETE_BENCH_TEST_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(childEnv); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := Run(ctx, strings.Split(args, "\x1f")[1:], os.Stdout, os.Stderr, Options{}); err != nil {
			fmt.Fprintln(os.Stderr, "kete bench:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestChildHubMeasuredFromProc(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	child, err := startChild(ctx, []string{os.Args[0]}, []string{childEnv + "=bench\x1fhub"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = child.stop()
		}
	}()
	if child.PID == os.Getpid() || child.Addr == "" {
		t.Fatalf("child %+v", child)
	}
	res, err := runFanout(ctx, target{Name: "hub", Kind: kindHub, URL: "ws://" + child.Addr, PID: child.PID},
		fanoutOptions{Subscribers: 20, Rate: 8000, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, res, 20, 200)
	if res.RSSBefore <= 0 || res.RSSConnected <= 0 {
		t.Errorf("no RSS from /proc/%d: before %d, connected %d", child.PID, res.RSSBefore, res.RSSConnected)
	}
	if res.ServerCPU < 0 || res.HostCPUs < 1 {
		t.Errorf("server CPU %v, host CPUs %d", res.ServerCPU, res.HostCPUs)
	}
	stopped = true
	if err := child.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := readProc(child.PID); err == nil {
		t.Errorf("child %d still readable in /proc after Stop", child.PID)
	}
}

func TestStartChildRefusesSilentCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// "true" exits at once without the listening line.
	if _, err := startChild(ctx, []string{"true"}, nil, io.Discard); err == nil {
		t.Fatal("no error from a child that never listened")
	}
}
