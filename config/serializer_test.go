package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lxzan/gws"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/serializer"
)

// TestRouteWithEachSerializerKind: a route with each serializer.kind, and its keys, loads,
// builds, and delivers to a WebSocket server on 127.0.0.1 exactly the bytes that kind
// writes: text frames for the text kinds, binary frames for cbor, smile, avro and
// protobuf (which need destination.binary-mode=true).
func TestRouteWithEachSerializerKind(t *testing.T) {
	s := newSink(t, false)
	extra := map[string]string{
		"template":         "kete.routes.ws.serializer.template-file-text=${type} in ${realmName}\nkete.routes.ws.serializer.variable-escape=json\nkete.routes.ws.serializer.content-type=text/markdown\n",
		"multipart-form":   "kete.routes.ws.serializer.nesting-notation=dot\n",
		"url-encoded-form": "kete.routes.ws.serializer.nesting-notation=bracket\n",
	}
	e := &kete.Event{Kind: kete.KindEvent, ID: "e1", Time: 1704816000000, RealmName: "acme", Type: "LOGIN",
		Details: map[string]string{"username": "alice"}}
	for _, kind := range serializer.Kinds() {
		t.Run(kind, func(t *testing.T) {
			binary := serializer.IsBinary(kind)
			props := fmt.Sprintf("kete.routes.ws.serializer.kind=%s\n%skete.routes.ws.destination.url=%s/%s\nkete.routes.ws.destination.binary-mode=%v\nkete.routes.ws.destination.pool.min-idle=0\n",
				kind, extra[kind], s.URL(), kind, binary)
			c := parse(t, props)
			if len(c.Warnings) > 0 {
				t.Errorf("warnings: %v", c.Warnings)
			}
			want, err := c.Routes[0].serializer.Serialize(nil, e)
			if err != nil {
				t.Fatal(err)
			}
			r := router(t, writeFile(t, "kete.properties", props), nil, Deps{})
			if n := send(t, r, e); n != 1 {
				t.Fatalf("matched %d routes", n)
			}
			got := s.next(t)
			if got.body != string(want) {
				t.Errorf("received %q\nwant %q", got.body, want)
			}
			if wantOp := map[bool]gws.Opcode{false: gws.OpcodeText, true: gws.OpcodeBinary}[binary]; got.op != wantOp {
				t.Errorf("opcode %v, want %v", got.op, wantOp)
			}
			if kind == "template" && (got.body != "LOGIN in acme" || r.Routes[0].Serializer.ContentType() != "text/markdown") {
				t.Errorf("template: %q, %s", got.body, r.Routes[0].Serializer.ContentType())
			}
		})
	}
}

// TestSerializerKeyProblems: a bad serializer key is refused naming it, and a binary kind
// in text frames names destination.binary-mode.
func TestSerializerKeyProblems(t *testing.T) {
	const url = "kete.routes.ws.destination.url=ws://127.0.0.1:1/x\n"
	for _, tt := range []struct {
		text, key, reason string
	}{
		{url + "kete.routes.ws.serializer.kind=cbor", "kete.routes.ws.destination.binary-mode", "must be true"},
		{url + "kete.routes.ws.serializer.kind=avro\nkete.routes.ws.destination.binary-mode=false", "kete.routes.ws.destination.binary-mode", "destination.binary-mode=true"},
		{url + "kete.routes.ws.serializer.kind=url-encoded-form\nkete.routes.ws.serializer.nesting-notation=colon", "kete.routes.ws.serializer.nesting-notation", "bracket or dot"},
		{url + "kete.routes.ws.serializer.kind=json\nkete.routes.ws.serializer.nesting-notation=dot", "kete.routes.ws.serializer.nesting-notation", "read only by multipart-form and url-encoded-form"},
		{url + "kete.routes.ws.serializer.kind=template\nkete.routes.ws.serializer.template-file-path=/no/such/template", "kete.routes.ws.serializer.template-file-path", "/no/such/template"},
		{url + "kete.routes.ws.serializer.kind=template\nkete.routes.ws.serializer.template-file-text=x\nkete.routes.ws.serializer.variable-escape=html", "kete.routes.ws.serializer.variable-escape", "want none, json"},
		{url + "kete.routes.ws.serializer.kind=msgpack", "kete.routes.ws.serializer.kind", "protobuf"},
	} {
		ps := problems(t, FormatProperties, tt.text)
		found := false
		for _, p := range ps {
			found = found || p.Key == tt.key && strings.Contains(p.Reason, tt.reason)
		}
		if !found {
			t.Errorf("%q: problems %v, want %s: …%s…", tt.text, ps, tt.key, tt.reason)
		}
	}
}
