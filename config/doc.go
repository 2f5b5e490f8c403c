// Package config reads kete's configuration — a .properties, .json or .yaml file with
// KETE_ environment variables over it — validates all of it at once, and builds the
// *kete.Router its routes describe: with Router, destinations that retry inside Send;
// with SpooledRoutes, destinations that try once, for a daemon that retries from its
// spool. Settings with a fixed set of values (OAuthMode, DestinationKind,
// SerializerKind, Broker, loader kinds, client auth) are typed values, read once.
//
// # Files
//
// Load picks the format by extension (.properties, .json, .yaml, .yml). Keys are the same
// in every format: a .properties file writes them dotted, JSON and YAML may nest them or
// write dotted keys, or both. These three say the same:
//
//	kete.routes.ws.destination.url=ws://localhost:8080/events/${realmLowerCase}
//
//	{"kete": {"routes": {"ws": {"destination": {"url": "ws://localhost:8080/events/${realmLowerCase}"}}}}}
//
//	kete:
//	  routes:
//	    ws:
//	      destination.url: ws://localhost:8080/events/${realmLowerCase}
//
// In .properties, ${…} is not expanded (magiconair's expansion would blank out template
// variables). In JSON and YAML, numbers and booleans are read as the text they print as,
// and a list of scalars as comma-separated text (subprotocols, realms, list: matchers).
// A key that has a value and also keys below it (a.b=1 and a.b.c=2) is an error naming
// both. Values are trimmed; a blank value means "not set": the default applies.
//
// # Secrets and references
//
// Any value may contain ${env:NAME} (the variable's value) and ${file:/path} (the file's
// contents without one trailing \n or \r\n), resolved at load from the environ passed to
// Load; an unset variable, an unreadable file or a reference without its closing brace is
// an error naming the key. ${file:} reads regular files of at most MaxFileRefBytes (1 MiB)
// and refuses FIFOs, devices and directories without blocking; LoadContext stops when its
// context ends. Template variables such as ${realmLowerCase} are left for the URL
// template. Errors, warnings and Describe never show secrets: values are shown through
// internal/redact, whose package doc holds the one word list of credential-like names.
//
// A webhook that listens beyond loopback without a secret, bearer token or basic auth is
// a warning (WebhookSettings.Open).
//
// # Environment variables
//
// Variables named exactly like the keys (kete.routes.ws.destination.url), KETE's own
// channel, are read as they are, with KETE's legacy unprefixed enabled; they win over
// KETE_ variables, which win over the file, and a key set both ways with different values
// is a warning.
//
// A KETE_ variable overrides the key it names; the variable wins over the file. A key's
// variable is the key in upper case with '.' and '-' written '_':
//
//	kete.routes.ws.destination.pool.max-total  →  KETE_ROUTES_WS_DESTINATION_POOL_MAX_TOTAL
//	kete.keycloak.client-secret                →  KETE_KEYCLOAK_CLIENT_SECRET
//
// That mapping loses where a route name ends when the name holds '-' or '_', so a route
// variable is resolved against the keys kete knows:
//
//  1. Routes named in the file come first: KETE_ROUTES_MY_WS_ENABLED sets
//     kete.routes.my-ws.enabled when the file has a route my-ws (or my_ws; the file's
//     spelling is kept). If two routes of the file fit (routes ws and ws-retry both fit
//     KETE_ROUTES_WS_RETRY_ENABLED), it is an error.
//  2. Otherwise the route is new, and its name is the shortest that leaves a known key,
//     in lower case with '_' as '-': KETE_ROUTES_AUDIT_WS_DESTINATION_URL makes route
//     audit-ws. (KETE_ROUTES_AUDIT_RETRY_ENABLED is route audit, key retry.enabled.)
//     To catch typos, a variable that starts with a file route's name but fits none of
//     its keys (KETE_ROUTES_WS_DESTINATION_TSL_ENABLED) is an error, and so is a new name
//     with the word destination or serializer in it; such a route needs rule 3.
//  3. A double underscore ends the route name explicitly, and always wins:
//     KETE_ROUTES_AUDIT_RETRY__ENABLED is route audit-retry, key enabled.
//
// Matcher and header names after REALM_MATCHERS_, EVENT_MATCHERS_ and DESTINATION_HEADERS_
// take the file's spelling when the file has that matcher or header; otherwise a matcher
// name is lower case with '-', and a header name is canonical with '-'
// (KETE_ROUTES_WS_DESTINATION_HEADERS_X_TENANT → X-Tenant). An empty variable is ignored.
// A KETE_ variable that names no key is an error, except KETE_CONFIG, KETE_LOG_LEVEL and
// KETE_LOG_FORMAT, and the secrets KETE_TOKEN_SECRET and KETE_BENCH_SECRET, which are left to
// the command.
//
// # Keys
//
// Every key starts with kete.; an unknown key anywhere is an error that suggests the
// nearest known key, so a typo such as destination.tsl.enabled cannot silently turn TLS
// off. Defaults are KETE's where KETE has the key.
//
//	kete.enabled                                   true; false builds no routes
//	kete.routes.<name>.                            <name>: letters, digits, '-', '_'
//	  enabled                                      true; false skips the route, its keys unread
//	  realm-matchers.<matcher>                     list:a,b | glob:a* | regex:^a | sql:a% (each may be kind:not:…)
//	  event-matchers.<matcher>                     none: every realm / event
//	  realm-match-mode, event-match-mode           any | all (any)
//	  serializer.kind                              json | xml | yaml | csv | toml | properties | cbor | smile |
//	                                               avro | protobuf | multipart-form | url-encoded-form |
//	                                               template | cloudevents (json)
//	  serializer.template-file-text|-base64|-path  KETE's ${name} template, for kind template
//	  serializer.content-type, .variable-escape    for kind template (text/plain, none)
//	  serializer.template                          Go text/template, for kind template
//	  serializer.nesting-notation                  bracket | dot, for the form kinds (bracket)
//	  retry.enabled                                true
//	  retry.max-attempts                           3, counting the first; 0 = until delivered
//	  retry.wait-duration                          500ms: the first wait, growing exponentially
//	  retry.max-wait                               30s, or wait-duration when longer: the longest wait
//	  destination.kind                             websocket; KETE's other kinds skip the route
//	  destination.url                              ws:// or wss:// template; wss turns TLS on; wins over host/port/path
//	  destination.host, .port, .path               without url: port 80, or 443 with TLS; path /
//	  destination.binary-mode                      false: text frames
//	  destination.subprotocol                      comma-separated
//	  destination.connection-timeout-seconds       10 (> 0)
//	  destination.connection-lost-timeout-seconds  60; 0 turns the ping/pong heartbeat off
//	  destination.pool.min-idle                    1
//	  destination.pool.max-idle                    10 (lowered to max-total when that is smaller)
//	  destination.pool.max-total                   20, per rendered URL
//	  destination.pool.max-wait-seconds            30 (> 0)
//	  destination.headers.<Name>                   sent in every handshake; blank values dropped;
//	                                               eventkind, eventtype, contenttype dropped as KETE does
//	  destination.authentication-type, .content-encoding, .content-transfer-encoding
//	                                               KETE's; accepted with a warning
//	  destination.oauth.enabled                    false
//	  destination.oauth.mode                       external | internal (external)
//	  destination.oauth.token-url                  external: required; internal: overrides the derived URL
//	  destination.oauth.client-id                  external: required; internal: kete-oauth-client
//	  destination.oauth.client-secret              external: required; internal: Keycloak's
//	  destination.oauth.scope                      space-separated
//	  destination.oauth.realm                      internal: see below
//	  destination.oauth.timeout-seconds            0: the oauth package's default (30s)
//	  destination.tls.enabled                      false (true for wss://)
//	  destination.tls.verify-hostname              true (KETE: false)
//	  destination.tls.version                      TLS | TLSv1.2 | TLSv1.3 (TLS)
//	  destination.tls.*-store.type, .*-manager-algorithm: KETE's JVM names, accepted with a warning
//	  destination.tls.trust-store.password, .loader.kind|path|base64|text
//	  destination.tls.key-store.password, .key-password, .loader.kind|path|base64|text
//	kete.keycloak.url, .realm (master), .client-id, .client-secret, .username, .password
//	kete.server.enabled (false: `kete run` embeds the server only when true)
//	kete.server.listen (:8080), .broker (memory | nats://…), .apps-file
//	kete.server.tls.enabled, .client-auth (none | request | require-and-verify),
//	  .key-store.*, .trust-store.* (the CAs of client certificates)
//	kete.server.nats.credentials-file, .nkey-seed-file, .user, .password, .token,
//	  .subject-prefix (kete), .tls.enabled, .tls.verify-hostname (true), .tls.trust-store.*,
//	  .tls.key-store.*, .history.enabled (false), .history.stream (KETE),
//	  .history.storage (file | memory), .history.replicas (1), .history.max-age (24h),
//	  .history.max-msgs-per-topic (1000): the NATS broker, when .broker is a nats:// URL
//	kete.sources.webhook.enabled (false), .listen (:8081, also /metrics, /healthz, /readyz),
//	  .path (/events), .secret (HMAC of X-Keycloak-Signature), .bearer-token,
//	  .basic-username, .basic-password, .max-bytes (4MiB)
//	kete.sources.keycloak.enabled (false), .realms (kete.keycloak.realm), .interval (10s)
//	kete.spool.dir (./kete-data), .max-bytes (1GiB; 512MiB, 2GB or plain bytes)
//	kete.metrics.enabled (true; false: no /metrics), enabled (KETE's legacy kete.enabled)
//	kete.support-the-project-message: accepted from KETE, no effect
//
// Loader kinds: pem-file-path, pem-file-base64, pem-file-text, der-file-path,
// der-file-base64, pkcs12-file-path, pkcs12-file-base64, jks-file-path, jks-file-base64,
// pkcs7-file-path, pkcs7-file-base64; the kind's last word names the one loader key to set.
//
// Durations (retry.wait-duration, retry.max-wait, sources.keycloak.interval) are read as
// KETE reads them: a bare number is seconds (15), a whole number with ns, us, ms, s, m, h,
// d, w or y, or ISO-8601 with days (PT2S, P1D); Go's forms (1m30s) too. Booleans take
// true/false, yes/no, on/off, y/n, t/f and 1/0. Routes with enabled=false or one of
// KETE's other destination kinds are skipped with a warning, their keys unread.
//
// The realm internal OAuth registers its client in is destination.oauth.realm; else the
// realm the route's realm matchers name when they are a single list: matcher of one realm
// (list:acme); else kete.keycloak.realm. Internal mode needs kete.keycloak.url and admin
// credentials: client-id and client-secret, or username and password.
//
// # Validation
//
// Load returns a *ValidationError listing every bad key at once, each with its value
// (secrets masked) and what was wanted. Settings that are read but have no effect (TLS
// stores while TLS is off, OAuth keys while OAuth is off, host/port/path next to url)
// are not errors but Config.Warnings, which Describe prints.
package config
