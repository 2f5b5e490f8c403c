// Package demo is `kete demo` beyond its wiring: the app and tokens the bundled server
// serves (Setup), the daemon's configuration (Config), the links it prints (PrintLinks),
// and a generator of realistic Keycloak events (Generator, Run), so that a new user sees
// identity traffic flow without a Keycloak of their own. cmd/kete starts the server and
// the daemon and hands them to Run.
package demo
