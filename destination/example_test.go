package destination_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/kete-dev/kete"
	"github.com/kete-dev/kete/destination"
	"github.com/kete-dev/kete/serializer"
	"github.com/kete-dev/kete/template"
	"github.com/lxzan/gws"
)

// printer is a WebSocket server's handler that hands each frame it receives to a channel.
type printer struct {
	gws.BuiltinEventHandler
	frames chan string
}

func (p *printer) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	path, _ := c.Session().Load("path")
	var e struct{ RealmName, Type, UserID string }
	_ = json.Unmarshal(m.Bytes(), &e)
	p.frames <- fmt.Sprintf("%s: %s by %s in %s", path, e.Type, e.UserID, e.RealmName)
}

// A route sends each matching event, serialized as JSON, to the URL its template renders
// for the event: here one path per realm and event type.
func ExampleNewWebSocket() {
	// A WebSocket server on loopback that reports what it receives.
	p := &printer{frames: make(chan string, 1)}
	upgrader := gws.NewUpgrader(p, nil)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := upgrader.Upgrade(w, r); err == nil {
			c.Session().Store("path", r.URL.Path)
			go c.ReadLoop()
		}
	}))
	defer server.Close()

	url, err := template.Compile("ws://" + server.Listener.Addr().String() + "/events/${realmLowerCase}/${eventTypeKebabCase}")
	if err != nil {
		panic(err)
	}
	ws, err := destination.NewWebSocket(destination.WebSocketOptions{
		URL:                   url,
		ConnectTimeout:        10 * time.Second,
		ConnectionLostTimeout: 60 * time.Second,
		Pool:                  destination.PoolOptions{MinIdle: 1, MaxIdle: 10, MaxTotal: 20, MaxWait: 30 * time.Second},
		Headers:               http.Header{"X-Tenant": {"acme"}},
	})
	if err != nil {
		panic(err)
	}
	defer ws.Close()

	realms, _ := kete.ParseMatcher("list:acme,master")
	jsonSerializer, _ := serializer.New("json", "")
	route := &kete.Route{
		Name:          "ws",
		RealmMatchers: []kete.Matcher{realms},
		Serializer:    jsonSerializer,
		Destination:   destination.WithRetry(ws, kete.DefaultRetry),
	}
	router := &kete.Router{Routes: []*kete.Route{route}}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	event := &kete.Event{Kind: kete.KindEvent, ID: "e1", Type: "LOGIN_ERROR", RealmName: "Acme", UserID: "alice", Error: "invalid_user_credentials"}
	if _, err := router.Send(ctx, event); err != nil {
		panic(err)
	}
	fmt.Println(<-p.frames)
	// Output: /events/acme/login-error: LOGIN_ERROR by alice in Acme
}
