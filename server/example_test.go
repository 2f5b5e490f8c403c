package server_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/lxzan/gws"

	"github.com/kete-dev/kete/server"
	"github.com/kete-dev/kete/server/auth"
)

type printFirst struct {
	gws.BuiltinEventHandler
	got chan string
}

func (p printFirst) OnMessage(_ *gws.Conn, m *gws.Message) {
	defer m.Close()
	select {
	case p.got <- m.Data.String():
	default:
	}
}

// A server with one app, and a client that connects with a token and gets its welcome.
func ExampleNew() {
	const secret = "example-secret-at-least-32-bytes-long"
	s, err := server.New(server.Options{Apps: []server.App{{
		AppID:   "demo",
		Enabled: true,
		AuthKey: auth.Key{Source: "raw", Key: secret, Algorithms: []string{"HS256"}},
	}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	if err := s.Start(); err != nil {
		fmt.Println(err)
		return
	}
	hs := httptest.NewServer(s)
	defer hs.Close()

	token, _ := auth.Mint("HS256", []byte(secret), auth.MintClaims{Subject: "alice", TTL: time.Minute})
	h := printFirst{got: make(chan string, 1)}
	c, _, err := gws.NewClient(h, &gws.ClientOption{Addr: "ws" + strings.TrimPrefix(hs.URL, "http") + "/apps/demo?access_token=" + token})
	if err != nil {
		fmt.Println(err)
		return
	}
	go c.ReadLoop()
	defer c.WriteClose(1000, nil)
	welcome := <-h.got
	fmt.Println(strings.HasPrefix(welcome, `{"topic":"main","messageType":"welcome","data":{"connection":{"appId":"demo"`))
	// Output: true
}
