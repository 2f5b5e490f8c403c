package main

import (
	"context"
	"fmt"

	"github.com/kete-dev/kete/config"
)

// loadConfig reads what `kete run` and `kete check` work from: the file at path with the
// environment over it or, without --config, the environment alone — KETE's own way
// (variables named like the keys, kete.routes.ws.destination.url) or KETE_ variables.
func loadConfig(ctx context.Context, path string) (*config.Config, error) {
	env := environ()
	if path != "" {
		return config.LoadContext(ctx, path, env)
	}
	if !config.EnvConfigures(env) {
		return nil, fmt.Errorf("%w: --config is required, or configure kete with environment variables (kete.routes.<name>.… as KETE reads them, or KETE_ROUTES_…)", errUsage)
	}
	c, err := config.ParseContext(ctx, nil, config.FormatProperties, env)
	if err != nil {
		return nil, fmt.Errorf("configuration from the environment: %w", err)
	}
	return c, nil
}
