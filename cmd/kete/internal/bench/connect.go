package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"

	"github.com/kete-dev/kete/internal/redact"
)

// connect dials every subscriber (subscriber i to node i mod nodes) with bounded
// concurrency and waits until all are subscribed or ConnectTimeout passes.
func (r *run) connect(ctx context.Context) error {
	o := r.o
	ctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
	defer cancel()
	d, err := r.newDialing(cancel)
	if err != nil {
		return err
	}
	r.subs = make([]*subscriber, o.Subscribers)
	bar := newProgress(o.Progress, o.ProgressTTY, "connect "+r.t.Name, o.Subscribers)
	var wg sync.WaitGroup
	for range min(o.DialConcurrency, o.Subscribers) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(d.next.Add(1) - 1)
				if i >= o.Subscribers {
					return
				}
				if d.dial(i) {
					bar.set(int(d.dialed.Add(1)))
				}
			}
		})
	}
	wg.Wait()
	bar.done()
	if err := d.failed.firstErr(); d.dialed.Load() == 0 && err != nil {
		return err
	}
	return r.waitSubscribed(ctx, d.dialed.Load())
}

// dialing is the connect phase of a run in progress: which subscriber dials next and
// how many got through.
type dialing struct {
	r       *run
	addrs   []string // subscribe URL of each node
	dialers []func() (gws.Dialer, error)
	sub     []byte // the subscribe frame (nil: none)
	stop    context.CancelFunc

	next, dialed atomic.Int64
	failed       failures
}

func (r *run) newDialing(stop context.CancelFunc) (*dialing, error) {
	d := &dialing{r: r, sub: r.t.subscribeFrame(r.o.Topic), stop: stop}
	d.addrs = make([]string, len(r.t.nodeURLs()))
	for i := range d.addrs {
		d.addrs[i] = r.t.node(i).subscribeURL()
	}
	var err error
	d.dialers, err = sourceDialers(d.addrs, r.o.SourceIPs)
	return d, err
}

// dial connects subscriber i and sends its subscribe frame; false when it failed.
func (d *dialing) dial(i int) bool {
	s := &subscriber{r: d.r}
	nodes := len(d.addrs)
	addr := d.addrs[i%nodes]
	c, resp, err := gws.NewClient(s, &gws.ClientOption{
		Addr: addr, HandshakeTimeout: 10 * time.Second, ReadBufferSize: 2048,
		NewDialer: d.dialers[(i/nodes)%len(d.dialers)],
	})
	if err != nil {
		d.failed.add(fmt.Errorf("subscriber %d: %s: %w", i, redact.URL(addr), describeHandshake(err, resp)))
		if d.failed.n.Load() > 10 && d.dialed.Load() == 0 {
			d.stop() // nothing gets through: stop early
		}
		return false
	}
	s.c = c
	d.r.subs[i] = s
	d.r.loops.Add(1)
	go func() { defer d.r.loops.Done(); c.ReadLoop() }()
	if d.sub != nil {
		if err := c.WriteMessage(gws.OpcodeText, d.sub); err != nil {
			d.failed.n.Add(1)
			return false
		}
	}
	return true
}

// waitSubscribed waits for the subscribe confirmations of the want subscribers dialed,
// until ctx ends: runFanout reports how many made it.
func (r *run) waitSubscribed(ctx context.Context, want int64) error {
	for r.nReady.Load() < want {
		select {
		case <-r.readyCh:
		case <-ctx.Done():
			if err := context.Cause(ctx); errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		}
	}
	return nil
}

// sourceIPSubscribers is how many subscribers one loopback source address serves when
// fanoutOptions.SourceIPs is left to its default: well inside the default ephemeral port
// range (32768–60999).
const sourceIPSubscribers = 20000

// sourceDialers returns n dialer factories for gws, each binding its connections to
// another loopback source address (127.0.0.1, 127.0.0.2, …), when every node is on
// 127.0.0.0/8 and n > 1; otherwise one factory that leaves the source to the kernel.
func sourceDialers(nodeURLs []string, n int) ([]func() (gws.Dialer, error), error) {
	plain := []func() (gws.Dialer, error){func() (gws.Dialer, error) { return &net.Dialer{Timeout: 10 * time.Second}, nil }}
	if n <= 1 {
		return plain, nil
	}
	for _, raw := range nodeURLs {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("subscribe url %q: %w", redact.URL(raw), redact.Error(err))
		}
		ip := net.ParseIP(u.Hostname())
		if ip == nil || ip.To4() == nil || !ip.IsLoopback() {
			return plain, nil // another host or IPv6: one source address, the kernel's choice
		}
	}
	if n > 254 {
		return nil, fmt.Errorf("source ips %d: at most 254 loopback source addresses (127.0.0.1–127.0.0.254)", n)
	}
	out := make([]func() (gws.Dialer, error), n)
	for i := range out {
		local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i))}
		out[i] = func() (gws.Dialer, error) {
			return &net.Dialer{Timeout: 10 * time.Second, LocalAddr: local}, nil
		}
	}
	return out, nil
}
