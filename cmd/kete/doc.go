// Command kete forwards Keycloak events to WebSocket servers and runs the pub/sub server
// that fans them out. This package only wires the library, the daemon and the server
// together; each command is one file:
//
//	kete run          the daemon: sources → spool → routes, and the server when
//	                  kete.server.enabled (run.go)
//	kete server       the bundled pub/sub server alone (server.go)
//	kete demo         the server, the daemon and an event generator, with the dashboard
//	                  link (demo.go; the generator is internal/demo)
//	kete check        validate a configuration or an apps file and describe it, secrets
//	                  masked (check.go)
//	kete token        mint a token for an app from a local key (token.go)
//	kete deadletters  list or re-send a route's dead letters (deadletters.go)
//	kete bench        measure the server, a route and the whole path against bare gws
//	                  baselines (bench.go; the tool is internal/bench)
//	kete version      print the version
//
// `kete COMMAND -h` prints a command's flags; docs/operations.md describes them. main
// turns the first SIGINT or SIGTERM into a cancelled context and exits with run's code,
// so that run(ctx, args, stdout, stderr) is testable without os.Exit.
package main
