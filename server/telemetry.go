package server

import (
	"sync"
	"time"
)

// telemetryBucket is the width of one telemetry record (Realtime Pub/Sub reports
// aggregates per 30 minutes).
const telemetryBucket = 30 * time.Minute

// telemetryKeep is how many buckets an app keeps: 31 days, so memory stays bounded.
const telemetryKeep = 31 * 48

// telemetry counts publications (ops), their data bytes and the subscribers they reached,
// per 30-minute bucket, in a fixed ring.
type telemetry struct {
	mu   sync.Mutex
	ring [telemetryKeep]telemetryRecord
}

// telemetryRecord is one bucket; Start is zero for an unused slot.
type telemetryRecord struct {
	Start       int64 // unix seconds of the bucket start
	Ops         int64
	Bytes       int64
	Subscribers int64
}

func newTelemetry() *telemetry { return &telemetry{} }

// add records one publication of dataLen bytes that reached subscribers, at now (unix ns).
func (t *telemetry) add(now int64, dataLen, subscribers int) {
	start := time.Unix(0, now).Truncate(telemetryBucket).Unix()
	slot := (start / int64(telemetryBucket/time.Second)) % telemetryKeep
	t.mu.Lock()
	r := &t.ring[slot]
	if r.Start != start {
		*r = telemetryRecord{Start: start}
	}
	r.Ops++
	r.Bytes += int64(dataLen)
	r.Subscribers += int64(subscribers)
	t.mu.Unlock()
}

// since returns the records whose bucket starts at or after from, oldest first.
func (t *telemetry) since(from time.Time) []telemetryRecord {
	cut := from.Truncate(telemetryBucket).Unix()
	t.mu.Lock()
	var out []telemetryRecord
	for _, r := range t.ring {
		if r.Start != 0 && r.Start >= cut {
			out = append(out, r)
		}
	}
	t.mu.Unlock()
	sortRecords(out)
	return out
}

func sortRecords(rs []telemetryRecord) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].Start < rs[j-1].Start; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}
