//go:build !race

package ampstest

import (
	"bytes"
	"runtime"
	"testing"

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
