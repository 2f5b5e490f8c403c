package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/kete-dev/kete/server/auth"
)

// appTable is one generation of compiled apps and their hubs, swapped whole on reload
// (under appsMu) and read with one atomic load: a request finds an app and its hub
// together, and never a hub of an app that is gone. A table is not changed once stored.
type appTable struct {
	apps   map[string]*appRuntime
	hubs   map[string]*hub    // one per app; a kept app keeps its hub across reloads
	ctx    context.Context    // the verifiers' JWKS refresh runs until the table is replaced
	cancel context.CancelFunc // ends ctx
}

// closeVerifiers stops the JWKS refresh of t's verifiers and waits for it, once t is
// replaced (its ctx cancelled).
func (t *appTable) closeVerifiers() {
	for _, rt := range t.apps {
		for _, v := range []*auth.Verifier{rt.authV, rt.adminV} {
			if v != nil {
				v.Close()
			}
		}
	}
}

// startVerifiers starts the JWKS refresh of every verifier of t (a verifier of a raw key
// has nothing to start). Start calls it for the apps of New, SetApps for a reload's.
func (s *Server) startVerifiers(t *appTable) {
	for _, rt := range t.apps {
		for _, v := range []*auth.Verifier{rt.authV, rt.adminV} {
			if v != nil {
				v.Start(t.ctx)
			}
		}
	}
}

// appRuntime is an App ready to serve: verifiers built, policies parsed, defaults applied.
type appRuntime struct {
	app       App
	limits    Limits
	authV     *auth.Verifier
	adminV    *auth.Verifier
	apiKeys   *auth.APIKeys
	clientSrc *auth.SourcePolicy
	adminSrc  *auth.SourcePolicy
	origins   map[string]bool
	anyOrigin bool
}

// SetApps replaces the served apps (what a reload does). Connections of an app that is
// gone are closed; those of a kept app stay, and new tokens and API keys apply at once.
func (s *Server) SetApps(apps []App) error {
	if err := ValidateApps(apps); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(s.ctx)
	t := &appTable{apps: make(map[string]*appRuntime, len(apps)), ctx: ctx, cancel: cancel}
	var errs []error
	for _, a := range apps {
		rt, err := s.compile(a)
		if err != nil {
			errs = append(errs, fmt.Errorf("app %q: %w", a.AppID, err))
			continue
		}
		t.apps[a.AppID] = rt
	}
	if err := errors.Join(errs...); err != nil {
		cancel()
		return err
	}
	s.appsMu.Lock()
	if s.closed.Load() {
		s.appsMu.Unlock()
		cancel()
		return errors.New("server: closed")
	}
	old := s.apps.Load()
	t.hubs = make(map[string]*hub, len(t.apps))
	for id, rt := range t.apps {
		h := old.hub(id)
		if h != nil {
			h.cfg.Store(rt)
			h.history.apply(historyLimitsOf(&rt.app), s.coarseNow()) // new bounds, or none kept
		} else {
			h = newHub(s.hubDeps, id, rt)
			if s.started.Load() {
				h.start() // a new app of a reload; Start starts those of New
			}
		}
		t.hubs[id] = h
	}
	var gone []*hub
	if old != nil {
		for id, h := range old.hubs {
			if t.hubs[id] == nil {
				gone = append(gone, h)
			}
		}
	}
	s.apps.Store(t)
	if s.started.Load() {
		s.startVerifiers(t) // a reload's; Start starts those of New
	}
	s.reloads.Add(1) // under appsMu, after the closed check: Close waits for this tail
	s.appsMu.Unlock()
	defer s.reloads.Done()
	if old != nil {
		old.cancel()
		old.closeVerifiers()
	}
	for _, h := range gone {
		for _, c := range h.retire() {
			c.closeWith(CloseGoingAway, "app removed", false)
		}
		h.stop()
	}
	return nil
}

// compile builds an appRuntime; errors name the key at fault.
func (s *Server) compile(a App) (*appRuntime, error) {
	a.OneConnectionPerUser = a.OneConnectionPerUser.orDefault()
	rt := &appRuntime{app: a, limits: a.Limits.withDefaults(), origins: map[string]bool{}}
	ao := auth.Options{HTTPClient: s.opts.HTTPClient, Leeway: s.opts.TokenLeeway, Now: s.opts.Now}
	var err error
	if keySet(a.AuthKey) {
		if rt.authV, err = auth.NewVerifier(a.AuthKey, ao); err != nil {
			return nil, fmt.Errorf("authKey: %w", err)
		}
	}
	if keySet(a.AdminKey) {
		if rt.adminV, err = auth.NewVerifier(a.AdminKey, ao); err != nil {
			return nil, fmt.Errorf("adminKey: %w", err)
		}
	}
	if rt.apiKeys, err = auth.NewAPIKeys(a.APIKeys); err != nil {
		return nil, fmt.Errorf("apiKeys: %w", err)
	}
	if rt.clientSrc, err = auth.ParseSourcePolicy(a.ClientSourceAddress); err != nil {
		return nil, fmt.Errorf("clientSourceAddress: %w", err)
	}
	if rt.adminSrc, err = auth.ParseSourcePolicy(a.AdminSourceAddress); err != nil {
		return nil, fmt.Errorf("adminSourceAddress: %w", err)
	}
	for _, o := range a.AllowedOrigins {
		if o == "*" {
			rt.anyOrigin = true
		}
		rt.origins[o] = true
	}
	return rt, nil
}

func keySet(k auth.Key) bool { return k.Source != "" || k.Key != "" || k.JWKSURI != "" }

// Reload reads AppsFile again and applies it; on error the apps in force stay.
func (s *Server) Reload() error {
	if s.opts.AppsFile == "" {
		return errors.New("server: no apps file to reload")
	}
	st, err := os.Stat(s.opts.AppsFile)
	if err != nil {
		return fmt.Errorf("apps file %s: %w", s.opts.AppsFile, err)
	}
	apps, err := LoadApps(s.opts.AppsFile)
	if err != nil {
		return err
	}
	if err := s.SetApps(apps); err != nil {
		return fmt.Errorf("apps file %s: %w", s.opts.AppsFile, err)
	}
	s.appsMu.Lock()
	s.appsMod = st.ModTime()
	s.appsMu.Unlock()
	s.log.Info("apps reloaded", slog.String("file", s.opts.AppsFile), slog.Int("apps", len(apps)))
	return nil
}

// watch reloads AppsFile when its modification time changes; it runs from Start until
// Close.
func (s *Server) watch() {
	defer s.bg.Done()
	t := time.NewTicker(s.opts.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			st, err := os.Stat(s.opts.AppsFile)
			if err != nil {
				continue
			}
			s.appsMu.Lock()
			changed := !st.ModTime().Equal(s.appsMod)
			s.appsMu.Unlock()
			if changed {
				if err := s.Reload(); err != nil {
					s.log.Error("apps reload failed", slog.String("error", err.Error()))
					s.appsMu.Lock()
					s.appsMod = st.ModTime() // do not retry a broken file until it changes again
					s.appsMu.Unlock()
				}
			}
		}
	}
}

// app returns the runtime and hub of appID, or nils.
func (s *Server) app(appID string) (*appRuntime, *hub) {
	t := s.apps.Load()
	if t == nil || t.apps[appID] == nil {
		return nil, nil
	}
	return t.apps[appID], t.hubs[appID]
}

// hub returns the hub of appID in t, or nil; t may be nil (before the first table).
func (t *appTable) hub(appID string) *hub {
	if t == nil {
		return nil
	}
	return t.hubs[appID]
}

// hubList returns the hubs of the apps served now.
func (s *Server) hubList() []*hub {
	t := s.apps.Load()
	if t == nil {
		return nil
	}
	hubs := make([]*hub, 0, len(t.hubs))
	for _, h := range t.hubs {
		hubs = append(hubs, h)
	}
	return hubs
}
