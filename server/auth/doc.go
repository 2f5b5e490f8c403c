// Package auth decides who a request to the bundled pub/sub server is and what it may do.
//
// It holds everything the server needs for that and nothing else:
//
//   - [Verifier] checks a JWT against an app's authKey or adminKey ([Key], Realtime Pub/Sub
//     field names): a raw PEM public key (RSA, EC, Ed25519), a raw HMAC secret, or a JWKS
//     endpoint that is cached, refreshed periodically and refetched (rate-limited) when a
//     token names an unknown kid.
//   - [Claims] carries the subject and the permissions, read from the `permissions` claim,
//     else `scp`, else `scope`.
//   - [CanPublish], [CanSubscribe], [Has] and [MatchTopic] apply the Realtime permission
//     strings (realtime:publisher:write:topic:<pattern>, …) with the `*` and `!` pattern
//     rules of the matcher module the Realtime docs refer to.
//   - [APIKeys] lets clients that cannot mint JWTs present a key; only its SHA-256 is stored.
//   - [FromRequest] finds credentials in a request; [SourcePolicy] applies the apps'
//     clientSourceAddress/adminSourceAddress lists.
//   - [Mint] and [LoadSigningKey] make tokens for `kete token` and for tests.
//
// Decisions worth knowing:
//
//   - Only the algorithms a key lists are accepted; `none` never is. An HS* algorithm with a
//     PEM key is a configuration error, which blocks the "HS256 signed with the RSA public
//     key" attack; JWKS keys are asymmetric only.
//   - Tokens must carry `exp` (Options.AllowNoExpiry turns that off); `nbf` and `iat` are
//     checked when present; Options.Leeway (default 30s) applies to all three.
//   - An HMAC secret is the key text with surrounding white space removed, and must be at
//     least as long as the hash (32 bytes for HS256, 48 for HS384, 64 for HS512, RFC 7518
//     §3.2). RSA keys need at least 2048 bits.
//   - Topic patterns are case-sensitive (the matcher module is not by default): topics are
//     identifiers, and folding case would grant topics the issuer did not name. A negated
//     permission ("!…") only takes away; it never grants by itself.
//   - A JWKS is fetched in the background from Verifier.Start (NewVerifier starts nothing,
//     Start never waits for the fetch; until it works it is retried, 1s doubling to 30s), every
//     Options.JWKSRefreshInterval (1h), and when a token names an unknown kid — at most
//     once per Options.JWKSMinRefreshInterval (1m); an unknown kid inside that interval is
//     refused at once instead of waiting. Every fetch ends within Options.JWKSFetchTimeout
//     (10s), whatever the HTTP client. While no key set could ever be read, tokens get
//     503 keys_unavailable (after waiting at most a second for a fetch under way) rather
//     than a 401 that would blame the token.
//   - Key decoding rejects unknown fields, so a misspelt "audience" cannot silently turn the
//     audience check off.
//   - Source policies judge RemoteAddr; X-Forwarded-For counts only through ClientAddr with
//     an explicit list of trusted proxies.
package auth
