package daemon_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/daemon"
	"github.com/kete-dev/kete/destination"
	"github.com/kete-dev/kete/serializer"
	"github.com/kete-dev/kete/spool"
	"github.com/kete-dev/kete/template"
	"github.com/lxzan/gws"
)

// frames is a WebSocket server's handler: it hands each text frame it reads, with the
// path it came to, to got.
type frames struct {
	gws.BuiltinEventHandler
	got chan string
}

func (f *frames) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	path, _ := c.Session().Load("path")
	f.got <- fmt.Sprintf("%s %s", path, m.Data)
}

// A pipeline takes events in (here by hand, as a source does), makes them durable in the
// spool, and delivers each to every route whose matchers accept it: this route sends
// LOGIN events, as KETE's json, to a WebSocket URL rendered per realm.
func Example() {
	// A WebSocket server on 127.0.0.1, standing for the route's destination.
	f := &frames{got: make(chan string, 1)}
	up := gws.NewUpgrader(f, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		c.Session().Store("path", r.URL.Path)
		go c.ReadLoop() // ends when the destination closes the connection
	}))
	defer srv.Close()

	dir, err := os.MkdirTemp("", "daemon-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	sp, err := spool.Open(spool.Options{Dir: dir, Routes: []string{"logins"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sp.Close()

	url, _ := template.Compile("ws" + srv.URL[len("http"):] + "/events/${realmLowerCase}")
	ws, err := destination.NewWebSocket(destination.WebSocketOptions{URL: url, TrustUTF8: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.Close()
	logins, _ := kete.ParseMatcher("list:LOGIN")
	p, err := daemon.New(daemon.Options{Spool: sp, Routes: []daemon.Route{{Route: &kete.Route{
		Name: "logins", EventMatchers: []kete.Matcher{logins},
		Serializer: serializer.JSON{}, Destination: ws,
	}}}})
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	err = p.Ingest(ctx, "example", []kete.Event{
		{Kind: kete.KindEvent, ID: "e-1", Time: 1700000000000, Type: "LOGOUT", RealmName: "Acme"},
		{Kind: kete.KindEvent, ID: "e-2", Time: 1700000000001, Type: "LOGIN", RealmName: "Acme", UserID: "u-1"},
	})
	if err != nil {
		fmt.Println(err)
	}
	select {
	case frame := <-f.got:
		fmt.Println(frame)
	case <-time.After(10 * time.Second):
		fmt.Println("nothing delivered")
	}
	cancel()
	if err := <-done; err != nil {
		fmt.Println(err)
	}
	// Output:
	// /events/acme {"id":"e-2","time":1700000000001,"type":"LOGIN","realmId":null,"realmName":"Acme","clientId":null,"userId":"u-1","sessionId":null,"ipAddress":null,"error":null,"details":null}
}
