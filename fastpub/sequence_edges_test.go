package fastpub_test

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/fastpub"
)

// At a reconnect the server's last sequence for the name is one this client
// never sent: another publisher uses the name, or the server's history is
// not this client's. Taking it as "persisted" freed queued frames the
// server never received, and new publishes, numbered below it, were
// refused as duplicates while Publish returned nil (found by a review). The
// client stops with a *SequenceAheadError instead, under either gap policy,
// and keeps what it holds.
func TestSequenceAheadAtReconnect(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy fastpub.GapPolicy
		unsent bool // L is a frame queued but not sent; else above every frame claimed
	}{
		{"above-claimed", fastpub.GapFail, false},
		{"above-claimed/GapContinue", fastpub.GapContinue, false},
		{"unsent", fastpub.GapFail, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const name = "ahead"
			s := startServer(t, ampstest.Config{})
			s.SetLastSequence(name, 1000) // the first publish is 1001
			events := make(chan fastpub.Event, 64)
			// A small send buffer, so that the frames of the unsent case stay in the ring.
			c := connect(t, s.URI("json")+"?tcp_sndbuf=65536", name, fastpub.WithStore(memStore(t, 16<<20, 1<<16)),
				fastpub.WithPublishGapPolicy(tc.policy),
				fastpub.WithReconnect(fastpub.ReconnectPolicy{Delay: fastpub.FixedDelay{D: time.Millisecond}}),
				fastpub.WithEventHandler(func(e fastpub.Event) {
					select {
					case events <- e:
					default:
					}
				}))
			ctx := ctxT(t, 20*time.Second)
			n := 0
			for ; n < 100; n++ {
				if err := c.PublishString("a", "x"); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.PublishFlush(ctx); err != nil { // ring Seq 100: s 1101 (no s on the wire)
				t.Fatal(err)
			}
			claimedS := uint64(1101) // the flush's
			L := claimedS + 500
			if tc.unsent {
				// Fill the socket buffers and part of the ring: the last
				// frames are queued and not sent.
				s.PauseReading()
				msg := make([]byte, 1000)
				for i := 0; i < 12000 && (i < 100 || c.Stats().Buffered < 1<<20); i++ {
					if err := c.TryPublish("a", msg); err != nil {
						t.Fatalf("publish %d: %v", i, err)
					}
					claimedS++
				}
				waitUntil(t, func() bool { return c.Stats().Buffered > 0 })
				L = claimedS // the last claimed frame: not written
			}
			s.SetLastSequence(name, L)
			s.DropClient(name)
			if tc.unsent {
				s.ResumeReading()
			}
			t.Logf("injected: last sequence set to %d (the client numbered through %d), connection dropped", L, claimedS)
			var ahead *fastpub.SequenceAheadError
			for gaveUp := false; !gaveUp; {
				select {
				case e := <-events:
					if e.Kind == fastpub.EventGaveUp {
						gaveUp = true
						if !errors.As(e.Err, &ahead) {
							t.Fatalf("gave up with %v, want a *SequenceAheadError", e.Err)
						}
					}
				case <-ctx.Done():
					t.Fatal("the client did not give up")
				}
			}
			if !errors.Is(ahead, fastpub.ErrSequenceAhead) || ahead.Last != L || ahead.Sent >= L {
				t.Fatalf("%#v: %v", ahead, ahead)
			}
			if err := c.PublishString("a", "x"); !errors.Is(err, fastpub.ErrSequenceAhead) {
				t.Fatalf("publish after the client gave up = %v, want ErrSequenceAhead", err)
			}
			if st := c.Stats(); st.Unpersisted == 0 && tc.unsent {
				t.Fatalf("the queued frames were freed: %+v", st)
			}
		})
	}
}

// A server's last sequence so close to 2⁶⁴ that the client's numbers would
// wrap (found by a review: with L = 2⁶⁴−2, four publishes returned nil,
// three were accepted, the fourth wrapped to 0 and was never reported) is
// refused at logon with a *SequenceAheadError.
func TestSequenceNearMaxRefused(t *testing.T) {
	for _, L := range []uint64{math.MaxUint64 - 1, math.MaxUint64 - 1<<40} {
		t.Run(fmt.Sprint(L), func(t *testing.T) {
			s := startServer(t, ampstest.Config{})
			s.SetLastSequence("wrap", L)
			c, err := fastpub.NewClient("wrap", fastpub.WithStore(memStore(t, 1<<20, 1024)))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx := ctxT(t, 10*time.Second)
			if err := c.Connect(ctx, s.URI("json")); err != nil {
				t.Fatal(err)
			}
			err = c.Logon(ctx)
			var ahead *fastpub.SequenceAheadError
			if !errors.As(err, &ahead) || !errors.Is(err, fastpub.ErrSequenceAhead) || ahead.Last != L {
				t.Fatalf("Logon = %v, want a *SequenceAheadError for %d", err, L)
			}
		})
	}
}
