package fastpub

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fastpub/fastpub/frame"
)

// EventKind says what happened to a client's connection.
type EventKind int

const (
	// EventDisconnected: the connection was lost (Event.Err says why). With a
	// reconnect policy the client starts reconnecting; without one it stays
	// disconnected until Connect and Logon are called again.
	EventDisconnected EventKind = iota + 1
	// EventReconnecting: an attempt to reach Event.URI is about to be made
	// after Event.Delay; Event.Attempt counts attempts in this outage from 1.
	EventReconnecting
	// EventReconnected: logged on to Event.URI again; Event.Replayed frames
	// from the store (or the unsent part of the send buffer) are being sent
	// again, before any new one.
	EventReconnected
	// EventPublishGap: the server's last sequence at logon is below what the
	// store had already discarded as persisted (Event.Err is a
	// *PublishGapError naming the range).
	EventPublishGap
	// EventGaveUp: the reconnect loop stopped for good (Event.Err says why:
	// an error retrying cannot fix, the maximum outage, a publish gap under
	// GapFail). Publishes now return that error.
	EventGaveUp
)

func (k EventKind) String() string {
	switch k {
	case EventDisconnected:
		return "disconnected"
	case EventReconnecting:
		return "reconnecting"
	case EventReconnected:
		return "reconnected"
	case EventPublishGap:
		return "publish gap"
	case EventGaveUp:
		return "gave up"
	}
	return "unknown"
}

// Event is one change of a client's connection, delivered to the handler
// given with WithEventHandler.
type Event struct {
	Kind     EventKind
	URI      string        // the server concerned, password redacted
	Attempt  int           // EventReconnecting: 1 for the first attempt of this outage
	Delay    time.Duration // EventReconnecting: the wait before this attempt
	Replayed uint64        // EventReconnected: frames sent again
	Err      error         // EventDisconnected, EventPublishGap, EventGaveUp: the cause
}

// FailedWrite is a stored publish that the server refused in a persisted
// ack: a failure status, or the reason "duplicate" or "not entitled". As the
// official clients do, it is reported once and then discarded, never sent
// again. The fields are copies: the handler may keep them.
type FailedWrite struct {
	Command       string // "publish" or "delta_publish"
	Topic         string
	Seq           uint64 // the message's sequence number ("s")
	Data          []byte // the payload as stored
	CorrelationID string
	SowKey        string
	Status        string // the ack's status ("failure", or "success" for a duplicate)
	Reason        string // the ack's reason ("duplicate", "not entitled", ...)
}

// Err returns the failure as a *ServerError (errors.Is matches the reason's
// sentinel: ErrNotEntitled, ErrPublish, ...).
func (f *FailedWrite) Err() error {
	return &ServerError{Command: f.Command, Status: f.Status, Reason: f.Reason}
}

// failedWriteFrom parses a stored frame (length prefix included) into a
// FailedWrite. A frame that does not parse (never: the client encoded it)
// still reports sequence, status and reason.
func failedWriteFrom(b []byte, seq uint64, status, reason string) FailedWrite {
	fw := FailedWrite{Command: "publish", Seq: seq, Status: status, Reason: reason}
	if len(b) < 4 {
		return fw
	}
	var h frame.Header
	payload, err := h.Parse(b[4:])
	if err != nil {
		return fw
	}
	if h.Command == frame.CmdDeltaPublish {
		fw.Command = "delta_publish"
	}
	fw.Topic = string(h.Topic)
	fw.Data = append([]byte(nil), payload...)
	fw.CorrelationID = string(h.CorrelationID)
	fw.SowKey = string(h.SowKey)
	return fw
}

// dispatcher runs the user's handlers, in order, on a goroutine of its own,
// so that no handler ever runs on the reader or the writer and every client
// method (Close included) is safe inside one. Its queue is unbounded, but
// what it carries is bounded by what the client holds: one event per
// connection change, one failed write per stored frame.
type dispatcher struct {
	mu      sync.Mutex
	q       []func()
	wake    chan struct{}
	done    chan struct{}
	started bool
	closed  bool
	loopID  atomic.Uint64 // the event goroutine's id (goroutineID), once it runs
}

func (d *dispatcher) post(f func()) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	if !d.started {
		d.started = true
		d.wake = make(chan struct{}, 1)
		d.done = make(chan struct{})
		go d.loop()
	}
	d.q = append(d.q, f)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *dispatcher) loop() {
	defer close(d.done)
	d.loopID.Store(goroutineID())
	for {
		d.mu.Lock()
		q := d.q
		d.q = nil
		closed := d.closed
		d.mu.Unlock()
		for _, f := range q {
			f()
		}
		if len(q) == 0 {
			if closed {
				return
			}
			<-d.wake
		}
	}
}

// close runs what is queued, then stops the goroutine. It waits for it,
// unless it is called from a handler, on that goroutine (waiting would
// deadlock). It used to skip the wait whenever a handler was running, and
// so Close, called elsewhere meanwhile, returned with handlers still to
// run (a review).
func (d *dispatcher) close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	started := d.started
	d.mu.Unlock()
	if !started {
		return
	}
	select {
	case d.wake <- struct{}{}:
	default:
	}
	if id := d.loopID.Load(); id == 0 || id != goroutineID() {
		<-d.done
	}
}

// goroutineID is the calling goroutine's id, read from the first line of
// its stack trace ("goroutine 42 [running]:"), whose format the runtime
// has kept since Go 1; 0 if it cannot be read. Go has no other way to ask
// "am I the event goroutine?"; it runs twice per client (the loop's start,
// close), never on a hot path.
func goroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	const prefix = "goroutine "
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return 0
	}
	var id uint64
	for _, ch := range b[len(prefix):] {
		if ch < '0' || ch > '9' {
			break
		}
		id = id*10 + uint64(ch-'0')
	}
	return id
}
