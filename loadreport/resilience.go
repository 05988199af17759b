package loadreport

import (
	"fmt"
	"slices"
	"strings"
)

// MaxEvents is how many connection events one run's report keeps
// (Resilience.Events); later ones are counted in EventsDropped.
const MaxEvents = 256

// Resilience is what the publish store and the reconnect policy did, all
// connections of the run summed: the counters come from fastpub's
// Client.Stats (read after the final flush), the events and the first
// failed write from the client's event and failed-write handlers. Nil in a
// run with neither a store (--ack persisted) nor a reconnect policy.
type Resilience struct {
	Disconnects uint64 `json:"disconnects"`        // connections lost (Stats.Disconnects)
	Attempts    uint64 `json:"reconnect_attempts"` // reconnect attempts made (EventReconnecting)
	Reconnects  uint64 `json:"reconnects"`         // logged on again after a loss (Stats.Reconnects)
	Failovers   uint64 `json:"failovers"`          // reconnects to another server than the one lost
	Replayed    uint64 `json:"replayed"`           // frames sent again after reconnects (Stats.Replayed)
	// FailedWrites counts the stored publishes the server refused in a
	// persisted ack, by reason ("" when the ack had none); empty when none
	// (Stats.FailedWrites). Any of them fails the run.
	FailedWrites     map[string]uint64 `json:"failed_writes"`
	FirstFailedWrite string            `json:"first_failed_write,omitempty"` // topic, sequence, status, reason
	Gaps             uint64            `json:"publish_gaps"`                 // EventPublishGap: the server lost persisted messages
	GaveUp           uint64            `json:"gave_up"`                      // EventGaveUp: a client stopped reconnecting for good
	// Unpersisted is the frames the store still held when the run's
	// counters were read, after the final flush (Stats.Unpersisted): 0
	// after a clean run with a store.
	Unpersisted   uint64  `json:"unpersisted"`
	Events        []Event `json:"events"`         // in order, the first MaxEvents of each run
	EventsDropped uint64  `json:"events_dropped"` // events past MaxEvents, counted only
}

// Event is one change of a connection (fastpub.Event).
type Event struct {
	Run      string  `json:"run,omitempty"` // merged reports: the run it came from
	T        float64 `json:"t_s"`           // seconds since the run's start (merged: since the first run's start)
	Conn     int     `json:"connection"`
	Kind     string  `json:"kind"` // disconnected, reconnecting, reconnected, publish gap, gave up
	URI      string  `json:"uri,omitempty"`
	Attempt  int     `json:"attempt,omitempty"`
	Delay    float64 `json:"delay_s,omitempty"`
	Replayed uint64  `json:"replayed,omitempty"`
	Err      string  `json:"error,omitempty"`
}

// FailedWritesTotal is the sum of FailedWrites.
func (r *Resilience) FailedWritesTotal() uint64 {
	var n uint64
	for _, v := range r.FailedWrites {
		n += v
	}
	return n
}

// failures are the verdicts the resilience part adds to the run's.
func (r *Resilience) failures() []string {
	var out []string
	if n := r.FailedWritesTotal(); n > 0 {
		f := fmt.Sprintf("%d failed write(s): stored publishes the server refused (%s)", n, r.failedText())
		if r.FirstFailedWrite != "" {
			f += ", first: " + r.FirstFailedWrite
		}
		out = append(out, f)
	}
	if r.Gaps > 0 {
		out = append(out, fmt.Sprintf("%d publish gap(s): the server lost messages it had acknowledged as persisted", r.Gaps))
	}
	if r.GaveUp > 0 {
		out = append(out, fmt.Sprintf("%d connection(s) gave up reconnecting", r.GaveUp))
	}
	return out
}

// failedText lists FailedWrites by reason, most first: "duplicate 3, not
// entitled 1"; "none" when empty.
func (r *Resilience) failedText() string {
	if len(r.FailedWrites) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(r.FailedWrites))
	for k := range r.FailedWrites {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if d := int64(r.FailedWrites[b]) - int64(r.FailedWrites[a]); d != 0 {
			if d > 0 {
				return 1
			}
			return -1
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		name := k
		if name == "" {
			name = "(no reason)"
		}
		parts[i] = name + " " + Commas(r.FailedWrites[k])
	}
	return strings.Join(parts, ", ")
}

// storeText is the report's store line.
func (wl *Workload) storeText(r *Resilience) string {
	s := fmt.Sprintf("memory store, %s / %s messages: every publish carries a sequence number and asks for a persisted ack; flushes wait until the server has persisted everything before them",
		IBytes(uint64(wl.StoreBytes)), Commas(uint64(wl.StoreMessages)))
	if wl.StoreKind == "file" {
		s = wl.fileStoreText()
	}
	if r != nil {
		s += fmt.Sprintf("; %s frame(s) unpersisted at the end", Commas(r.Unpersisted))
	}
	return s
}

// ReconnectText is the report's reconnect line.
func (r *Resilience) ReconnectText() string {
	return fmt.Sprintf("%s disconnect(s), %s reconnect(s) (%s attempt(s), %s to another server), %s frame(s) replayed",
		Commas(r.Disconnects), Commas(r.Reconnects), Commas(r.Attempts), Commas(r.Failovers), Commas(r.Replayed))
}

// FailedLine is the report's failed-writes line.
func (r *Resilience) FailedLine() string {
	n := r.FailedWritesTotal()
	if n == 0 {
		return "0 (no stored publish refused by the server)"
	}
	s := fmt.Sprintf("%s stored publish(es) refused by the server: %s", Commas(n), r.failedText())
	if r.FirstFailedWrite != "" {
		s += "; first: " + r.FirstFailedWrite
	}
	return s
}

// add sums o into r (merging runs); o's events are appended with its run
// id and their times moved by offset seconds.
func (r *Resilience) add(o *Resilience, run string, offset float64) {
	r.Disconnects += o.Disconnects
	r.Attempts += o.Attempts
	r.Reconnects += o.Reconnects
	r.Failovers += o.Failovers
	r.Replayed += o.Replayed
	for k, v := range o.FailedWrites {
		if r.FailedWrites == nil {
			r.FailedWrites = map[string]uint64{}
		}
		r.FailedWrites[k] += v
	}
	if r.FirstFailedWrite == "" && o.FirstFailedWrite != "" {
		r.FirstFailedWrite = "run " + run + ": " + o.FirstFailedWrite
	}
	r.Gaps += o.Gaps
	r.GaveUp += o.GaveUp
	r.Unpersisted += o.Unpersisted
	r.EventsDropped += o.EventsDropped
	for _, e := range o.Events {
		if e.Run == "" {
			e.Run = run
		}
		e.T += offset
		r.Events = append(r.Events, e)
	}
}
