package auth

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
)

func TestErrorWriteHTTP(t *testing.T) {
	tests := []struct {
		name       string
		err        *Error
		status     int
		wwwAuth    string
		wantHeader bool
	}{
		{"missing", unauthorized(CodeTokenMissing, "an access token is required"), 401, `Bearer realm="kete"`, true},
		{"expired", unauthorized(CodeTokenExpired, "token has expired"), 401,
			`Bearer realm="kete", error="invalid_token", error_description="token has expired"`, true},
		{"forbidden", Forbidden("publishing on main is not permitted"), 403, "", false},
		{"keys unavailable", &Error{Status: 503, Code: CodeKeysUnavailable, Reason: "later"}, 503, "", false},
		{"zero status", &Error{Code: CodeTokenInvalid, Reason: "bad"}, 401, `Bearer realm="kete", error="invalid_token", error_description="bad"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.err.WriteHTTP(rec)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.wwwAuth {
				t.Fatalf("WWW-Authenticate %q, want %q", got, tt.wwwAuth)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if body.Error.Code != tt.err.Code || body.Error.Message != tt.err.Reason {
				t.Fatalf("body %q", rec.Body)
			}
		})
	}
	if got := unauthorized(CodeTokenInvalid, "why").Error(); got != "why" {
		t.Fatalf("Error() = %q", got)
	}
}
