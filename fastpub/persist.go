package fastpub

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fastpub/fastpub/frame"
)

// With a store, every publish carries "a":"persisted" and "s", its sequence
// number: s = seqBase + the frame's Seq in the ring (fixed at the first
// logon), so finding a frame by the s of an ack is one subtraction, and the
// ring's commit table gives its end in O(1). Control frames (flushes,
// recovery's filler beats) take ring Seqs too, so the s values on the wire
// have gaps; AMPS needs them only strictly increasing per client name.
//
// Persisted acks reach the reader; the reader only posts them (ackState),
// and the consumer of the ring (the writer, or the reconnect loop between
// connections) applies them: it copies the frames of failed writes for the
// handler, then frees every frame up to the acknowledged one
// (ring.DiscardThrough). So the ring keeps a single consumer.

// ErrPublishGap: at logon the server's last sequence for this client name is
// below one it had acknowledged as persisted (writes it refused, reported
// to the failed-write handler, do not count), or, at the first logon, below
// what the store had recorded as persisted: the server lost
// messages it had acknowledged (its transaction log was lost, or another
// publisher uses the name). The *PublishGapError names the range.
var ErrPublishGap = errors.New("fastpub: publish gap")

// ErrSequenceAhead: at logon the server's last sequence for this client name
// is one the client cannot number above. After a reconnect: it is at or above
// a sequence this client has never sent (another publisher uses the name, or
// the server's history is not this client's): taken as persisted, it would
// free frames the server never received, and the server would refuse the
// next publishes as duplicates. At the first logon (with a store): the
// sequence would start so close to 2⁶⁴ that fewer than MinSequenceRoom
// numbers are left. The client stops, whatever the GapPolicy, keeping what it
// holds; the *SequenceAheadError says which.
var ErrSequenceAhead = errors.New("fastpub: the server's last sequence is ahead of the client")

// MinSequenceRoom is how many sequence numbers (2⁶²) a client with a store
// needs below 2⁶⁴ at its first logon: 14,000 years at 10 million frames a
// second.
const MinSequenceRoom = 1 << 62

// SequenceAheadError is a last sequence the client cannot number above (see
// ErrSequenceAhead).
type SequenceAheadError struct {
	URI  string // the server, password redacted
	Last uint64 // the server's last sequence for the client name
	// Sent is, after a reconnect, the highest sequence number the client
	// has sent whole (or the server had before), 0 if none; at the first
	// logon it is 0 and Start is set.
	Sent uint64
	// Start is, at the first logon, the first sequence number the client
	// would use (above Last and the store's).
	Start uint64
}

func (e *SequenceAheadError) Error() string {
	if e.Start != 0 {
		return "fastpub: the server's last sequence at " + e.URI + " is " + strconv.FormatUint(e.Last, 10) +
			": numbering from " + strconv.FormatUint(e.Start, 10) + " leaves fewer than 2^62 sequence numbers below 2^64"
	}
	return "fastpub: the server's last sequence at " + e.URI + " is " + strconv.FormatUint(e.Last, 10) +
		", but this client has sent sequences only through " + strconv.FormatUint(e.Sent, 10) +
		": another publisher uses the client name, or the server's history is not this client's"
}

// Unwrap returns ErrSequenceAhead.
func (e *SequenceAheadError) Unwrap() error { return ErrSequenceAhead }

// ErrOutage: the reconnect loop gave up after ReconnectPolicy.MaxOutage.
var ErrOutage = errors.New("fastpub: outage longer than the maximum")

// PublishGapError is a publish gap: sequences From through To were
// acknowledged as persisted and then lost by the server.
type PublishGapError struct {
	URI      string // the server, password redacted
	From, To uint64 // the missing sequence range, inclusive
}

func (e *PublishGapError) Error() string {
	return "fastpub: publish gap at " + e.URI + ": the server's last sequence is " +
		strconv.FormatUint(e.From-1, 10) + " but sequences through " +
		strconv.FormatUint(e.To, 10) + " were acknowledged as persisted; " +
		strconv.FormatUint(e.To-e.From+1, 10) + " messages (" + strconv.FormatUint(e.From, 10) +
		"-" + strconv.FormatUint(e.To, 10) + ") are missing on the server"
}

// Unwrap returns ErrPublishGap.
func (e *PublishGapError) Unwrap() error { return ErrPublishGap }

// OutageError is returned once the reconnect loop has tried for longer than
// ReconnectPolicy.MaxOutage.
type OutageError struct {
	Outage   time.Duration // how long the client tried
	Attempts int
	Last     error // the last attempt's error
}

func (e *OutageError) Error() string {
	msg := "fastpub: gave up reconnecting after " + e.Outage.Round(time.Millisecond).String() +
		" and " + strconv.Itoa(e.Attempts) + " attempts"
	if e.Last != nil {
		msg += ": " + e.Last.Error()
	}
	return msg
}

// Unwrap returns ErrOutage and the last attempt's error.
func (e *OutageError) Unwrap() []error { return []error{ErrOutage, e.Last} }

// GapPolicy says what a client with a store does about a publish gap.
type GapPolicy int

const (
	// GapFail (the default) reports the gap and stops. At the first logon,
	// Logon returns the *PublishGapError and the client is as before
	// Connect (publishes return ErrNotConnected; a later Connect and Logon
	// recover the store again). At a reconnect, the connection is dropped
	// and publishes return the *PublishGapError.
	GapFail GapPolicy = iota
	// GapContinue reports the gap (EventPublishGap) and carries on.
	GapContinue
)

// ackState carries persisted acknowledgements from the reader to the ring's
// consumer.
type ackState struct {
	to      atomic.Uint64 // 1 + the highest ring Seq acknowledged (0: none)
	beats   atomic.Uint64 // 1 + the highest ring Seq of a recovery filler beat (0: none); see freeSentBeats
	applied uint64        // consumer only: what DiscardThrough has freed up to
	nfail   atomic.Int32  // failures queued
	flushes atomic.Int32  // PublishFlush calls waiting on a stored flush frame
	mu      sync.Mutex
	fails   []failedAck
}

type failedAck struct {
	seq            uint64 // ring Seq
	status, reason string
}

// postAck records that every frame below ring Seq to is persisted, and wakes
// the consumer to free them. Safe from any goroutine.
func (c *Client) postAck(to uint64) {
	if raiseTo(&c.acks.to, to) {
		c.ring.Kick()
	}
}

// raiseTo makes a at least v (an atomic max) and reports whether it rose.
func raiseTo(a *atomic.Uint64, v uint64) bool {
	for {
		old := a.Load()
		if v <= old {
			return false
		}
		if a.CompareAndSwap(old, v) {
			return true
		}
	}
}

// onPersisted handles a persisted ack (reader goroutine). status and reason
// alias the reader's buffer; they become strings only for a failure, so a
// success costs no allocation.
func (c *Client) onPersisted(s uint64, status, reason []byte) {
	if c.store == nil || s < c.seqBase {
		return
	}
	q := s - c.seqBase
	raiseTo(&c.counters.persisted, s)
	// A refused write frees its frame but the server does not have it: its
	// last sequence may stay below s, so only what the server has counts
	// for the gap check at the next logon. A duplicate it has.
	failed := string(status) != "success" || string(reason) == "not entitled"
	if !failed {
		raiseTo(&c.counters.serverHas, s)
	}
	if failed || string(reason) == "duplicate" {
		st, re := string(status), string(reason)
		c.acks.mu.Lock()
		c.acks.fails = append(c.acks.fails, failedAck{seq: q, status: st, reason: re})
		c.acks.mu.Unlock()
		c.acks.nfail.Add(1)
		c.counters.countFailure(re, st)
	}
	c.postAck(q + 1)
}

// applyAcks frees what the server persisted, reporting failed writes first,
// and answers flushes whose frames it freed. Ring consumer only (the writer,
// or the reconnect loop between connections); locked says whether the caller
// holds c.mu.
func (c *Client) applyAcks(locked bool) {
	to := c.acks.to.Load()
	if to == 0 || to <= c.acks.applied && c.acks.nfail.Load() == 0 {
		return // nothing acknowledged yet (a failure may be queued just before its ack is posted), or nothing new
	}
	if c.acks.nfail.Load() > 0 {
		c.acks.mu.Lock()
		var keep []failedAck
		var report []failedAck
		for _, f := range c.acks.fails {
			if f.seq < to {
				report = append(report, f)
			} else {
				keep = append(keep, f)
			}
		}
		c.acks.fails = keep
		c.acks.nfail.Store(int32(len(keep)))
		c.acks.mu.Unlock()
		for _, f := range report {
			b, _ := c.ring.AppendFrame(nil, f.seq)
			fw := failedWriteFrom(b, c.seqBase+f.seq, f.status, f.reason)
			if h := c.cfg.failedWriteHandler; h != nil {
				c.events.post(func() { h(fw) })
			}
		}
	}
	// The server can hold only what was sent whole in this process, and
	// what its logon said it holds (frames an earlier process may have
	// sent it: recovered frames count only that far, since the first
	// logon dropped every recovered frame the server had): an ack beyond
	// it frees no more now, and the rest as the frames go out. (A server
	// acknowledging frames it cannot have received must not free frames
	// not yet sent: a review saw every publish after such an ack freed
	// unsent, each Publish returning nil, and then the same for the
	// recovered frames not yet replayed.) The writer records a write
	// only once writev returns, so a conforming server's ack can be
	// ahead of it for a moment too; the next pass completes it.
	if lim := max(c.ring.SentEver(), c.logonHeld); lim > 0 {
		c.ring.DiscardThrough(min(to, lim) - 1)
	}
	c.acks.applied = min(to, c.ring.ReleasedSeq())
	c.freeSentBeats()
	if c.acks.flushes.Load() > 0 {
		c.answerFreedFlushes(locked)
	}
	c.storePersisted()
}

// beatFrame is a heartbeat beat's frame, as the writer sends it (beat.go)
// and as recovery fills sequence numbers with.
var beatFrame = frame.AppendHeartbeatBeat(nil)

// freeSentBeats frees the heartbeat beats at the head of a store's ring
// once they are sent whole, and reports whether it freed any. Such beats
// are the fillers recovery puts in place of an earlier process's control
// frames and lost records (live beats never enter the ring: beat.go). A
// beat needs no persisting, and no ack frees it (persisted acks come for
// publishes and flushes). A beat behind an unpersisted frame goes with
// that frame's ack. Ring consumer only; no allocation.
func (c *Client) freeSentBeats() bool {
	freed := false
	for {
		q := c.ring.ReleasedSeq()
		if q >= c.acks.beats.Load() {
			return freed
		}
		size, sent, ok := c.ring.Head()
		if !ok || !sent || size != len(beatFrame) {
			return freed
		}
		var buf [32]byte
		if b, ok := c.ring.AppendFrame(buf[:0], q); !ok || string(b) != string(beatFrame) {
			return freed
		}
		c.ring.DiscardThrough(q)
		freed = true
	}
}

// storePersisted tells the store what the ring has freed. Ring consumer
// only.
func (c *Client) storePersisted() {
	// The first unpersisted frame starts at Released(); the store needs
	// that position only for frames of this process (see store.Begin).
	// What is freed may end in control frames, whose sequence numbers the
	// server never sees: what it holds (for the next process's gap check)
	// is only what it said it has.
	next := c.seqBase + c.ring.ReleasedSeq()
	pos := uint64(0)
	if next >= c.beginSeq {
		pos = c.ring.Released()
	}
	if err := c.store.Persisted(next-1, pos, min(c.counters.serverHas.Load(), next-1)); err != nil {
		c.reportError(err)
	}
}

// answerFreedFlushes answers every PublishFlush whose flush frame has been
// freed as persisted without its own ack: a later sequence was persisted
// (a persisted ack, or the last sequence of a new logon), so everything
// before the flush is too. Its ack may have been lost with a connection; the
// frame, discarded, will not be sent again. Ring consumer only.
func (c *Client) answerFreedFlushes(locked bool) {
	freed := c.ring.ReleasedSeq()
	if !locked {
		c.mu.Lock()
		defer c.mu.Unlock()
	}
	for cid, f := range c.flushes {
		if f.hasSeq && f.seq < freed {
			delete(c.flushes, cid)
			f.done <- nil // 1 slot, and the waiter is no longer in the map: never blocks
		}
	}
}
