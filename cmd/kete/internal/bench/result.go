package bench

import "time"

// result is one fan-out run against one target.
type result struct {
	Target target     `json:"target"`
	Mode   fanoutMode `json:"mode"`
	Round  int        `json:"round"`
	// Requested and Connected count subscribers asked for and subscribed in time;
	// Disconnected counts those the target closed during the run.
	Requested    int         `json:"requested"`
	Connected    int         `json:"connected"`
	Disconnected int         `json:"disconnected"`
	Size         int         `json:"size"`
	Publish      publishMode `json:"publish"`
	// RateTarget is the asked-for deliveries/s (modeRate); Window the in-flight bound
	// (modeSaturate).
	RateTarget float64 `json:"rateTarget,omitempty"`
	Window     int     `json:"window,omitempty"`
	// Sent messages; Expected = Sent × Connected deliveries; Received deliveries; Loss =
	// Expected − Received.
	Sent     int64 `json:"sent"`
	Expected int64 `json:"expected"`
	Received int64 `json:"received"`
	Loss     int64 `json:"loss"`
	// PublishErrors counts failed publishes (the first error is in Errors).
	PublishErrors int64 `json:"publishErrors"`
	// Elapsed runs from the first publish to the last delivery (or the drain's end).
	Elapsed time.Duration `json:"elapsedNs"`
	// DeliveriesPerSec is Received / Elapsed.
	DeliveriesPerSec float64 `json:"deliveriesPerSec"`
	Latency          latency `json:"latency"`
	serverCPU                // the target's CPU seconds, when its pids are known
	// SubscriberMin and SubscriberMax are the fewest and most messages one subscribed
	// subscriber received: both equal Sent when every subscriber got every message once.
	SubscriberMin int64 `json:"subscriberMin"`
	SubscriberMax int64 `json:"subscriberMax"`
	// PerNode splits subscribers and deliveries by node (one entry for a single node).
	PerNode []nodeResult `json:"perNode,omitempty"`
	memory               // the target's RSS, when its pids are known
	// LoadCPU is this process's CPU time over the run; HostBusy the share of all the
	// host's CPUs that was busy (0..1), HostCPUs how many there are.
	LoadCPU  time.Duration `json:"loadCpuNs"`
	HostBusy float64       `json:"hostBusy"`
	HostCPUs int           `json:"hostCpus"`
	// Timeline is deliveries per Interval from the first publish.
	Interval time.Duration `json:"intervalNs"`
	Timeline []int64       `json:"timeline"`
	// Buckets is the latency histogram (non-empty buckets).
	Buckets []bucket `json:"buckets"`
	Errors  []string `json:"errors,omitempty"`

	hist *histogram
}

// nodeResult is one node's share of a run: its subscribed subscribers and what they
// received.
type nodeResult struct {
	URL         string `json:"url"`
	Subscribers int    `json:"subscribers"`
	Received    int64  `json:"received"`
}

// serverCPU is what the target's processes (and the broker) spent over a run, from /proc.
// Embedded in result, its fields sit in result's JSON.
type serverCPU struct {
	// ServerCPU is the target process's CPU time over the run (needs target.PID), and
	// DeliveriesPerCPU is Received / ServerCPU seconds.
	ServerCPU time.Duration `json:"serverCpuNs,omitempty"`
	// ServerSystemCPU is the kernel's part of ServerCPU (on loopback, mostly TCP send
	// and the receivers' wake-ups).
	ServerSystemCPU  time.Duration `json:"serverSystemCpuNs,omitempty"`
	DeliveriesPerCPU float64       `json:"deliveriesPerCpuSecond,omitempty"`
	// BrokerCPU is the broker's CPU time over the run (needs target.BrokerPID); it is not
	// in ServerCPU.
	BrokerCPU time.Duration `json:"brokerCpuNs,omitempty"`
}

// memory is the target's resident memory around a run, from /proc: RSSBefore before
// connecting, RSSConnected with everyone subscribed (and settled in modeIdle), RSSPerConn
// their difference per subscriber. Embedded in result, its fields sit in result's JSON.
type memory struct {
	RSSBefore    int64   `json:"rssBefore,omitempty"`
	RSSConnected int64   `json:"rssConnected,omitempty"`
	RSSPerConn   float64 `json:"rssPerConn,omitempty"`
}
