package ingestwire

import (
	"net/url"
	"testing"
)

// The wire bytes are a contract with every deployed destination: these are the frames the
// server sent before this package existed.
func TestEncodeBytes(t *testing.T) {
	for _, tc := range []struct {
		ack  Ack
		want string
	}{
		{OK(1, "e-1"), `{"type":"ack","seq":1,"id":"e-1","status":"ok"}`},
		{OK(2, ""), `{"type":"ack","seq":2,"status":"ok"}`},
		{Duplicate(18446744073709551615, "x"), `{"type":"ack","seq":18446744073709551615,"id":"x","status":"duplicate"}`},
		{Nack(3, "", `broker: "down"`), `{"type":"nack","seq":3,"error":"broker: \"down\""}`},
		{Nack(4, "<&>\u2028", "é"), `{"type":"nack","seq":4,"id":"<&>\u2028","error":"é"}`},
	} {
		if got := string(Encode(tc.ack)); got != tc.want {
			t.Errorf("Encode(%+v)\n got %s\nwant %s", tc.ack, got, tc.want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, a := range []Ack{
		OK(1, "e-1"),
		OK(7, ""),
		Duplicate(2, `quote " and \ backslash`),
		Nack(3, "n", "publish: broker unavailable"),
		Nack(4, "", "line\nbreak \xff"),
	} {
		got, ok := Decode(Encode(a))
		if !ok {
			t.Fatalf("Decode(Encode(%+v)): not an ack", a)
		}
		if a.Error == "line\nbreak \xff" {
			a.Error = "line\nbreak \uFFFD" // invalid UTF-8 travels as U+FFFD, as encoding/json writes it
		}
		if got != a {
			t.Errorf("round trip: got %+v, want %+v", got, a)
		}
	}
}

func TestDecodeSkipsOtherFrames(t *testing.T) {
	for _, in := range []string{
		`{"topic":"main","messageType":"welcome","data":{"connection":{"id":"c"}}}`,
		`{"type":"broadcast","seq":1}`,
		`not json`,
		``,
		`{"type":"ack","seq":"one"}`,
	} {
		if a, ok := Decode([]byte(in)); ok {
			t.Errorf("Decode(%q) = %+v, want not an ack", in, a)
		}
	}
	if a, ok := Decode([]byte(`{"type":"nack","seq":9,"error":"full"}`)); !ok || !a.IsNack() || a.Seq != 9 || a.Error != "full" {
		t.Errorf("Decode(nack) = %+v, %v", a, ok)
	}
}

// TestAckRequested: the query both sides read; any case, as the destination always took it.
func TestAckRequested(t *testing.T) {
	for q, want := range map[string]bool{
		"ack=1": true, "ack=true": true, "ack=TRUE": true, "ack=True": true,
		"": false, "ack=0": false, "ack=false": false, "ack=yes": false, "other=1": false,
	} {
		v, err := url.ParseQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		if got := AckRequested(v); got != want {
			t.Errorf("AckRequested(%q) = %v, want %v", q, got, want)
		}
	}
}
