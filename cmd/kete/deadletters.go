package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/config"
	"github.com/kete-dev/kete/internal/redact"
	"github.com/kete-dev/kete/spool"
)

// runDeadLetters is `kete deadletters list|replay ROUTE --config FILE`.
func runDeadLetters(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	action, route, path, err := parseDeadLettersArgs(args, stderr)
	if err != nil {
		return err
	}
	cfg, err := config.LoadContext(ctx, path, environ())
	if err != nil {
		return err
	}
	if cfg.Route(route) == nil {
		return fmt.Errorf("no route %q in %s", route, path)
	}
	if action == "list" {
		return listDeadLetters(stdout, cfg.Spool.Dir, route)
	}
	return replayDeadLetters(ctx, cfg, route, stdout, stderr)
}

// parseDeadLettersArgs reads the action, the route and --config; flags may come before,
// between or after the action and the route.
func parseDeadLettersArgs(args []string, stderr io.Writer) (action, route, path string, err error) {
	fs := newFlags("deadletters", stderr)
	cfgPath := configFlag(fs, "configuration file")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: kete deadletters list|replay ROUTE --config FILE")
		fs.PrintDefaults()
	}
	var pos []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return "", "", "", err
		}
		if fs.NArg() == 0 {
			break
		}
		pos, rest = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	if len(pos) != 2 || (pos[0] != "list" && pos[0] != "replay") {
		return "", "", "", fmt.Errorf("%w: want list or replay, then a route name (got %q)", errUsage, pos)
	}
	if *cfgPath == "" {
		return "", "", "", fmt.Errorf("%w: --config is required", errUsage)
	}
	return pos[0], pos[1], *cfgPath, nil
}

// listDeadLetters prints a route's dead letters as a table, reasons redacted.
func listDeadLetters(stdout io.Writer, dir, route string) error {
	letters, err := spool.DeadLetters(dir, route)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "OFFSET\tTIME\tEVENT\tREASON")
	for _, dl := range letters {
		var e kete.Event
		json.Unmarshal(dl.Data, &e)
		fmt.Fprintf(w, "%d\t%s\t%s %s %s\t%s\n", dl.Offset, dl.Time.Format("2006-01-02T15:04:05Z"), e.ID, e.Realm(), e.EventType(), redact.Text(dl.Reason))
	}
	w.Flush()
	fmt.Fprintf(stdout, "%d dead letters for route %s\n", len(letters), route)
	return nil
}

// replayDeadLetters sends a route's dead letters again through the route and keeps
// those that fail again, with the new reason.
func replayDeadLetters(ctx context.Context, cfg *config.Config, route string, stdout, stderr io.Writer) error {
	// Hold the lock from reading to rewriting: a letter the daemon adds meanwhile waits
	// for us instead of being lost.
	unlock, err := spool.LockDeadLetters(cfg.Spool.Dir, route)
	if err != nil {
		return err
	}
	defer unlock()
	letters, err := spool.DeadLetters(cfg.Spool.Dir, route)
	if err != nil {
		return err
	}
	if len(letters) == 0 {
		fmt.Fprintf(stdout, "no dead letters for route %s\n", route)
		return nil
	}
	router, err := cfg.Router(ctx, config.Deps{Logger: newLogger(stderr, slog.LevelWarn)})
	if err != nil {
		return err
	}
	defer router.Close()
	var r *kete.Route
	for _, candidate := range router.Routes {
		if candidate.Name == route {
			r = candidate
		}
	}
	if r == nil {
		return fmt.Errorf("route %q is disabled", route)
	}
	failed := redeliver(ctx, r, letters)
	if err := spool.KeepDeadLetters(cfg.Spool.Dir, route, failed); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "replayed %d of %d dead letters for route %s; %d remain\n", len(letters)-len(failed), len(letters), route, len(failed))
	if len(failed) > 0 {
		return fmt.Errorf("%d dead letters failed again", len(failed))
	}
	return nil
}

// redeliver delivers each letter through r and returns those that failed, each with
// why.
func redeliver(ctx context.Context, r *kete.Route, letters []spool.DeadLetter) []spool.DeadLetter {
	var failed []spool.DeadLetter
	for _, dl := range letters {
		var e kete.Event
		if err := json.Unmarshal(dl.Data, &e); err != nil {
			dl.Reason = "replay: not an event: " + err.Error()
			failed = append(failed, dl)
			continue
		}
		if err := r.Deliver(ctx, &e); err != nil {
			dl.Reason = "replay: " + redact.Text(err.Error())
			failed = append(failed, dl)
		}
	}
	return failed
}
