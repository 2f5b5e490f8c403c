// Package server is kete's pub/sub server: apps (isolated namespaces with their own keys),
// topics, a WebSocket protocol compatible with the Realtime Pub/Sub clients, an ingest
// WebSocket for destinations, an HTTP API, Prometheus metrics and the dashboard.
//
// Fan-out is built for speed: a message is encoded into its WebSocket frame once and that
// frame is shared by every subscriber; consecutive messages of one topic are written as one
// buffer; a write goes straight from the app's dispatcher to a socket that has room, and a
// connection gets a writer goroutine only while its socket is full, with a bounded backlog
// (over it the subscriber is closed as a slow consumer).
//
// # Wire protocol (beyond DESIGN.md)
//
//   - Refusals before the upgrade are JSON {"error":{"code","message"}}: 404 app_not_found,
//     403 app_disabled / source_denied / origin_denied, 401 token_missing / token_invalid /
//     token_expired / token_malformed / apikey_invalid, 503 too_many_connections,
//     409 already_connected (oneConnectionPerUser "reject", on any node of a cluster).
//   - A successful subscribe is confirmed with {"topic":T,"messageType":"welcome","data":{"topic":T}};
//     a subscribe or publish the token does not allow closes the connection with the
//     platform's reason (ReasonSubscribeSecureForbidden, …; App.OnForbidden "errorFrame"
//     answers {"topic":T,"messageType":"error","data":{"code":"forbidden","message","id"?}}
//     instead); too_many_subscriptions and publish_failed are always error frames.
//     compat.go holds every policy where the platform and kete's extensions differ.
//   - Acks (clientInboundAckEnabled): {"topic":"priv/acks","messageType":"ack","data":{"data":id}}.
//   - A publish over WebSocket delivers data {"payload","id","client":{"connectionId","subject","permissions"}};
//     an HTTP API publish delivers data = message; compress:true delivers a binary frame.
//   - Token refresh ({"RefreshAccessToken":t} or {"type":"refresh","data":{"token":t}}) is
//     confirmed with {"topic":"priv/{connectionId}","messageType":"refreshed","data":{"expiresAt"}}.
//   - Close codes: 1008 with ReasonInvalidFormat, ReasonSlowConsumer, ReasonTokenExpired,
//     ReasonTokenInvalid, ReasonReplaced, ReasonConnectedElsewhere, ReasonIdle,
//     ReasonRateLimited (limits.publishRate); 1009 for
//     an oversized frame; 1000 ReasonClosedByAdmin; 1001 on shutdown.
//   - Ingest acks: see handleIngest ({"type":"ack","seq","id","status"} / {"type":"nack",…}).
//   - History (apps with historySize > 0): delivered frames carry "offset"; the subscribe
//     welcome carries {"topic","offset","epoch"}; a subscribe with "since":{"offset","epoch"}
//     is answered with "recovered":true and "replayed":n followed by the n missed frames, or
//     "recovered":false (see StreamPosition, history.go).
//   - GET /readyz: 200 {"ready":true}; 503 {"ready":false,"reason"} while shutting down or
//     while the broker (NATS) is disconnected.
//   - In a cluster (a broker other than the memory broker) HTTP API actions reach every
//     node: unsubscribe and close-all answer with this node's count and "forwarded":true;
//     closing a connection that is not on this node answers 202 {"closed":0,"forwarded":true}.
//     /api/health/status and the telemetry answer add "node", "nodes" and "cluster".
//     See cluster.go and roster.go.
package server
