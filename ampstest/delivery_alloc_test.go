//go:build !race

package ampstest

import (
	"bytes"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fastpub/fastpub/frame"
)

// Zero-allocation proofs for the delivery path: a publish on a subscribed topic, handled by
// the strict path, fanned out to every subscribed connection's outbound buffer. The race
// detector allocates, so these run without it.

// TestDeliverZeroAllocs runs one publish frame at a time through the publishing connection's
// strict handler (header parse, dispatch, counters, bookmark and timestamp, delivery encoding
// into each subscriber's outbound buffer, acks) and requires zero allocations per frame once
// the buffers have grown.
func TestDeliverZeroAllocs(t *testing.T) {
	tests := []struct {
		name    string
		pub     frame.Publish
		subs    [][]string // per subscriber connection: its sub ids on topic "t"
		persist bool       // Immediate persisted acks: the publisher's own outbound buffer too
	}{
		{name: "one subscriber", pub: frame.Publish{Topic: "t"}, subs: [][]string{{"s1"}}},
		{name: "three subscribers", pub: frame.Publish{Topic: "t"}, subs: [][]string{{"a"}, {"b"}, {"c"}}},
		{name: "two subscriptions on one connection", pub: frame.Publish{Topic: "t"}, subs: [][]string{{"x", "y"}}},
		{name: "correlation id and sow key", pub: frame.Publish{Topic: "t", CorrelationID: "corr-1", SowKey: "k1"}, subs: [][]string{{"s1"}}},
		{name: "processed and persisted acks", pub: frame.Publish{Topic: "t", CommandID: "p1", Ack: frame.AckProcessed | frame.AckPersisted},
			subs: [][]string{{"s1"}}, persist: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer(Config{})
			defer s.Close()
			pub := newConn(s, &memConn{}, 1)
			pub.loggedOn, pub.cl = true, s.clientRecord("pub")
			var subs []*conn
			for i, ids := range tt.subs {
				sc := newConn(s, &memConn{}, uint64(10+i))
				for _, id := range ids {
					if !s.addSub(sc, id, "t") {
						t.Fatalf("addSub %s", id)
					}
				}
				subs = append(subs, sc)
			}
			body := pubFrame(t, tt.pub, "payload of a delivered message")[frame.PrefixLen:]
			reset := func() {
				for _, c := range append(subs, pub) {
					c.mu.Lock()
					c.out = c.out[:0]
					c.mu.Unlock()
				}
			}
			run := func() {
				if r := pub.handle(body); r != "" {
					t.Fatalf("handle: %s", r)
				}
				reset()
			}
			for i := 0; i < 10; i++ { // grow the buffers
				run()
			}
			before := s.delivered.Load()
			allocs := testing.AllocsPerRun(1000, run)
			if allocs != 0 {
				t.Errorf("%v allocations per delivered publish", allocs)
			}
			// AllocsPerRun runs the function once more to warm up.
			if got, want := s.delivered.Load()-before, uint64(1001*len(subs)); got != want {
				t.Errorf("%d deliveries queued, want %d: the path measured is not the delivery path", got, want)
			}
		})
	}
}

// sinkConn is a subscriber's socket: it discards what the writer sends and counts it.
type sinkConn struct {
	memConn
	n atomic.Int64
}

func (s *sinkConn) Write(p []byte) (int, error) {
	s.n.Add(int64(len(p)))
	return len(p), nil
}

// TestDeliveryServeAllocs runs the whole pipeline for 100 000 publishes: the publisher's
// reader loop (frame.Reader, strict path, delivery encoding) and the subscriber's writer
// goroutine writing to its socket. Allocations over the whole process must not grow with the
// message count (the logon, the first use of a topic and the outbound buffers' growth
// allocate a bounded number of times).
func TestDeliveryServeAllocs(t *testing.T) {
	const frames = 100_000
	s := NewServer(Config{MaxOutbound: 1 << 30}) // never block the publisher: no wait channels
	defer s.Close()
	sink := &sinkConn{}
	sub := newConn(s, sink, 2)
	if !s.addSub(sub, "s1", "loadgen") {
		t.Fatal("addSub")
	}
	s.wg.Add(1)
	go sub.writeLoop()
	defer sub.abort(CloseServerClosed)

	f := pubFrame(t, frame.Publish{Topic: "loadgen"}, string(bytes.Repeat([]byte("x"), 128)))
	mc := &memConn{head: logonFrame(t, "1", "alloc", "", ""), block: bytes.Repeat(f, 1000), left: frames * len(f)}
	pub := newConn(s, mc, 1)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	reason := pub.serve()
	deadline := time.Now().Add(10 * time.Second)
	for s.delivered.Load() < frames || subQueued(sub) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the subscriber's writer did not drain: delivered %d, queued %d", s.delivered.Load(), subQueued(sub))
		}
		time.Sleep(time.Millisecond)
	}
	runtime.ReadMemStats(&after)
	if reason != CloseEOF {
		t.Fatalf("serve: %s", reason)
	}
	if got := s.delivered.Load(); got != frames {
		t.Fatalf("delivered %d, want %d", got, frames)
	}
	if n := sink.n.Load(); n < int64(frames*len(f)) {
		t.Fatalf("the subscriber's socket got %d bytes for %d deliveries of %d-byte publishes", n, frames, len(f))
	}
	if n := after.Mallocs - before.Mallocs; n > 200 {
		t.Fatalf("%d allocations for %d delivered messages (%s per message)", n, frames,
			strconv.FormatFloat(float64(n)/frames, 'f', 4, 64))
	}
}

// subQueued is how many bytes wait in c's outbound buffer.
func subQueued(c *conn) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.out)
}
