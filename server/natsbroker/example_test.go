package natsbroker_test

import (
	"context"
	"fmt"
	"log"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/kete-dev/kete/server"
	"github.com/kete-dev/kete/server/natsbroker"
)

// Two nodes share one NATS server: a publication on one reaches the other.
func Example() {
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		log.Fatal(err)
	}
	go ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(5 * time.Second) {
		log.Fatal("nats not ready")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nodeA, err := natsbroker.New(natsbroker.Options{URL: ns.ClientURL(), Name: "node-a"})
	if err != nil {
		log.Fatal(err)
	}
	defer nodeA.Close()
	nodeB, err := natsbroker.New(natsbroker.Options{URL: ns.ClientURL(), Name: "node-b"})
	if err != nil {
		log.Fatal(err)
	}
	defer nodeB.Close()
	for _, b := range []*natsbroker.Broker{nodeA, nodeB} {
		if err := b.Start(ctx); err != nil { // connects; New does not
			log.Fatal(err)
		}
	}

	got := make(chan string, 1)
	unsubscribe, err := nodeB.Subscribe(func(_ context.Context, appID, topic string, m server.Message) error {
		got <- fmt.Sprintf("%s %s %s", appID, topic, m.Data)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	defer unsubscribe()
	if err := nodeA.Publish(ctx, "demo", "events/login", server.Message{Data: []byte(`{"user":"ada"}`)}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-got)
	fmt.Println(nodeA.Subject("demo", "events/login"))
	// Output:
	// demo events/login {"user":"ada"}
	// kete.pub.demo.events/login
}
