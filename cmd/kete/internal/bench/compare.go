package bench

import (
	"context"
	"fmt"
	"io"
	"time"
)

// compareFanout runs the same load against every target in turn, rounds times
// (server, hub, server, hub, …; or cluster, one node, …), appends each result to rep and
// fills rep.Ratios (set rep.Pair first to compare two server targets). A
// failed run is reported in the result's errors and the comparison goes on; an ended ctx
// stops it.
func compareFanout(ctx context.Context, rep *report, targets []target, o fanoutOptions, rounds int, log io.Writer) error {
	rounds = max(rounds, 1)
	targets = append([]target(nil), targets...)
	for round := 1; round <= rounds; round++ {
		for i := range targets {
			t := targets[i]
			if log != nil {
				over := ""
				if n := len(t.Nodes); n > 1 {
					over = fmt.Sprintf(" over %d nodes", n)
				}
				fmt.Fprintf(log, "round %d/%d: %s %s, %d subscribers%s\n", round, rounds, t.Name, modeText(o), o.withDefaults().Subscribers, over)
			}
			res, err := runFanout(ctx, t, o)
			if res == nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("round %d, %s: %w", round, t.Name, err)
			}
			if err != nil {
				res.Errors = append(res.Errors, err.Error())
			}
			res.Round = round
			rep.Fanout = append(rep.Fanout, res)
			if targets[i].RSSBase == 0 {
				targets[i].RSSBase = res.RSSBefore
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			settleAfterRun(ctx)
		}
	}
	rep.compare()
	return nil
}

// settleAfterRun gives the target a moment to notice closed sockets before the next run.
func settleAfterRun(ctx context.Context) {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func modeText(o fanoutOptions) string {
	o = o.withDefaults()
	switch o.Mode {
	case modeSaturate:
		return fmt.Sprintf("saturate (window %d messages, %s publish)", o.Window, o.Publish)
	case modeIdle:
		return fmt.Sprintf("idle for %s", o.Duration)
	}
	return fmt.Sprintf("%.0f deliveries/s (%.1f messages/s, %s publish) for %s", o.Rate, o.Rate/float64(o.Subscribers), o.Publish, o.Duration)
}

// compareDestination alternates kete's route and the bare gws write loop rounds times.
func compareDestination(ctx context.Context, rep *report, o destOptions, rounds int, log io.Writer) error {
	rounds = max(rounds, 1)
	for round := 1; round <= rounds; round++ {
		for _, baseline := range []bool{false, true} {
			if log != nil {
				name := "kete route"
				if baseline {
					name = "bare gws"
				}
				fmt.Fprintf(log, "round %d/%d: %s for %s\n", round, rounds, name, o.withDefaults().Duration)
			}
			res, err := runDestination(ctx, baseline, o)
			if res == nil {
				return fmt.Errorf("round %d: %w", round, err)
			}
			if err != nil {
				res.Errors = append(res.Errors, err.Error())
			}
			res.Round = round
			rep.Destination = append(rep.Destination, res)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	rep.compare()
	return nil
}

// e2eOptions wire an end-to-end run: webhook → spool → route → server → subscribers.
// The bench package knows no daemon; the caller provides Send, which must carry the
// payload's stamp into an event (appendPayload's "t" as details.t, say) that a route
// delivers to Target's topic.
type e2eOptions struct {
	Target target
	Fanout fanoutOptions
	// Send hands one payload to the daemon (a webhook POST); it is called at the fan-out
	// rate from Fanout.Publishers goroutines.
	Send func(ctx context.Context, payload []byte) error
}

// runE2E is a fan-out run whose publisher is o.Send.
func runE2E(ctx context.Context, o e2eOptions) (*result, error) {
	if o.Send == nil {
		return nil, fmt.Errorf("e2e: no Send hook")
	}
	fo := o.Fanout
	fo.NewPublisher = func(context.Context) (publisher, error) { return funcPublisher(o.Send), nil }
	return runFanout(ctx, o.Target, fo)
}

type funcPublisher func(ctx context.Context, payload []byte) error

func (f funcPublisher) Publish(ctx context.Context, p []byte) error { return f(ctx, p) }
func (f funcPublisher) Close() error                                { return nil }
