package beehive

import (
	"bufio"
	"fmt"
	"io"
	"sort"
)

// ModuleStats is a snapshot of one module's counters.
type ModuleStats struct {
	Name  string
	Group Group
	// Running is true while the module's Run is executing; Stopped once it returned for good.
	Running bool
	Stopped bool
	// MailboxDepth is the number of messages waiting; MailboxCap the mailbox's bound.
	MailboxDepth int
	MailboxCap   int
	// Sent counts messages this module delivered (responses included); Received those it took from its
	// mailbox.
	Sent     uint64
	Received uint64
	// Dropped counts messages refused by this module's full mailbox (TrySend).
	Dropped uint64
	// SyncTimeouts counts this module's SendSync calls that gave up; LateResponses the responses to its
	// requests that arrived after that and were dropped.
	SyncTimeouts  uint64
	LateResponses uint64
	// Restarts counts restarts by the restart policy; LastError is the last failure, if any.
	Restarts  uint64
	LastError string
}

// Stats returns a snapshot of every module's counters, sorted by name. It is safe to call at any time.
func (h *Hive) Stats() []ModuleStats {
	h.mu.Lock()
	entries := append([]*entry(nil), h.order...)
	h.mu.Unlock()
	out := make([]ModuleStats, 0, len(entries))
	for _, e := range entries {
		s := ModuleStats{
			Name:          e.name,
			Group:         e.group,
			Running:       e.running.Load(),
			Stopped:       e.stopped.Load(),
			MailboxDepth:  len(e.mailbox),
			MailboxCap:    cap(e.mailbox),
			Sent:          e.sent.Load(),
			Received:      e.received.Load(),
			Dropped:       e.dropped.Load(),
			SyncTimeouts:  e.syncTimeouts.Load(),
			LateResponses: e.late.Load(),
			Restarts:      e.restarts.Load(),
		}
		if p := e.lastErr.Load(); p != nil {
			s.LastError = *p
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// WriteMetrics writes stats in the Prometheus text exposition format, so that a main can serve them on
// its /metrics endpoint without this package importing a metrics library.
func WriteMetrics(w io.Writer, stats []ModuleStats) error {
	bw := bufio.NewWriter(w)
	type metric struct {
		name, help, typ string
		value           func(ModuleStats) float64
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	metrics := []metric{
		{"beehive_mailbox_depth", "Messages waiting in the module's mailbox.", "gauge", func(s ModuleStats) float64 { return float64(s.MailboxDepth) }},
		{"beehive_mailbox_capacity", "Bound of the module's mailbox.", "gauge", func(s ModuleStats) float64 { return float64(s.MailboxCap) }},
		{"beehive_module_running", "1 while the module runs.", "gauge", func(s ModuleStats) float64 { return b2f(s.Running) }},
		{"beehive_messages_sent_total", "Messages the module delivered.", "counter", func(s ModuleStats) float64 { return float64(s.Sent) }},
		{"beehive_messages_received_total", "Messages the module received.", "counter", func(s ModuleStats) float64 { return float64(s.Received) }},
		{"beehive_messages_dropped_total", "Messages refused by the module's full mailbox.", "counter", func(s ModuleStats) float64 { return float64(s.Dropped) }},
		{"beehive_sync_timeouts_total", "SendSync calls of the module that gave up.", "counter", func(s ModuleStats) float64 { return float64(s.SyncTimeouts) }},
		{"beehive_late_responses_total", "Responses to the module's requests that came too late and were dropped.", "counter", func(s ModuleStats) float64 { return float64(s.LateResponses) }},
		{"beehive_module_restarts_total", "Restarts of the module by its restart policy.", "counter", func(s ModuleStats) float64 { return float64(s.Restarts) }},
	}
	for _, m := range metrics {
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", m.name, m.help, m.name, m.typ)
		for _, s := range stats {
			fmt.Fprintf(bw, "%s{module=%q,group=%q} %g\n", m.name, s.Name, string(s.Group), m.value(s))
		}
	}
	return bw.Flush()
}
