package auth

import (
	"net/http/httptest"
	"testing"
)

func TestFromRequest(t *testing.T) {
	const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln"
	tests := []struct {
		name   string
		target string
		header map[string]string
		basic  [2]string // user, password; empty user and password = none
		want   Credentials
	}{
		{"nothing", "/apps/a", nil, [2]string{}, Credentials{}},
		{"access_token query (Realtime)", "/apps/a?access_token=" + jwt, nil, [2]string{}, Credentials{Token: jwt}},
		{"token query (Drogue)", "/app?token=" + jwt, nil, [2]string{}, Credentials{Token: jwt}},
		{"access_token before token", "/app?token=t2&access_token=t1", nil, [2]string{}, Credentials{Token: "t1"}},
		{"Bearer header", "/", map[string]string{"Authorization": "Bearer " + jwt}, [2]string{}, Credentials{Token: jwt}},
		{"bearer in lower case", "/", map[string]string{"Authorization": "bearer  " + jwt}, [2]string{}, Credentials{Token: jwt}},
		{"header before query", "/?access_token=q", map[string]string{"Authorization": "Bearer h"}, [2]string{}, Credentials{Token: "h"}},
		{"X-API-Key header", "/", map[string]string{"X-API-Key": "kete_abc"}, [2]string{}, Credentials{APIKey: "kete_abc"}},
		{"api_key query with username (Drogue)", "/app?username=alice&api_key=kete_abc", nil, [2]string{}, Credentials{APIKey: "kete_abc", Username: "alice"}},
		{"Basic with an API key", "/", nil, [2]string{"alice", "kete_abc"}, Credentials{APIKey: "kete_abc", Username: "alice"}},
		{"Basic with a JWT (Drogue user:token)", "/", nil, [2]string{"alice", jwt}, Credentials{Token: jwt, Username: "alice"}},
		{"Basic before X-API-Key", "/", map[string]string{"X-API-Key": "hdr"}, [2]string{"u", "basic"}, Credentials{APIKey: "basic", Username: "u"}},
		{"X-API-Key before api_key query", "/?api_key=q", map[string]string{"X-API-Key": "hdr"}, [2]string{}, Credentials{APIKey: "hdr"}},
		{"token and key together", "/?access_token=t", map[string]string{"X-API-Key": "k"}, [2]string{}, Credentials{Token: "t", APIKey: "k"}},
		{"unknown scheme ignored", "/", map[string]string{"Authorization": "Digest x"}, [2]string{}, Credentials{}},
		{"broken Basic ignored", "/", map[string]string{"Authorization": "Basic !!!"}, [2]string{}, Credentials{}},
		{"empty query values ignored", "/?access_token=&token=t", nil, [2]string{}, Credentials{Token: "t"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://127.0.0.1"+tt.target, nil)
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			if tt.basic != [2]string{} {
				r.SetBasicAuth(tt.basic[0], tt.basic[1])
			}
			got := FromRequest(r)
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if got.Empty() != (tt.want.Token == "" && tt.want.APIKey == "") {
				t.Fatalf("Empty() = %v", got.Empty())
			}
		})
	}
}
