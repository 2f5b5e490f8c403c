package server

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lxzan/gws"
)

// TestIngestIDsExact: ids that differ only in bytes that are not UTF-8, or in escaped lone
// surrogates, are two ids (encoding/json turns each into U+FFFD, and the second frame was
// acked "duplicate" and never delivered); a frame nested deeper than encoding/json reads
// still has its id, so that its resend is a duplicate.
func TestIngestIDsExact(t *testing.T) {
	_, hs := startServer(t, Options{Apps: []App{testApp("a", secretA)}})
	sub := connect(t, hs, "a", mint(t, secretA, "viewer", time.Hour))
	sub.Subscribe("events")
	in := dialIngest(t, func(p string) string { return wsURL(hs, p) }, "events")

	send := func(op gws.Opcode, body string) ingestAckFrame {
		t.Helper()
		if err := in.Conn().WriteMessage(op, []byte(body)); err != nil {
			t.Fatal(err)
		}
		var a ingestAckFrame
		if f := in.Next(); json.Unmarshal(f.Raw, &a) != nil {
			t.Fatalf("ack %s", f.Raw)
		}
		return a
	}
	for _, f := range []struct {
		name string
		op   gws.Opcode
		body string
	}{
		{"raw byte 0xff", gws.OpcodeBinary, "{\"id\":\"evt-\xff\",\"n\":1}"},
		{"raw byte 0xfe", gws.OpcodeBinary, "{\"id\":\"evt-\xfe\",\"n\":2}"},
		{"lone surrogate d800", gws.OpcodeText, `{"id":"evt-\ud800","n":3}`},
		{"lone surrogate dfff", gws.OpcodeText, `{"id":"evt-\udfff","n":4}`},
	} {
		if a := send(f.op, f.body); a.Status != "ok" {
			t.Errorf("%s: ack %+v, want ok (a distinct id)", f.name, a)
		}
	}
	for n := range 4 {
		if f := sub.WaitFor("events", "broadcast"); !strings.Contains(string(f.Raw), `"n":`+string(rune('1'+n))) {
			t.Errorf("delivery %d: %s", n+1, f.Raw)
		}
	}
	// The same bytes again are a resend.
	if a := send(gws.OpcodeBinary, "{\"id\":\"evt-\xff\",\"n\":1}"); a.Status != "duplicate" {
		t.Errorf("resend of raw 0xff id: ack %+v, want duplicate", a)
	}
	if a := send(gws.OpcodeText, `{"id":"evt-\ud800","n":3}`); a.Status != "duplicate" {
		t.Errorf("resend of lone surrogate id: ack %+v, want duplicate", a)
	}

	deep := `{"id":"deep-1","x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`
	if a := send(gws.OpcodeText, deep); a.Status != "ok" || a.ID != "deep-1" {
		t.Fatalf("deep frame: ack %+v, want ok with id deep-1", a)
	}
	if a := send(gws.OpcodeText, deep); a.Status != "duplicate" {
		t.Fatalf("deep frame resent: ack %+v, want duplicate", a)
	}
}

// scanCases are frames whose validity and id scanIngestFrame must read as encoding/json does.
var scanCases = []string{
	``, ` `, `{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `01`, `1.`, `1.5e+3`, `-`, `1e`, `"x"`,
	`{"id":"a"}`, `{"id":7}`, `{"id":-1.5e3}`, `{"id":null}`, `{"id":true}`, `{"id":{"x":1}}`,
	`{"id":["a"]}`, `{"x":{"id":"inner"},"id":"outer"}`, `{"x":{"id":"inner"}}`, `{"id":"a","id":"b"}`,
	`{"\u0069d":"escaped key"}`, `{"i\u0064":"e"}`, `{"id":"tab\there"}`, `{"id":"\u00e9\ud83d\ude00"}`,
	`{"id":"a\/b\\c\"d\b\f\n\r\t"}`, `{"id":"x"`, `{"id" "x"}`, `{"id":"x",}`, `[1,]`, `[1 2]`,
	`{"id":"x"} {}`, `{"id":"raw` + "\x01" + `"}`, `{"id":"\x"}`, `{"id":"\u12"}`, `{,}`, `{"a":1,,"b":2}`,
	` {"id" : "spaced" } `, `[{"id":"in array"}]`, `"\ud800"`, `{"id":1}x`, `tru`, `nul`, `{"id":"` + strings.Repeat("x", 129) + `"}`,
}

func FuzzScanIngestFrame(f *testing.F) {
	for _, c := range scanCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		valid, id := scanIngestFrame(b)
		if want := json.Valid(b); valid != want {
			t.Fatalf("scanIngestFrame(%q) valid %v, json.Valid %v", b, valid, want)
		}
		if !valid {
			if id != "" {
				t.Fatalf("invalid %q gave id %q", b, id)
			}
			return
		}
		// encoding/json's reading, where it is exact: the last "id" member of an object,
		// a string or a number, at most maxIDLen bytes.
		var m map[string]json.RawMessage
		want := ""
		if json.Unmarshal(b, &m) == nil && len(m["id"]) > 0 {
			raw := m["id"]
			switch raw[0] {
			case '"':
				_ = json.Unmarshal(raw, &want)
				if !utf8.Valid(raw) || strings.Contains(string(raw), `\u`) && !utf8.ValidString(id) {
					return // not exact there: that is the point
				}
			case '{', '[', 't', 'f', 'n':
			default:
				want = string(raw)
			}
			if len(want) > maxIDLen {
				want = ""
			}
		}
		if id != want {
			t.Fatalf("scanIngestFrame(%q) id %q, encoding/json %q", b, id, want)
		}
	})
}

// ingestEvent is a Keycloak login as the json serializer writes it.
const ingestEvent = `{"id":"00127cd7-0000-4000-8000-000000000042","kind":"EVENT","type":"LOGIN","time":1733150000000,"realmId":"acme-id","realmName":"acme","clientId":"web-portal","userId":"00127cd7-0000-4000-8000-000000000042","sessionId":"0000002a-2222-4000-8000-000000000042","ipAddress":"203.0.113.42","details":{"username":"user042","auth_method":"openid-connect","redirect_uri":"https://web-portal.example.com/callback"}}`

// BenchmarkScanIngestFrame reads an event's validity and id in one pass; the baseline is
// what ingest did before: json.Valid, then json.Unmarshal of the id.
func BenchmarkScanIngestFrame(b *testing.B) {
	frame := []byte(ingestEvent)
	b.Run("baseline=encoding/json", func(b *testing.B) {
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			if !json.Valid(frame) {
				b.Fatal("invalid")
			}
			var v struct {
				ID json.RawMessage `json:"id"`
			}
			var id string
			if json.Unmarshal(frame, &v) != nil || json.Unmarshal(v.ID, &id) != nil || id == "" {
				b.Fatal("no id")
			}
		}
	})
	b.Run("scan", func(b *testing.B) {
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			if ok, id := scanIngestFrame(frame); !ok || id == "" {
				b.Fatal("no id")
			}
		}
	})
}
