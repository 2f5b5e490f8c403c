package auth

import (
	"slices"
	"strings"
	"testing"
)

func TestHashAPIKey(t *testing.T) {
	// sha256("abc"), FIPS 180-2 test vector.
	if got, want := HashAPIKey("abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Fatalf("HashAPIKey = %s, want %s", got, want)
	}
}

func TestAPIKeysVerify(t *testing.T) {
	keyA, err := GenerateAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	keyB, err := GenerateAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	if keyA == keyB || !strings.HasPrefix(keyA, "kete_") || strings.Contains(keyA, ".") || len(keyA) != len("kete_")+43 {
		t.Fatalf("generated keys %q, %q", keyA, keyB)
	}
	if _, err := NewAPIKeys([]APIKey{
		{Name: "ingest", Hash: HashAPIKey(keyA), Permissions: []string{"realtime:publisher:write:topic:events/*"}},
		{Name: "ops", Hash: strings.ToUpper(HashAPIKey(keyB)[len("sha256:"):]), Subject: "ops-team"},
	}); err == nil {
		t.Fatal("hash without prefix accepted")
	}
	keys, err := NewAPIKeys([]APIKey{
		{Name: "ingest", Hash: HashAPIKey(keyA), Permissions: []string{"realtime:publisher:write:topic:events/*"}},
		{Name: "ops", Hash: "sha256:" + strings.ToUpper(HashAPIKey(keyB)[len("sha256:"):]), Subject: "ops-team"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if keys.Len() != 2 {
		t.Fatalf("Len %d", keys.Len())
	}

	c, err := keys.Verify(keyA)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "apikey:ingest" || !slices.Equal(c.Permissions, []string{"realtime:publisher:write:topic:events/*"}) || !c.ExpiresAt.IsZero() {
		t.Fatalf("claims %+v", c)
	}
	if !CanPublish(c.Permissions, "events/login") || CanPublish(c.Permissions, "main") {
		t.Fatal("API key permissions not applied")
	}
	c, err = keys.Verify(keyB)
	if err != nil || c.Subject != "ops-team" {
		t.Fatalf("ops key: %+v, %v", c, err)
	}
	// The claims are a copy: changing them does not change the key.
	c.Permissions = append(c.Permissions, "*")
	if c2, _ := keys.Verify(keyB); len(c2.Permissions) != 0 {
		t.Fatalf("permissions leaked: %q", c2.Permissions)
	}

	wantAuthError(t, errOf(keys.Verify(keyA+"x")), CodeAPIKeyInvalid)
	wantAuthError(t, errOf(keys.Verify(strings.ToUpper(keyA))), CodeAPIKeyInvalid)
	wantAuthError(t, errOf(keys.Verify("")), CodeTokenMissing)
	var none *APIKeys
	wantAuthError(t, errOf(none.Verify(keyA)), CodeAPIKeyInvalid)
	if none.Len() != 0 {
		t.Fatal("nil APIKeys has keys")
	}
}

func errOf(_ *Claims, err error) error { return err }

func TestNewAPIKeysErrors(t *testing.T) {
	good := HashAPIKey("k")
	tests := []struct {
		name string
		keys []APIKey
		want []string
	}{
		{"no prefix", []APIKey{{Name: "alpha", Hash: good[len("sha256:"):]}}, []string{`API key "alpha": hash must start with "sha256:"`}},
		{"md5 prefix", []APIKey{{Name: "alpha", Hash: "md5:900150983cd24fb0d6963f7d28e17f72"}}, []string{`API key "alpha"`}},
		{"short hex", []APIKey{{Name: "beta", Hash: "sha256:abcd"}}, []string{`API key "beta": hash must be "sha256:" and 64 hex digits`}},
		{"not hex", []APIKey{{Name: "gamma", Hash: "sha256:" + strings.Repeat("zz", 32)}}, []string{`API key "gamma"`}},
		{"empty name", []APIKey{{Hash: good}}, []string{"API key #1: name is empty"}},
		{"same name twice", []APIKey{{Name: "a", Hash: good}, {Name: "a", Hash: HashAPIKey("other")}}, []string{`API key "a": name is used twice`}},
		{"same hash twice", []APIKey{{Name: "a", Hash: good}, {Name: "b", Hash: good}}, []string{`API key "b": has the same hash as API key "a"`}},
		{"all reported", []APIKey{{Name: "x", Hash: "bad"}, {Name: "y", Hash: "sha256:1"}}, []string{`API key "x"`, `API key "y"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewAPIKeys(tt.keys)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func BenchmarkAPIKeysVerify(b *testing.B) {
	var list []APIKey
	for i := range 100 {
		list = append(list, APIKey{Name: string(rune('a'+i%26)) + strings.Repeat("x", i), Hash: HashAPIKey(strings.Repeat("k", i+1))})
	}
	keys, err := NewAPIKeys(list)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := keys.Verify(strings.Repeat("k", 50)); err != nil {
			b.Fatal(err)
		}
	}
}
