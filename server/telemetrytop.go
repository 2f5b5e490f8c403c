package server

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
)

// Top topics: GET /telemetry/top-topics/{appId}/{days}?limit=N, which the realtime-forum
// demo telemetry-get-app-top-topics.js (BackendStack21/realtime-forum, demos/node) calls
// on the platform's API gateway. Its answer is documented nowhere (docs/server.md,
// "Compatibility"); the demo only prints it. kete answers in the shape of the documented
// aggregates answer, with the topic as the record's _id.

// Bounds of the top topics.
const (
	// topTopicsPerDay caps the topics an app counts by name on one UTC day: the first
	// ones published to that day; later new topics are summed in "others". With topics of
	// at most 256 bytes, an app's counts stay under about 31 × 1,000 × 350 bytes ≈ 11 MB.
	topTopicsPerDay = 1000
	// Defaults and bounds of ?limit.
	topTopicsDefaultLimit = 10
	topTopicsMaxLimit     = topTopicsPerDay
)

// topicCounts is what the publications to one topic added up to.
type topicCounts struct {
	Ops         int64 `json:"ops"`
	Bytes       int64 `json:"bytes"`
	Subscribers int64 `json:"subscribers"`
}

func (c topicCounts) plus(o topicCounts) topicCounts {
	return topicCounts{c.Ops + o.Ops, c.Bytes + o.Bytes, c.Subscribers + o.Subscribers}
}

// topicTelemetry counts publications per topic and UTC day. Its zero value is ready.
type topicTelemetry struct{ days dailyTally[topicCounts] }

// addRun counts a run of messages of topic, each of which reached subscribers, at now
// (unix ns): the top-topics twin of telemetry.add, called where that is.
func (t *topicTelemetry) addRun(now int64, topic string, run []queued, subscribers int) {
	c := topicCounts{Ops: int64(len(run)), Subscribers: int64(len(run) * subscribers)}
	for _, q := range run {
		c.Bytes += int64(q.dataLen)
	}
	t.days.add(now, topic, topTopicsPerDay, c)
}

// topTopicRecord is one topic in the answer.
type topTopicRecord struct {
	Topic string `json:"_id"`
	topicCounts
}

// topTopicsAnswer is the answer of the top-topics path.
type topTopicsAnswer struct {
	From    string           `json:"from"` // start of the first UTC day counted
	Records []topTopicRecord `json:"records"`
	// Others sums the publications to topics that came past topTopicsPerDay on a day.
	Others topicCounts `json:"others"`
}

// handleTopTopics serves GET [/api]/telemetry/top-topics/{appId}/{days}?limit=N: the
// app's topics by publications (ops, then bytes; ties by name) over the current UTC
// day and the days-1 before it, at most limit of them (default 10, at most 1,000).
// Auth as the aggregates: an admin token with realtime:admin:manage:application.
// In a cluster every node sees every publication, so ops and bytes are the cluster's;
// subscribers are those this node reached.
func (s *Server) handleTopTopics(w http.ResponseWriter, r *http.Request) {
	h, from, to, ok := s.perDayTelemetryRequest(w, r)
	if !ok {
		return
	}
	limit := topTopicsDefaultLimit
	if q := r.URL.Query(); q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 || n > topTopicsMaxLimit {
			writeError(w, http.StatusBadRequest, "invalid_limit", "limit must be a whole number from 1 to "+strconv.Itoa(topTopicsMaxLimit)+", got "+strconv.Quote(q.Get("limit")))
			return
		}
		limit = n
	}
	byTopic, others := h.topTopics.days.sum(from, to)
	out := topTopicsAnswer{From: dayStart(from), Records: make([]topTopicRecord, 0, len(byTopic)), Others: others}
	for topic, c := range byTopic {
		out.Records = append(out.Records, topTopicRecord{topic, c})
	}
	slices.SortFunc(out.Records, func(a, b topTopicRecord) int {
		return cmp.Or(cmp.Compare(b.Ops, a.Ops), cmp.Compare(b.Bytes, a.Bytes), cmp.Compare(a.Topic, b.Topic))
	})
	out.Records = out.Records[:min(limit, len(out.Records))]
	writeJSON(w, http.StatusOK, out)
}
