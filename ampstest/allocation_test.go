//go:build !race

package ampstest

import (
	"bytes"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/fastpub/fastpub/frame"
)

// TestDiscardPathZeroAllocs: the discard path (scanner, topic counter cache with topic
// switches, counter publication) allocates nothing per frame.
func TestDiscardPathZeroAllocs(t *testing.T) {
	s := NewServer(Config{})
	defer s.Close()
	c := newConn(s, &memConn{}, 1)
	c.loggedOn, c.cl = true, s.clientRecord("x")
	bodies := [][]byte{
		pubFrame(t, frame.Publish{Topic: "a"}, "payload")[frame.PrefixLen:],
		pubFrame(t, frame.Publish{Topic: "a"}, "payload")[frame.PrefixLen:],
		pubFrame(t, frame.Publish{Topic: "b"}, "payload")[frame.PrefixLen:],
		rawFrame(`{"c":"publish","t":"a"}`, "payload")[frame.PrefixLen:],
	}
	allocs := testing.AllocsPerRun(1000, func() {
		for _, b := range bodies {
			if _, n := scanPlainPublish(b); n == 0 {
				t.Fatal("not recognised")
			}
			topic, _ := scanPlainPublish(b)
			if c.curTC == nil || string(topic) != string(c.curTopic) {
				c.switchTopic(topic)
			}
			c.pTopicPubs++
			c.pPubs++
			c.pFrames++
		}
		c.flushCounters()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run", allocs)
	}
}

// TestDiscardServeAllocs runs the whole reader loop (frame.Reader included) over 200 000
// frames and checks that the allocations do not grow with the frame count (the logon and the
// first use of a topic allocate a few times, once).
func TestDiscardServeAllocs(t *testing.T) {
	f := benchFrame(t)
	const frames = 200_000
	s := NewServer(Config{})
	defer s.Close()
	mc := &memConn{head: logonFrame(t, "1", "alloc", "", ""), block: bytes.Repeat(f, 1000), left: frames * len(f)}
	c := newConn(s, mc, 1)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	reason := c.serve()
	runtime.ReadMemStats(&after)
	if reason != CloseEOF {
		t.Fatalf("serve: %s", reason)
	}
	if n := after.Mallocs - before.Mallocs; n > 64 {
		t.Fatalf("%d allocations for %d frames", n, frames)
	}
	c.flushCounters()
	if got := s.publishes.Load(); got != frames {
		t.Fatalf("publishes %d", got)
	}
}

// TestStoredDiscardPathZeroAllocs: the discard path of stored publishes (cached prefix,
// sequence digits, duplicate check, counters, persisted ack encoded into the outbound buffer,
// immediate or conflated) allocates nothing per frame.
func TestStoredDiscardPathZeroAllocs(t *testing.T) {
	for _, mode := range []PersistMode{Immediate{}, Conflated{Interval: time.Hour}} {
		s := NewServer(Config{Persisted: mode})
		defer s.Close()
		c := newConn(s, &memConn{}, 1)
		c.loggedOn, c.cl = true, s.clientRecord("x")
		first := stored("orders", "1764680000000000123", "payload")[frame.PrefixLen:]
		topic, k, seq, n := scanStoredPublish(first)
		if n == 0 {
			t.Fatal("not recognised")
		}
		c.switchTopic(topic)
		c.curSHdr = append(c.curSHdr[:0], first[:k]...)
		c.storedPublish(seq, len(first)-n)
		body := append([]byte(nil), first...)
		digits := body[k : k+19]
		c.out = make([]byte, 0, 1<<16)
		allocs := testing.AllocsPerRun(1000, func() {
			seq++
			strconv.AppendUint(digits[:0], seq, 10)
			h := c.curSHdr
			if string(body[:len(h)]) != string(h) {
				t.Fatal("prefix not cached")
			}
			q, m := scanSeq(body[len(h):])
			if m == 0 || q != seq {
				t.Fatalf("scanSeq: %d, %d", q, m)
			}
			if hm, head := seqCache(body[:len(h)+m], k, q); hm != len(h)+m-4 {
				t.Fatal("no digit head")
			} else if q2, m2 := frame.SeqTail(head, body[hm:]); m2 != 4 || q2 != q {
				t.Fatalf("frame.SeqTail: %d, %d", q2, m2)
			}
			c.pFrames++
			c.storedPublish(q, len(body)-len(h)-m)
			c.storedPublish(q, len(body)-len(h)-m) // a duplicate
			c.out = c.out[:0]
		})
		if allocs != 0 {
			t.Fatalf("%T: %v allocations per run", mode, allocs)
		}
		if got, want := s.duplicates.Load(), uint64(1001); got != want {
			t.Fatalf("%T: %d duplicates, want %d", mode, got, want)
		}
	}
}

// TestStoredServeAllocs runs the whole reader loop over 40 000 and over 200 000 stored
// publishes (the writer running and discarding the acks) and checks that allocations do not
// grow with the frame count (the logon, a topic's first use, the growth of the outbound
// buffers and the goroutines' scheduling allocate, a bounded number of times), and that the discard
// path handled every frame.
func TestStoredServeAllocs(t *testing.T) {
	for _, mode := range []PersistMode{Immediate{}, Conflated{Interval: time.Millisecond}} {
		var allocs [2]uint64
		for i, frames := range []int{40_000, 200_000} {
			s := NewServer(Config{Persisted: mode})
			mc := newStoredConn(t, "alloc", frames)
			c := newConn(s, mc, 1)
			s.wg.Add(1)
			go c.writeLoop()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			reason := c.serve()
			runtime.ReadMemStats(&after)
			c.abort(reason)
			s.Close()
			if reason != CloseEOF {
				t.Fatalf("%T: serve: %s", mode, reason)
			}
			allocs[i] = after.Mallocs - before.Mallocs
			c.flushCounters()
			if got := s.publishes.Load(); got != uint64(frames) || c.nFastStored != uint64(frames) {
				t.Fatalf("%T: %d publishes, %d on the discard path; want %d", mode, got, c.nFastStored, frames)
			}
		}
		t.Logf("%T: %d allocations for 40 000 frames, %d for 200 000", mode, allocs[0], allocs[1])
		// Far below one per frame (160 000 more frames), with room for a loaded machine, where
		// the writer falls behind in bursts and the outbound buffers grow more often.
		if allocs[0] > 1024 || allocs[1] > 1024 || allocs[1] > allocs[0]+512 {
			t.Fatalf("%T: %d allocations for 40 000 frames, %d for 200 000", mode, allocs[0], allocs[1])
		}
	}
}
