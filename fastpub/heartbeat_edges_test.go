package fastpub_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/fastpub"
	"github.com/fastpub/fastpub/frame"
)

// A server sends a heartbeat per interval of its own silence (at 1, 2 and
// 3 s, as ampstest's writer does) and drops a client after 2 × interval
// without inbound traffic. Here they reach the client 0.7, 0.05 and 0.9 s
// late (a retransmission, a reader off the CPU): none as late as an
// interval. The second comes 0.35 s after the first was answered; dropped
// for coming too soon, as it was, the server heard nothing from 1.7 s to
// 3.9 s and dropped the idle client. It is answered late instead, at half
// an interval after the last beat. From a review.
func TestIdleClientNotDroppedByLateHeartbeats(t *testing.T) {
	type result struct {
		gaps []time.Duration
		err  error
	}
	res := make(chan result, 1)
	uri := startScripted(t, func(s *scripted) {
		var r result
		defer func() { res <- r }()
		if r.err = s.logonWithHeartbeat(); r.err != nil {
			return
		}
		t0 := time.Now()
		in := make(chan time.Time, 16) // the client's beats, as read here
		go func() {
			defer close(in)
			for {
				cmd, _, err := s.next()
				if err != nil {
					return
				}
				if cmd == frame.CmdHeartbeat {
					in <- time.Now()
				}
			}
		}()
		for _, at := range []time.Duration{1700 * time.Millisecond, 2050 * time.Millisecond, 3900 * time.Millisecond} {
			time.Sleep(time.Until(t0.Add(at)))
			s.send(`{"c":"heartbeat"}`)
		}
		time.Sleep(time.Until(t0.Add(4100 * time.Millisecond)))
		s.conn.Close()
		last := t0
		for at := range in {
			r.gaps = append(r.gaps, at.Sub(last).Round(10*time.Millisecond))
			last = at
		}
	})
	c := connect(t, uri, "late-heartbeats", fastpub.WithHeartbeat(time.Second))
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Logf("injected: heartbeats read at 1.7, 2.05 and 3.9 s; the client's beats came after gaps of %v", r.gaps)
	if len(r.gaps) != 3 {
		t.Fatalf("%d beats in answer to 3 heartbeats (gaps %v), want 3: one each, the second deferred", len(r.gaps), r.gaps)
	}
	for _, g := range r.gaps {
		if g > 2*time.Second {
			t.Fatalf("gaps between the client's beats %v: one exceeds 2 × interval, and a server drops the idle client", r.gaps)
		}
	}
	if st := c.Stats(); st.Beats != 3 {
		t.Fatalf("Stats().Beats %d, want 3", st.Beats)
	}
}

// A store whose Messages limit is reached by publishes sent and not yet
// acknowledged (a server slow to persist): the writer has nothing to send,
// and the beats still go out. A beat used to be a ring frame; it found the
// ring full and was dropped, and the server dropped the client for silence
// after two intervals. From a review.
func TestBeatsWithAFullStore(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	const limit = 256
	c := connect(t, s.URI("json"), "fullstore", fastpub.WithHeartbeat(time.Second),
		fastpub.WithStore(memStore(t, 1<<20, limit)))
	s.WithholdAcks(true)
	for i := 0; i < limit; i++ {
		if err := c.PublishString("t", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.TryPublish("t", []byte("x")); err != fastpub.ErrBufferFull {
		t.Fatalf("TryPublish into a full store = %v, want ErrBufferFull", err)
	}
	t.Log("injected: the server withholds its persisted acks for 3.5 s (heartbeat 1 s) while the store is full")
	time.Sleep(3500 * time.Millisecond)
	s.WithholdAcks(false)
	if err := c.PublishFlush(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Disconnects != 0 || st.Beats < 2 {
		t.Fatalf("server closes %v, client Disconnects %d, Beats %d: want no disconnect and at least 2 beats", s.Stats().Closes, st.Disconnects, st.Beats)
	}
	if st := s.Stats(); st.Publishes != limit {
		t.Fatalf("server counted %d publishes, want %d", st.Publishes, limit)
	}
}

// Close with a deferred beat pending (two heartbeats back to back) leaves
// no goroutine behind, and the deferred beat's timer firing later is
// harmless. From a review.
func TestCloseWithADeferredBeatLeaksNothing(t *testing.T) {
	base := runtime.NumGoroutine()
	sent := make(chan struct{})
	uri := startScripted(t, func(s *scripted) {
		if _, _, err := s.next(); err != nil {
			return
		}
		s.send(logonAckOK + `}`)
		s.next() // heartbeat start
		s.send(`{"c":"heartbeat"}`)
		s.send(`{"c":"heartbeat"}`)
		close(sent)
		for {
			if _, _, err := s.next(); err != nil {
				return
			}
		}
	})
	c, err := fastpub.NewClient("leak", fastpub.WithHeartbeat(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 5*time.Second)
	if err := c.Connect(ctx, uri); err != nil {
		t.Fatal(err)
	}
	if err := c.Logon(ctx); err != nil {
		t.Fatal(err)
	}
	<-sent
	time.Sleep(50 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond) // past the deferred beat's time
	checkNoLeak(t, base+2)             // the scripted server's goroutines
	if b := c.Stats().Beats; b != 1 {
		t.Fatalf("Beats %d, want 1 (the deferred one cancelled by Close)", b)
	}
}
