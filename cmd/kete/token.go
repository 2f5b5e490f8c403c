package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kete-dev/kete/server/auth"
)

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("token", stderr)
	keyFile := fs.String("key", "", "PEM private key file (RS*, PS*, ES*, EdDSA)")
	secret := fs.String("secret", "", "HMAC secret (HS*); prefer $KETE_TOKEN_SECRET over the command line")
	alg := fs.String("alg", "", "signing algorithm (default HS256 with --secret, RS256 with --key)")
	sub := fs.String("sub", "", "subject: the user or service the token is for")
	iss := fs.String("iss", "", "issuer")
	kid := fs.String("kid", "", "key id header")
	ttlText := fs.String("ttl", "1h", "lifetime, a duration such as 30m, 1h or 24h")
	var perms, aud listFlag
	fs.Var(&perms, "perm", "permission, repeatable, e.g. realtime:subscriber:read:topic:* or realtime:publisher:write:topic:events/*")
	fs.Var(&aud, "aud", "audience, repeatable")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ttl, err := time.ParseDuration(*ttlText)
	if err != nil || ttl <= 0 {
		return fmt.Errorf("%w: --ttl %q: want a positive duration such as 30m, 1h or 24h", errUsage, *ttlText)
	}
	for _, p := range perms {
		if err := checkPermission(p); err != nil {
			return fmt.Errorf("%w: --perm %q: %v", errUsage, p, err)
		}
	}
	if *secret == "" {
		*secret = os.Getenv("KETE_TOKEN_SECRET")
	}
	var material []byte
	switch {
	case *keyFile != "" && *secret != "":
		return fmt.Errorf("%w: give --key or --secret, not both", errUsage)
	case *keyFile != "":
		b, err := os.ReadFile(*keyFile)
		if err != nil {
			return err
		}
		material = b
		if *alg == "" {
			*alg = "RS256"
		}
	case *secret != "":
		material = []byte(*secret)
		if *alg == "" {
			*alg = "HS256"
		}
	default:
		return fmt.Errorf("%w: --key or --secret is required", errUsage)
	}
	if *sub == "" {
		return fmt.Errorf("%w: --sub is required", errUsage)
	}
	key, err := auth.LoadSigningKey(material, *alg)
	if err != nil {
		return err
	}
	tok, err := auth.Mint(*alg, key, auth.MintClaims{Subject: *sub, Issuer: *iss, Audience: aud, Permissions: perms, TTL: ttl, Kid: *kid})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// checkPermission refuses a --perm that grants nothing the server ever asks for (a typo
// such as "read" or "realtime:subscriber:read:topics:*"): an entry, after a leading "!"
// (deny), must match one of the permissions of auth's Realtime Pub/Sub names.
func checkPermission(p string) error {
	grant := strings.TrimPrefix(p, "!")
	for _, prefix := range []string{auth.PublishPrefix, auth.SubscribePrefix} {
		if rest, ok := strings.CutPrefix(grant, prefix+"!"); ok {
			grant = prefix + rest
		}
	}
	for _, prefix := range []string{auth.PublishPrefix, auth.SubscribePrefix} {
		if rest, ok := strings.CutPrefix(grant, prefix); ok && rest != "" {
			return nil // a topic permission with its pattern
		}
	}
	// A wider pattern, such as realtime:admin:manage:* or realtime:*, grants what it matches.
	probes := []string{auth.PublishPrefix + "t", auth.SubscribePrefix + "t", auth.ManageConnections, auth.ManageSubscribers, auth.ManageApplication}
	for _, probe := range probes {
		if auth.Has([]string{grant}, probe) {
			return nil
		}
	}
	for _, prefix := range []string{auth.PublishPrefix, auth.SubscribePrefix} {
		if grant == prefix {
			return errors.New("no topic pattern after " + prefix + ": add one, e.g. events/* or *")
		}
	}
	return fmt.Errorf("not a permission: want %s<topic pattern>, %s<topic pattern>, %s, %s or %s",
		auth.SubscribePrefix, auth.PublishPrefix, auth.ManageConnections, auth.ManageSubscribers, auth.ManageApplication)
}
