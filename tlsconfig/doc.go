// Package tlsconfig turns key and trust material into a *tls.Config, with KETE's
// `trust-store.*` / `key-store.*` settings: a Loader says where the bytes are (a file path,
// base64 text, or PEM text) and in which format (PEM, DER, PKCS#12, JKS or PKCS#7).
//
// Differences from KETE, on purpose:
//
//   - A wrong password is an error naming the store ("key-store: pkcs12: wrong password …",
//     wrapping ErrWrongPassword). KETE silently retries with no password, "", "changeit" and
//     "secret"; this package never guesses.
//   - Hostname verification is on by default in configuration (KETE: off). Turned off, the
//     server's chain is still verified against the trust store; only the name is skipped.
//   - A trust store replaces the system roots instead of adding to them, so that a route
//     pinned to a private CA trusts only that CA.
//   - TLS 1.2 is the minimum version.
//
// What each format can hold:
//
//	format  trust store                                  key store
//	pem     every CERTIFICATE block                      one unencrypted PKCS#8, PKCS#1 or EC key + its chain
//	der     the certificate(s)                           refused: DER holds a certificate or a key, not both
//	pkcs12  trusted entries, or a key store's certs      key + chain (Password; one password for all)
//	jks     trusted entries + key entries' chains        every private key entry (Password, KeyPassword)
//	pkcs7   the bundle's certificates (DER or PEM)       refused: PKCS#7 carries no private key
//
// A Store reads its Loader each time Client or Server is called; nothing is cached.
package tlsconfig
