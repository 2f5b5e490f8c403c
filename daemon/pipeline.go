// Package daemon is what `kete run` runs: events taken in from sources are made durable in
// the spool, then each route reads the spool with its own cursor and delivers what its
// matchers accept, retrying with backoff until its destination takes the event or its
// attempts run out and the event becomes a dead letter. A permanent failure
// (kete.IsPermanent: the destination refused this very event) makes it a dead letter at
// once. A route that cannot deliver holds up only itself, and only a bounded number of
// its events are in memory at a time.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/internal/outage"
	"github.com/kete-dev/kete/internal/redact"
	"github.com/kete-dev/kete/spool"
)

// Route is a kete.Route with the daemon's retry policy for it.
type Route struct {
	*kete.Route
	// MaxAttempts bounds deliveries of one event, the first included; after them the
	// event goes to the route's dead-letter file. 0 retries while the spool has room.
	MaxAttempts int
	// WaitDuration is the first wait between attempts; waits grow exponentially with
	// jitter up to MaxWait (kete.Retry.Backoff; zero values are kete.Retry's defaults).
	WaitDuration, MaxWait time.Duration
	// InFlight bounds the events the route sends at once (default 64): deliveries overlap
	// so a round trip per event does not cap throughput, and memory stays bounded when
	// the destination is down.
	InFlight int
}

// Options configures a Pipeline.
type Options struct {
	Spool   *spool.Spool
	Routes  []Route
	Logger  *slog.Logger
	Metrics *Metrics
	// Now is the clock for delivery latency and for the time of an event that comes without
	// one; tests may replace it.
	Now func() time.Time
}

// Pipeline owns the route workers. Start it with Run; Ingest may be called before and
// during Run from any goroutine.
type Pipeline struct {
	opts Options

	running atomic.Bool
	mu      sync.Mutex
	health  map[string]*routeHealth
	// outages log each route's spells of failed deliveries: one line when they begin, a
	// few while they last, one when they end, instead of one per event and attempt.
	outages map[string]*outage.Log
}

type routeHealth struct {
	delivered   uint64
	failing     bool
	lastErr     string
	lastSuccess time.Time
	readErr     string // the route cannot read the spool
}

// defaultInFlight is how many events a route sends before it waits for the first
// one's outcome, when its InFlight is not set.
const defaultInFlight = 64

// withDefaults returns o with its zero fields set: a discarding logger, new metrics,
// time.Now, and defaultInFlight for each route without InFlight. The routes are copied,
// so the caller's slice is left as it was.
func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Routes = slices.Clone(o.Routes)
	for i := range o.Routes {
		if o.Routes[i].InFlight <= 0 {
			o.Routes[i].InFlight = defaultInFlight
		}
	}
	return o
}

// New checks the options and returns a pipeline ready to Run.
func New(o Options) (*Pipeline, error) {
	if o.Spool == nil {
		return nil, errors.New("daemon: no spool")
	}
	o = o.withDefaults()
	p := &Pipeline{opts: o, health: map[string]*routeHealth{}, outages: map[string]*outage.Log{}}
	for i := range o.Routes {
		r := &o.Routes[i]
		if r.Route == nil || r.Name == "" {
			return nil, fmt.Errorf("daemon: route %d has no name", i)
		}
		p.health[r.Name] = &routeHealth{}
		o.Metrics.routeKnown(r.Name)
		p.outages[r.Name] = outage.New(o.Logger.With("route", r.Name), outage.Options{
			Down: "route cannot deliver; retrying", StillDown: "route still cannot deliver",
			Up: "route delivers again", Now: o.Now,
		})
	}
	return p, nil
}

// Metrics is what the pipeline reports; exported so cmd/kete can serve it.
func (p *Pipeline) Metrics() *Metrics { return p.opts.Metrics }

// Ingest makes events durable and returns once they are: only then may a source
// acknowledge them. It fails with an error for which IsBackPressure is true when the
// spool has no room, cannot write, or a route cannot read it; the source should push back.
func (p *Pipeline) Ingest(ctx context.Context, source string, events []kete.Event) error {
	if len(events) == 0 {
		return nil
	}
	if err := p.readStall(); err != nil {
		p.opts.Metrics.rejected.WithLabelValues(source).Add(float64(len(events)))
		return err
	}
	records := make([][]byte, len(events))
	now := p.opts.Now().UnixMilli()
	for i := range events {
		if events[i].ID == "" {
			// An id lets the server recognise the event if a reconnect sends it twice.
			events[i].ID = events[i].Key()
		} else if !utf8.ValidString(events[i].ID) {
			// JSON cannot carry bytes that are not UTF-8: every encoder (and so the spool
			// record and each route's frame) would turn them into U+FFFD, and two ids that
			// differ only there would be taken for one event and the second dropped as a
			// duplicate. Quoted, each stays distinct and readable ("e\xff").
			events[i].ID = strconv.Quote(events[i].ID)
		}
		if events[i].Time == 0 {
			// Keycloak always sends one; a hand-made event gets the time it arrived, after
			// its id is taken, so that sending it again still makes the same id.
			events[i].Time = now
		}
		b, err := json.Marshal(&events[i])
		if err != nil {
			return fmt.Errorf("daemon: encode event %d: %w", i, err)
		}
		records[i] = b
	}
	if _, err := p.opts.Spool.Append(ctx, records...); err != nil {
		if IsBackPressure(err) {
			p.opts.Metrics.rejected.WithLabelValues(source).Add(float64(len(events)))
		}
		return err
	}
	p.opts.Metrics.eventsIn.WithLabelValues(source).Add(float64(len(events)))
	p.opts.Metrics.spoolBytes.Set(float64(p.opts.Spool.Stats().Bytes))
	return nil
}

// Run delivers until ctx ends, then waits for the sends in flight to finish or give up
// (they see ctx too) and returns.
func (p *Pipeline) Run(ctx context.Context) error {
	readers := make([]*spool.Reader, len(p.opts.Routes))
	for i, r := range p.opts.Routes {
		reader, err := p.opts.Spool.Reader(r.Name)
		if err != nil {
			return err
		}
		readers[i] = reader
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(p.opts.Routes))
	for i, reader := range readers {
		r := &p.opts.Routes[i]
		wg.Go(func() {
			if err := p.runRoute(ctx, r, reader); err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("daemon: route %s: %w", r.Name, err)
			}
		})
	}
	p.running.Store(true)
	wg.Wait()
	p.running.Store(false)
	close(errs)
	return errors.Join(collect(errs)...)
}

func collect(ch <-chan error) []error {
	var out []error
	for err := range ch {
		out = append(out, err)
	}
	return out
}

func (p *Pipeline) runRoute(ctx context.Context, r *Route, reader *spool.Reader) error {
	slots := make(chan struct{}, r.InFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	failures := 0
	for {
		rec, err := reader.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, spool.ErrClosed) {
				return nil
			}
			// An I/O error: damage is stepped over by the spool, this is not. The route
			// waits and reads again; meanwhile sources push back.
			if failures++; !p.waitToReadAgain(ctx, r, err, failures) {
				return nil
			}
			continue
		}
		if failures > 0 {
			failures = 0
			p.setReadError(r.Name, nil)
			p.opts.Logger.Info("route reads the spool again", "route", r.Name)
		}
		var e kete.Event
		if err := json.Unmarshal(rec.Data, &e); err != nil {
			p.deadLetter(r, reader, rec, fmt.Sprintf("undecodable record: %v", err))
			continue
		}
		if !r.Matches(&e) {
			reader.Ack(rec.Offset)
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		wg.Go(func() {
			defer func() { <-slots }()
			p.deliver(ctx, r, reader, rec, &e)
		})
	}
}

// deliver sends one event until the destination takes it, its attempts run out, the
// failure is permanent, or ctx ends (then the event stays unacknowledged and is sent again
// after a restart). A permanent failure is not retried: retrying would hold an in-flight
// slot and the route's cursor for ever, and the spool behind it would fill until intake
// stops (503) for every route.
func (p *Pipeline) deliver(ctx context.Context, r *Route, reader *spool.Reader, rec spool.Record, e *kete.Event) {
	b := kete.Retry{WaitDuration: r.WaitDuration, MaxWait: r.MaxWait}.Backoff()
	m := p.opts.Metrics
	first := p.opts.Now()
	for attempt := 1; ; attempt++ {
		start := p.opts.Now()
		err := r.Deliver(ctx, e)
		if err == nil {
			reader.Ack(rec.Offset)
			m.eventsOut.WithLabelValues(r.Name).Inc()
			m.kete.delivered(r.Name, e, p.opts.Now().Sub(first))
			if e.Time > 0 {
				m.latency.WithLabelValues(r.Name).Observe(p.opts.Now().Sub(time.UnixMilli(e.Time)).Seconds())
			} else {
				m.latency.WithLabelValues(r.Name).Observe(p.opts.Now().Sub(start).Seconds())
			}
			p.setHealth(r.Name, nil)
			p.outages[r.Name].Succeeded()
			return
		}
		if ctx.Err() != nil {
			return
		}
		p.setHealth(r.Name, err)
		if kete.IsPermanent(err) {
			m.kete.gaveUp(r.Name, e, failedPermanent)
			p.deadLetter(r, reader, rec, err.Error())
			return
		}
		if r.MaxAttempts > 0 && attempt >= r.MaxAttempts {
			m.kete.gaveUp(r.Name, e, failedMaxAttempts)
			p.deadLetter(r, reader, rec, err.Error())
			return
		}
		m.retries.WithLabelValues(r.Name).Inc()
		wait := b.Next()
		logged := redact.Error(withoutRoute(err, r.Name))
		p.outages[r.Name].Failed(logged)
		p.opts.Logger.Debug("delivery failed, retrying", "route", r.Name, "event", e.ID, "attempt", attempt, "wait", wait, "err", logged)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

func (p *Pipeline) deadLetter(r *Route, reader *spool.Reader, rec spool.Record, reason string) {
	reason = redact.Text(reason) // the file outlives the process and is read by people
	if err := p.opts.Spool.DeadLetter(r.Name, rec, reason); err != nil {
		// Not acknowledged: the record stays in the spool and comes again after a restart.
		p.opts.Logger.Error("writing dead letter", "route", r.Name, "offset", rec.Offset, "err", err)
		return
	}
	reader.Ack(rec.Offset)
	p.opts.Metrics.deadLetters.WithLabelValues(r.Name).Inc()
	p.opts.Logger.Error("event dead-lettered", "route", r.Name, "offset", rec.Offset, "reason", reason)
}

func (p *Pipeline) setHealth(route string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.health[route]
	if err == nil {
		h.delivered++
		h.failing, h.lastErr, h.lastSuccess = false, "", p.opts.Now()
		return
	}
	h.failing, h.lastErr = true, redact.Text(err.Error()) // /readyz answers anyone
}

// RouteStatus is one route's state for /readyz and `kete demo`'s progress line.
type RouteStatus struct {
	Route     string `json:"route"`
	Delivered uint64 `json:"delivered"`
	Backlog   uint64 `json:"backlog"`
	Failing   bool   `json:"failing"`
	LastError string `json:"lastError,omitempty"`
	// ReadError is set while the route cannot read the spool (sources answer 503).
	ReadError string `json:"readError,omitempty"`
}

// Status reports every route.
func (p *Pipeline) Status() []RouteStatus {
	st := p.opts.Spool.Stats()
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]RouteStatus, 0, len(p.opts.Routes))
	for _, r := range p.opts.Routes {
		h := p.health[r.Name]
		out = append(out, RouteStatus{Route: r.Name, Delivered: h.delivered, Backlog: st.Backlog[r.Name], Failing: h.failing, LastError: h.lastErr, ReadError: h.readErr})
	}
	return out
}

// withoutRoute is err without its "route NAME: " prefix (kete.RouteError) when NAME is the
// route a log line already names, so that the line does not say it twice.
func withoutRoute(err error, name string) error {
	var re *kete.RouteError
	if errors.As(err, &re) && re.Route == name && re.Err != nil && err == error(re) {
		return re.Err
	}
	return err
}
