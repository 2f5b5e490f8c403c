package redact

import (
	"errors"
	"io/fs"
	"testing"
)

func TestURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://auth.example.com/token?client_secret=S3CRET&audience=ws", "https://auth.example.com/token?client_secret=****&audience=ws"},
		{"wss://h/x?access_token=abc&realm=r", "wss://h/x?access_token=****&realm=r"},
		{"https://admin:S3CRET@sso.example.com/auth", "https://admin:****@sso.example.com/auth"},
		{"nats://S3CRET@127.0.0.1:4222", "nats://****@127.0.0.1:4222"},
		{"ws://h/events/${realmLowerCase}?tenant=${realm}", "ws://h/events/${realmLowerCase}?tenant=${realm}"},
		{"ws://h/x?apiKey=1&sig=2&X-Amz-Signature=3&page=4", "ws://h/x?apiKey=****&sig=****&X-Amz-Signature=****&page=4"},
		{"ws://h/x?api%5Fkey=1", "ws://h/x?api%5Fkey=****"},
		{"https://app/cb#access_token=abc&state=s", "https://app/cb#access_token=****&state=s"},
		{"ws://h/a@b?x=1", "ws://h/a@b?x=1"}, // an @ in the path is not user information
		{"ws://h/x?flag&token", "ws://h/x?flag&token"},
		{"ws://h/%zz?password=p", "ws://h/%zz?password=****"}, // does not parse; still redacted
		{"/relative?secret=x", "/relative?secret=****"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := URL(tt.in); got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSecretName(t *testing.T) {
	secret := []string{
		"password", "client_secret", "access_token", "Authorization", "Proxy-Authorization",
		"Cookie", "Set-Cookie", "X-Api-Key", "apiKey", "apikey", "key", "sig", "X-Amz-Credential",
		"X-Auth-Token", "pwd", "pass", "JSESSIONID_session", "private_key", "jwt",
	}
	plain := []string{"realm", "tenant", "keycloak", "passive", "signal", "X-Tenant", "Content-Type", "client_id", "ack", "url"}
	for _, n := range secret {
		if !SecretName(n) {
			t.Errorf("SecretName(%q) = false, want true", n)
		}
	}
	for _, n := range plain {
		if SecretName(n) {
			t.Errorf("SecretName(%q) = true, want false", n)
		}
	}
}

func TestSecretKey(t *testing.T) {
	secret := []string{
		"kete.keycloak.client-secret", "kete.keycloak.password", "kete.server.nats.token",
		"kete.sources.webhook.bearer-token", "kete.sources.webhook.basic-password",
		"kete.routes.ws.destination.oauth.client-secret",
		"kete.routes.ws.destination.tls.key-store.password",
		"kete.routes.ws.destination.tls.key-store.key-password",
		"kete.routes.ws.destination.tls.key-store.loader.text",
		"kete.server.tls.key-store.loader.base64",
		"kete.routes.ws.destination.headers.Authorization",
		"kete.routes.ws.destination.headers.X-Api-Key",
		"KETE_ROUTES_WS_DESTINATION_TLS_KEY_STORE_LOADER_TEXT",
		"KETE_SOMETHING_PASSWORD",
	}
	plain := []string{
		"kete.keycloak.url", "kete.keycloak.client-id", "kete.routes.ws.destination.oauth.token-url",
		"kete.server.nats.credentials-file", "kete.server.nats.nkey-seed-file", "kete.server.tls.client-auth",
		"kete.routes.ws.destination.tls.key-store.loader.path", "kete.routes.ws.destination.tls.key-store.loader.kind",
		"kete.routes.ws.destination.headers.X-Tenant", "kete.routes.ws.serializer.text",
		"KETE_ROUTES_WS_DESTINATION_POOL_MAX_TOTAL",
	}
	for _, k := range secret {
		if !SecretKey(k) {
			t.Errorf("SecretKey(%q) = false, want true", k)
		}
		if got := Value(k, "S3CRET"); got != Mask {
			t.Errorf("Value(%q, S3CRET) = %q, want %q", k, got, Mask)
		}
	}
	for _, k := range plain {
		if SecretKey(k) {
			t.Errorf("SecretKey(%q) = true, want false", k)
		}
	}
	if got, want := Value("kete.routes.ws.destination.oauth.token-url", "https://a/t?client_secret=S3CRET"), "https://a/t?client_secret=****"; got != want {
		t.Errorf("Value(token-url) = %q, want %q", got, want)
	}
	if got, want := Value("kete.server.broker", "nats://u:S3CRET@a:4222,nats://b:4222"), "nats://u:****@a:4222,nats://b:4222"; got != want {
		t.Errorf("Value(broker list) = %q, want %q", got, want)
	}
}

func TestHeader(t *testing.T) {
	if got := Header("Authorization", "Bearer abc"); got != Mask {
		t.Errorf("Header(Authorization) = %q", got)
	}
	if got := Header("X-Tenant", "acme"); got != "acme" {
		t.Errorf("Header(X-Tenant) = %q", got)
	}
}

func TestText(t *testing.T) {
	tests := []struct{ in, want string }{
		{
			`oauth2: cannot fetch token: Post "http://127.0.0.1:9/token?client_secret=S3CRET&aud=ws": dial tcp 127.0.0.1:9: connect: connection refused`,
			`oauth2: cannot fetch token: Post "http://127.0.0.1:9/token?client_secret=****&aud=ws": dial tcp 127.0.0.1:9: connect: connection refused`,
		},
		{"admin sign-in to http://admin:S3CRET@kc:8080: 401", "admin sign-in to http://admin:****@kc:8080: 401"},
		{"body grant_type=client_credentials&client_secret=S3CRET was refused", "body grant_type=client_credentials&client_secret=**** was refused"},
		{"route ws: attempt 3 failed (realm=acme)", "route ws: attempt 3 failed (realm=acme)"},
		{"brokers nats://u:S3CRET@a:4222,nats://T0KEN@b:4222 down", "brokers nats://u:****@a:4222,nats://****@b:4222 down"},
		{"(1wss://h/x?token=S3CRET)", "(1wss://h/x?token=****)"},
		{"no scheme ://h/x?token=S3CRET", "no scheme ://h/x?token=****"},
		{"at the end https://h/x?password=S3CRET", "at the end https://h/x?password=****"},
		{"unparsed (password=S3CRET) and apiKey=S3CRET; realm=acme", "unparsed (password=****) and apiKey=****; realm=acme"},
		{"token= empty, =S3CRET nameless, a==b", "token= empty, =S3CRET nameless, a==b"},
		{"padded token=YWJj== kept whole", "padded token=**** kept whole"},
		{"plain text", "plain text"},
	}
	for _, tt := range tests {
		if got := Text(tt.in); got != tt.want {
			t.Errorf("Text(%q)\n = %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestErrorKeepsTheChain(t *testing.T) {
	base := &fs.PathError{Op: "open", Path: "x", Err: fs.ErrNotExist}
	err := Error(errors.Join(errors.New("post https://h/t?token=S3CRET"), base))
	if got, want := err.Error(), "post https://h/t?token=****\nopen x: file does not exist"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Error("errors.Is lost the wrapped error")
	}
	if Error(nil) != nil {
		t.Error("Error(nil) != nil")
	}
	plain := errors.New("nothing secret")
	if Error(plain) != plain {
		t.Error("an error without secrets was wrapped")
	}
}

func BenchmarkTextWithoutSecrets(b *testing.B) {
	for b.Loop() {
		Text("websocket ws://127.0.0.1:8080/apps/demo/publish/events: write: broken pipe")
	}
}
