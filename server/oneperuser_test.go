package server

import (
	"sync"
	"testing"
	"time"

	"github.com/kete-dev/kete/internal/wstest"
)

// TestRejectRaceOnOneNode: many connects of one subject at once to an app with
// oneConnectionPerUser "reject" let exactly one in; the rest get 409 before the upgrade,
// and once that one leaves the subject can connect again.
func TestRejectRaceOnOneNode(t *testing.T) {
	app := testApp("reject", secretA)
	app.OneConnectionPerUser = OnePerUserReject
	// Each upgraded connection waits a little before it is registered, so that the
	// connects overlap between the check and the registration.
	_, hs := startServer(t, Options{Apps: []App{app}, upgraded: func() { time.Sleep(20 * time.Millisecond) }})
	url := wsURL(hs, "/apps/reject?access_token="+mint(t, secretA, "alice", time.Hour))

	const tries = 16
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		accepted []*wstest.Client
		refused  = map[int]int{}
	)
	start := make(chan struct{})
	for range tries {
		wg.Go(func() {
			<-start
			tc, resp, err := wstest.Dial(t, url, wstest.Options{})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				accepted = append(accepted, tc)
				return
			}
			refused[wstest.Status(resp)]++
		})
	}
	close(start)
	wg.Wait()
	if len(accepted) != 1 || refused[409] != tries-1 {
		t.Fatalf("%d accepted, refusals by status %v; want 1 accepted and %d refused with 409", len(accepted), refused, tries-1)
	}
	_ = accepted[0].Conn().WriteClose(1000, nil)
	accepted[0].WaitClosed()
	waitUntil(t, "alice to be able to connect again", func() bool {
		tc, _, err := wstest.Dial(t, url, wstest.Options{})
		if err == nil {
			_ = tc.Conn().WriteClose(1000, nil)
		}
		return err == nil
	})
}
