package main

import (
	"bytes"
	"context"
	"errors"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/fastpub/fastpub/loadreport"
	"github.com/fastpub/fastpub/subscriber"
)

// Verification (--verify).
//
// Before the first publish, one subscriber connection (package subscriber,
// client name <prefix>-verify) subscribes to every topic of the run. Every
// payload carries a stamp (see template.go): the run's id, the producer,
// the producer's sequence number and the time the message was due. The
// verifier reads every delivery and keeps, per producer, a bitmap of the
// sequences seen (a second sighting is a duplicate) and, per producer and
// topic, the highest sequence seen (a lower one, not seen before, arrived
// out of order: AMPS keeps one publisher's order per topic). Deliveries
// without this run's stamp (other publishers on a shared server) are counted
// as foreign and otherwise ignored.
//
// The tail: once a connection's producers are done, it publishes an end
// marker to every topic and flushes. A connection's markers arrive after
// everything it published before them, so when every healthy connection's
// markers are in, the verifier has seen all it will ever see, and lost
// messages are known at once. Without them (a lost marker, a broken
// connection) it waits at most --verify-timeout. Lost is then, per producer,
// the sequences from 1 to the last one Publish accepted that never arrived.

// maxSeqJump bounds how far past its bitmap a sequence may be before the
// verifier treats it as garbage instead of growing the bitmap for it.
const maxSeqJump = 1 << 26

type prodTrack struct {
	seen   []uint64 // bit s: sequence s delivered
	maxSeq []uint64 // per topic index; allocated on first delivery
}

// verifier consumes one subscriber's deliveries.
type verifier struct {
	sub    *subscriber.Subscriber
	prefix []byte
	topics map[string]int
	nConns int

	// Owned by loop until done is closed.
	prods       []prodTrack
	dup, ooo    uint64
	foreign     uint64
	hist        *hdrhistogram.Histogram   // since the last interval boundary (intervals.go)
	iv          atomic.Pointer[intervals] // set when publishing starts
	nextB       int64                     // Unix ns of the next interval boundary
	err         error
	received    atomic.Uint64 // every stamped delivery, for the progress line
	wallClock   func() int64  // Unix nanoseconds; replaceable in tests
	markersSeen []bool        // conn*topics + topic; guarded by mu

	mu       sync.Mutex
	markerCh chan struct{}      // 1-slot: a marker arrived
	done     chan struct{}      // closed when loop returns
	cancel   context.CancelFunc // stops loop (set by the run)
}

func newVerifier(sub *subscriber.Subscriber, run uint32, topics []string, conns, producers int) *verifier {
	v := &verifier{
		sub:         sub,
		prefix:      runPrefix(run),
		topics:      make(map[string]int, len(topics)),
		nConns:      conns,
		prods:       make([]prodTrack, producers),
		hist:        newHistogram(),
		wallClock:   func() int64 { return time.Now().UnixNano() },
		markersSeen: make([]bool, conns*len(topics)),
		markerCh:    make(chan struct{}, 1),
		done:        make(chan struct{}),
	}
	for i, t := range topics {
		v.topics[t] = i
	}
	return v
}

// subscribe subscribes to every topic. Call it before loop starts only when
// nothing can be delivered yet (before publishing); Next is not drained
// meanwhile.
func (v *verifier) subscribe(ctx context.Context, topics []string) error {
	for _, t := range topics {
		if _, err := v.sub.Subscribe(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

// loop reads deliveries until ctx ends or the subscription fails.
func (v *verifier) loop(ctx context.Context) {
	defer close(v.done)
	for {
		m, err := v.sub.Next(ctx)
		if err != nil {
			if ctx.Err() == nil {
				v.err = err
			}
			return
		}
		now := v.wallClock()
		v.handle(m.Topic, m.Payload, now)
		if now >= v.nextB {
			if iv := v.iv.Load(); iv != nil {
				iv.series["delivery"].flush(v.hist)
				v.nextB = iv.start.UnixNano() + int64(iv.boundary(time.Duration(now-iv.start.UnixNano())))
			}
		}
	}
}

// flushIntervals hands the delivery latency recorded since the last
// boundary to the run's series: call it once loop has returned.
func (v *verifier) flushIntervals() {
	if iv := v.iv.Load(); iv != nil {
		iv.series["delivery"].flush(v.hist)
	}
}

// handle checks one delivery received at wall time now.
func (v *verifier) handle(topic, payload []byte, now int64) {
	i := bytes.Index(payload, v.prefix)
	if i < 0 {
		v.foreign++
		return
	}
	st, ok := parseStamp(payload[i:])
	ti, known := v.topics[string(topic)]
	if !ok || !known {
		v.foreign++
		return
	}
	if st.marker {
		if st.who >= uint64(v.nConns) {
			v.foreign++
			return
		}
		v.mu.Lock()
		v.markersSeen[int(st.who)*len(v.topics)+ti] = true
		v.mu.Unlock()
		select {
		case v.markerCh <- struct{}{}:
		default:
		}
		return
	}
	if st.who >= uint64(len(v.prods)) || st.seq == 0 {
		v.foreign++
		return
	}
	p := &v.prods[st.who]
	w := st.seq >> 6
	if w >= uint64(len(p.seen)) {
		if w-uint64(len(p.seen)) > maxSeqJump/64 {
			v.foreign++
			return
		}
		p.seen = append(p.seen, make([]uint64, int(w)+1-len(p.seen))...)
		p.seen = p.seen[:cap(p.seen)]
	}
	bit := uint64(1) << (st.seq & 63)
	v.received.Add(1)
	if p.seen[w]&bit != 0 {
		v.dup++
		return
	}
	p.seen[w] |= bit
	if p.maxSeq == nil {
		p.maxSeq = make([]uint64, len(v.topics))
	}
	if st.seq < p.maxSeq[ti] {
		v.ooo++
	} else {
		p.maxSeq[ti] = st.seq
	}
	record(v.hist, now-st.ts)
}

// haveMarkers reports whether every topic's end marker from each of conns
// has arrived.
func (v *verifier) haveMarkers(conns []int) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := len(v.topics)
	for _, c := range conns {
		for t := 0; t < n; t++ {
			if !v.markersSeen[c*n+t] {
				return false
			}
		}
	}
	return true
}

// waitTail waits until the markers of conns are in, the verifier stopped,
// or timeout passed, and says which.
func (v *verifier) waitTail(conns []int, timeout time.Duration) string {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for !v.haveMarkers(conns) {
		select {
		case <-v.markerCh:
		case <-v.done:
			return "the subscription ended"
		case <-deadline.C:
			return "timed out after " + timeout.String() + " without every end marker"
		}
	}
	return "complete (every connection's end markers arrived)"
}

// result stops nothing: call it after loop has returned. published[p] is the
// last sequence producer p's Publish accepted.
func (v *verifier) result(published []uint64, topics int) *loadreport.Verify {
	r := &loadreport.Verify{Topics: topics, Duplicated: v.dup, OutOfOrder: v.ooo, Foreign: v.foreign}
	for p, n := range published {
		r.Expected += n
		r.Received += countBits(v.prods[p].seen, n)
	}
	r.Lost = r.Expected - r.Received
	if v.err != nil && !errors.Is(v.err, subscriber.ErrClosed) {
		r.Error = "subscriber: " + v.err.Error()
	}
	return r
}

// countBits counts the set bits 0..n of a bitmap (bit 0, sequence 0, is
// never set).
func countBits(seen []uint64, n uint64) uint64 {
	var c uint64
	full := (n + 1) >> 6 // words wholly within bits 0..n
	for i := uint64(0); i < full && i < uint64(len(seen)); i++ {
		c += uint64(bits.OnesCount64(seen[i]))
	}
	if rem := (n + 1) & 63; rem > 0 && full < uint64(len(seen)) {
		c += uint64(bits.OnesCount64(seen[full] & (uint64(1)<<rem - 1)))
	}
	return c
}
