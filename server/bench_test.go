package server

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lxzan/gws"
)

// countingClient counts the data frames it receives.
type countingClient struct {
	gws.BuiltinEventHandler
	n *atomic.Int64
}

func (c countingClient) OnMessage(_ *gws.Conn, m *gws.Message) {
	c.n.Add(1)
	m.Close()
}

// bareHub is the baseline of issue 5: a gws Broadcaster hub with no auth and no protocol.
type bareHub struct {
	gws.BuiltinEventHandler
	up    *gws.Upgrader
	mu    sync.RWMutex
	conns map[*gws.Conn]struct{}
	wg    sync.WaitGroup
}

func newBareHub(opt *gws.ServerOption) *bareHub {
	h := &bareHub{conns: map[*gws.Conn]struct{}{}}
	h.up = gws.NewUpgrader(h, opt)
	return h
}

func (h *bareHub) OnOpen(c *gws.Conn) { h.mu.Lock(); h.conns[c] = struct{}{}; h.mu.Unlock() }
func (h *bareHub) OnClose(c *gws.Conn, _ error) {
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
}

func (h *bareHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := h.up.Upgrade(w, r)
	if err != nil {
		return
	}
	h.wg.Add(1)
	go func() { defer h.wg.Done(); c.ReadLoop() }()
}

func (h *bareHub) broadcast(p []byte) {
	b := gws.NewBroadcaster(gws.OpcodeText, p)
	h.mu.RLock()
	for c := range h.conns {
		_ = b.Broadcast(c)
	}
	h.mu.RUnlock()
	_ = b.Close()
}

func (h *bareHub) len() int { h.mu.RLock(); defer h.mu.RUnlock(); return len(h.conns) }

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFanout publishes 100-byte frames to N subscribers of one topic over loopback
// and reports deliveries per second and CPU per delivery, for kete's server and for a bare
// gws Broadcaster hub under the same clients. The subscriber clients run in this process,
// so CPU is the whole process's; compare the two targets, not absolute values.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{10, 500, 2000} {
		b.Run(fmt.Sprintf("kete/subscribers=%d", n), func(b *testing.B) { benchFanout(b, n, false, false) })
		b.Run(fmt.Sprintf("bare-gws/subscribers=%d", n), func(b *testing.B) { benchFanout(b, n, true, false) })
		// compress:true to subscribers that negotiated permessage-deflate (deflate.go).
		b.Run(fmt.Sprintf("kete-compress/subscribers=%d", n), func(b *testing.B) { benchFanout(b, n, false, true) })
	}
}

func benchFanout(b *testing.B, subs int, bare, compress bool) {
	var (
		url     string
		publish func(p []byte)
		ready   func() bool
	)
	var received atomic.Int64
	// 100-byte frames on the wire in both cases.
	payload := []byte(`"` + strings.Repeat("x", 55) + `"`)
	if bare {
		h := newBareHub(&gws.ServerOption{})
		hs := httptest.NewServer(h)
		b.Cleanup(hs.Close)
		url = wsURL(hs, "/")
		frame := []byte(`{"topic":"main","messageType":"broadcast","data":` + string(payload) + `}`)
		publish = func([]byte) { h.broadcast(frame) }
		ready = func() bool { return h.len() >= subs }
	} else {
		app := testApp("a", secretA)
		app.Limits.MaxBacklog = 1 << 20
		app.OneConnectionPerUser = OnePerUserOff // every subscriber has the one token
		s, hs := startServer(b, Options{Apps: []App{app}})
		url = wsURL(hs, "/apps/a?access_token="+mint(b, secretA, "bench", time.Hour))
		publish = func(p []byte) {
			if err := s.publish(s.ctx, "a", "main", Message{Data: p, Binary: compress}); err != nil {
				b.Fatal(err)
			}
		}
		ready = func() bool { return received.Load() >= int64(subs) } // welcomes
	}
	var conns []*gws.Conn
	for range subs {
		c, _, err := gws.NewClient(countingClient{n: &received}, &gws.ClientOption{Addr: url,
			PermessageDeflate: gws.PermessageDeflate{Enabled: compress}})
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		go c.ReadLoop()
	}
	b.Cleanup(func() {
		for _, c := range conns {
			_ = c.WriteClose(1000, nil)
		}
	})
	waitUntil(b, "subscribers ready", ready)
	received.Store(0)

	const window = 64
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		publish(payload)
		if (i+1)%window == 0 {
			// Stay at most one window ahead of the slowest subscriber.
			want := int64(i+1-window) * int64(subs)
			deadline := time.Now().Add(30 * time.Second)
			for received.Load() < want && time.Now().Before(deadline) {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}
	want := int64(b.N) * int64(subs)
	deadline := time.Now().Add(60 * time.Second)
	for received.Load() < want && time.Now().Before(deadline) {
		time.Sleep(100 * time.Microsecond)
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	if got := received.Load(); got < want {
		b.Fatalf("delivered %d of %d", got, want)
	}
	b.ReportMetric(float64(want)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(want)/cpu.Seconds(), "deliveries/cpu-s")
}

// TestIdleClientsHelper is not a test: run as a child process by BenchmarkIdleMemory
// (KETE_IDLE_URL set), it opens KETE_IDLE_N connections, prints "ready" and holds them
// until its stdin closes.
func TestIdleClientsHelper(t *testing.T) {
	url := os.Getenv("KETE_IDLE_URL")
	if url == "" {
		t.Skip("helper process for BenchmarkIdleMemory")
	}
	n, _ := strconv.Atoi(os.Getenv("KETE_IDLE_N"))
	var conns []*gws.Conn
	for range n {
		c, _, err := gws.NewClient(&gws.BuiltinEventHandler{}, &gws.ClientOption{Addr: url})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		conns = append(conns, c)
		go c.ReadLoop()
	}
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	for _, c := range conns {
		_ = c.NetConn().Close()
	}
	os.Exit(0)
}

// rss returns this process's resident set size in bytes.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// BenchmarkIdleMemory opens KETE_IDLE_CONNS (default 2,000) idle connections from a child
// process and reports the server process's RSS and Go heap and stack growth per
// connection, for kete's server and for the bare gws hub. KETE_IDLE_SETTLE (a duration)
// waits before measuring, as a server that has been idle for a while. Run each target in a
// process of its own (-bench 'BenchmarkIdleMemory/kete$') for a clean RSS figure.
func BenchmarkIdleMemory(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("KETE_IDLE_CONNS")); err == nil && v > 0 {
		n = v
	}
	for _, target := range []string{"kete", "bare-gws", "bare-gws-1KiB"} {
		b.Run(target, func(b *testing.B) {
			for range b.N {
				idleMemory(b, target, n)
			}
		})
	}
}

func idleMemory(b *testing.B, target string, n int) {
	var url string
	var count func() int
	switch target {
	case "kete":
		app := testApp("a", secretA)
		app.OneConnectionPerUser = OnePerUserOff // every connection has the one token
		s, hs := startServer(b, Options{Apps: []App{app}})
		url = wsURL(hs, "/apps/a?access_token="+mint(b, secretA, "idle", time.Hour))
		count = func() int { _, h := s.app("a"); c, _ := h.counts(); return c }
	default:
		opt := &gws.ServerOption{}
		if target == "bare-gws-1KiB" {
			opt.ReadBufferSize = 1024
		}
		h := newBareHub(opt)
		hs := httptest.NewServer(h)
		b.Cleanup(hs.Close)
		url = wsURL(hs, "/")
		count = h.len
	}
	runtime.GC()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	rss0 := rss()

	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClientsHelper$")
	cmd.Env = append(os.Environ(), "KETE_IDLE_URL="+url, "KETE_IDLE_N="+strconv.Itoa(n))
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if !strings.HasPrefix(line, "ready") {
		b.Fatalf("helper: %q", line)
	}
	waitUntil(b, "connections open", func() bool { return count() >= n })
	if v, err := time.ParseDuration(os.Getenv("KETE_IDLE_SETTLE")); err == nil {
		time.Sleep(v) // let the runtime's scavenger return freed pages, as an idle server would
	}
	runtime.GC()
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	rss1 := rss()
	if path := os.Getenv("KETE_IDLE_HEAPPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			_ = pprof.Lookup("heap").WriteTo(f, 0)
			_ = f.Close()
		}
	}
	b.ReportMetric(float64(rss1-rss0)/float64(n)/1024, "RSS-KiB/conn")
	b.ReportMetric(float64(int64(m1.HeapInuse)-int64(m0.HeapInuse))/float64(n)/1024, "heap-KiB/conn")
	b.ReportMetric(float64(int64(m1.StackInuse)-int64(m0.StackInuse))/float64(n)/1024, "stack-KiB/conn")
}

// latencyClient records publish→receive latency from a unix-nanosecond timestamp the
// payload carries right after its first '"'.
type latencyClient struct {
	gws.BuiltinEventHandler
	n    *atomic.Int64
	hist *latencyHist
}

func (c latencyClient) OnMessage(_ *gws.Conn, m *gws.Message) {
	now := time.Now().UnixNano()
	b := m.Bytes()
	m2 := strings.IndexByte(string(b), '#')
	if m2 >= 0 {
		end := m2 + 1
		for end < len(b) && b[end] >= '0' && b[end] <= '9' {
			end++
		}
		if ts, err := strconv.ParseInt(string(b[m2+1:end]), 10, 64); err == nil {
			c.hist.add(time.Duration(now - ts))
		}
	}
	c.n.Add(1)
	m.Close()
}

// latencyHist is a histogram with 50µs buckets up to 1s.
type latencyHist struct {
	buckets [20001]atomic.Int64
}

func (h *latencyHist) add(d time.Duration) {
	i := int(d / (50 * time.Microsecond))
	if i < 0 {
		i = 0
	}
	if i >= len(h.buckets) {
		i = len(h.buckets) - 1
	}
	h.buckets[i].Add(1)
}

func (h *latencyHist) quantile(q float64) time.Duration {
	var total int64
	for i := range h.buckets {
		total += h.buckets[i].Load()
	}
	target := int64(q * float64(total))
	var seen int64
	for i := range h.buckets {
		seen += h.buckets[i].Load()
		if seen >= target && seen > 0 {
			return time.Duration(i+1) * 50 * time.Microsecond
		}
	}
	return 0
}

// BenchmarkFanoutRate is issue 5's fixed-rate case: 2,000 subscribers, 25 messages/s of
// about 100 bytes (50,000 deliveries/s) for KETE_RATE_SECONDS (default 3) seconds, for
// kete and the bare gws hub; it reports deliveries per CPU-second (whole process,
// clients included) and p50/p99 publish→receive latency. Run with -benchtime 1x.
func BenchmarkFanoutRate(b *testing.B) {
	subs, rate := 2000, 25
	secs := 3
	if v, err := strconv.Atoi(os.Getenv("KETE_RATE_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	for _, bare := range []bool{false, true} {
		name := "kete"
		if bare {
			name = "bare-gws"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				fanoutRate(b, subs, rate, time.Duration(secs)*time.Second, bare)
			}
		})
	}
}

// TestFanoutClientsHelper is not a test: run as a child process by BenchmarkFanoutRate
// (KETE_FANOUT_URL set), it opens KETE_FANOUT_N subscribers, prints "ready", waits for a
// line with the number of deliveries to expect, and prints "received N p50NS p99NS".
func TestFanoutClientsHelper(t *testing.T) {
	url := os.Getenv("KETE_FANOUT_URL")
	if url == "" {
		t.Skip("helper process for BenchmarkFanoutRate")
	}
	n, _ := strconv.Atoi(os.Getenv("KETE_FANOUT_N"))
	var received atomic.Int64
	hist := &latencyHist{}
	for range n {
		c, _, err := gws.NewClient(latencyClient{n: &received, hist: hist}, &gws.ClientOption{Addr: url})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		go c.ReadLoop()
	}
	deadline := time.Now().Add(30 * time.Second)
	for received.Load() < int64(n) && time.Now().Before(deadline) { // welcomes (kete only)
		if os.Getenv("KETE_FANOUT_WELCOME") == "" {
			break
		}
		time.Sleep(time.Millisecond)
	}
	received.Store(0)
	*hist = latencyHist{}
	fmt.Println("ready")
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	want, _ := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
	deadline = time.Now().Add(30 * time.Second)
	for received.Load() < want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	fmt.Println("received", received.Load(), int64(hist.quantile(0.5)), int64(hist.quantile(0.99)))
	os.Exit(0)
}

func fanoutRate(b *testing.B, subs, rate int, d time.Duration, bare bool) {
	var url string
	var publish func(p []byte)
	var ready func() bool
	env := []string{}
	if bare {
		h := newBareHub(&gws.ServerOption{})
		hs := httptest.NewServer(h)
		b.Cleanup(hs.Close)
		url = wsURL(hs, "/")
		publish = func(p []byte) {
			h.broadcast([]byte(`{"topic":"main","messageType":"broadcast","data":` + string(p) + `}`))
		}
		ready = func() bool { return h.len() >= subs }
	} else {
		app := testApp("a", secretA)
		app.OneConnectionPerUser = OnePerUserOff // every subscriber has the one token
		s, hs := startServer(b, Options{Apps: []App{app}})
		url = wsURL(hs, "/apps/a?access_token="+mint(b, secretA, "bench", time.Hour))
		publish = func(p []byte) { _ = s.publish(s.ctx, "a", "main", Message{Data: p}) }
		ready = func() bool { _, h := s.app("a"); n, _ := h.counts(); return n >= subs }
		env = append(env, "KETE_FANOUT_WELCOME=1")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFanoutClientsHelper$")
	cmd.Env = append(append(os.Environ(), "KETE_FANOUT_URL="+url, "KETE_FANOUT_N="+strconv.Itoa(subs)), env...)
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	rd := bufio.NewReader(out)
	if line, _ := rd.ReadString('\n'); !strings.HasPrefix(line, "ready") {
		b.Fatalf("helper: %q", line)
	}
	waitUntil(b, "subscribers ready", ready)

	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	start, cpu0 := time.Now(), cpuTime()
	sent := 0
	for time.Since(start) < d {
		<-tick.C
		p := fmt.Sprintf(`"#%d%s"`, time.Now().UnixNano(), strings.Repeat("x", 35))
		publish([]byte(p))
		sent++
	}
	want := int64(sent) * int64(subs)
	_, _ = fmt.Fprintln(stdin, want)
	line, _ := rd.ReadString('\n')
	cpu := cpuTime() - cpu0
	var got, p50, p99 int64
	if _, err := fmt.Sscanf(line, "received %d %d %d", &got, &p50, &p99); err != nil {
		b.Fatalf("helper: %q: %v", line, err)
	}
	b.ReportMetric(float64(got)/cpu.Seconds(), "deliveries/server-cpu-s")
	b.ReportMetric(float64(want-got), "lost")
	b.ReportMetric(float64(p50)/1e6, "p50-ms")
	b.ReportMetric(float64(p99)/1e6, "p99-ms")
}
