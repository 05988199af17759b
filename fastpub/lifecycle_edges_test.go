package fastpub_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/fastpub"
	"github.com/fastpub/fastpub/frame"
)

// Close waits for the event goroutine unless it is called from a handler.
// Called from another goroutine while a handler runs, it must not return
// before that handler (and the ones queued behind it) are done; it did,
// whenever any handler was running. From a review.
func TestCloseWaitsForARunningHandler(t *testing.T) {
	srv := startServer(t, ampstest.Config{})
	entered := make(chan struct{})
	release := make(chan struct{})
	var finished atomic.Bool
	c := connect(t, srv.URI("json"), "close-handler", fastpub.WithEventHandler(func(ev fastpub.Event) {
		if ev.Kind != fastpub.EventDisconnected {
			return
		}
		close(entered)
		<-release
		finished.Store(true)
	}))
	srv.DropClient("close-handler")
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("no EventDisconnected")
	}
	time.AfterFunc(300*time.Millisecond, func() { close(release) })
	c.Close()
	if !finished.Load() {
		t.Fatal("Close returned while an event handler was still running on the event goroutine")
	}
}

// Without a store, a PublishFlush while the client reconnects fails (a
// disconnect fails it), but the client is not closed: the error is the
// disconnect's, not ErrClosed ("the client was closed by Close"), which it
// was. From a review.
func TestFlushWhileReconnectingIsTheDisconnect(t *testing.T) {
	srv := startServer(t, ampstest.Config{})
	var ev evlog
	c := connect(t, srv.URI("json"), "flush-reconnecting",
		fastpub.WithReconnect(fastpub.ReconnectPolicy{Delay: fastpub.FixedDelay{D: 50 * time.Millisecond}}),
		fastpub.WithEventHandler(ev.add))
	srv.Stop()
	waitUntil(t, func() bool { return ev.has(fastpub.EventReconnecting) })
	err := c.PublishFlush(ctxT(t, 2*time.Second))
	t.Logf("PublishFlush while reconnecting: %v", err)
	var ce *fastpub.ConnectionError
	if errors.Is(err, fastpub.ErrClosed) || !errors.Is(err, fastpub.ErrDisconnected) || !errors.As(err, &ce) {
		t.Fatalf("PublishFlush on an open, reconnecting client without a store = %v, want the disconnect's *ConnectionError (ErrDisconnected), not ErrClosed", err)
	}
}

// MaxOutage bounds how long the loop keeps trying; an attempt to a server
// that accepts but never answers the logon must not stretch it to
// LogonTimeout (it gave up after 5 s). From a review.
func TestMaxOutageCutsAnAttemptShort(t *testing.T) {
	srv := startServer(t, ampstest.Config{})
	var ev evlog
	connect(t, srv.URI("json"), "outage-stalled",
		fastpub.WithReconnect(fastpub.ReconnectPolicy{
			Delay:        fastpub.FixedDelay{D: 10 * time.Millisecond},
			MaxOutage:    300 * time.Millisecond,
			LogonTimeout: 5 * time.Second,
		}),
		fastpub.WithEventHandler(ev.add))
	srv.Stall()
	defer srv.Unstall()
	srv.DropClient("outage-stalled")
	t.Log("injected: the client dropped, the server stalled (accepts, never answers a logon); MaxOutage 300 ms, LogonTimeout 5 s")
	start := time.Now()
	waitUntil(t, func() bool { return ev.has(fastpub.EventDisconnected) })
	for !ev.has(fastpub.EventGaveUp) {
		if time.Since(start) > 8*time.Second {
			t.Fatal("never gave up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	d := time.Since(start)
	t.Logf("gave up after %v", d.Round(time.Millisecond))
	if d > 2*time.Second {
		t.Fatalf("MaxOutage 300ms: gave up after %v", d)
	}
}

// Close while reconnecting, with messages the server never persisted: an
// *UndeliveredError that unwraps to the disconnect's *ConnectionError (it
// wrapped a bare ErrDisconnected). From a review of the docs.
func TestCloseWhileReconnectingIsUndelivered(t *testing.T) {
	srv := startServer(t, ampstest.Config{})
	var ev evlog
	c := connect(t, srv.URI("json"), "close-reconnecting",
		fastpub.WithStore(memStore(t, 1<<20, 1024)),
		fastpub.WithReconnect(fastpub.ReconnectPolicy{Delay: fastpub.FixedDelay{D: 50 * time.Millisecond}}),
		fastpub.WithEventHandler(ev.add))
	srv.Stop()
	waitUntil(t, func() bool { return ev.has(fastpub.EventReconnecting) })
	for i := 0; i < 3; i++ {
		if err := c.PublishString("t", "x"); err != nil {
			t.Fatal(err)
		}
	}
	err := c.Close()
	var ue *fastpub.UndeliveredError
	var ce *fastpub.ConnectionError
	if !errors.As(err, &ue) || ue.Frames < 3 || !errors.As(err, &ce) || !errors.Is(err, fastpub.ErrDisconnected) {
		t.Fatalf("Close while reconnecting with 3 unpersisted publishes = %v, want an *UndeliveredError of at least 3 frames wrapping the *ConnectionError", err)
	}
}

// A failure ack for a publish without a store, with no error handler, is
// counted in Stats().Rejected (it used to vanish; the doc claimed the next
// call returned it). From a review of the docs.
func TestPublishFailureAckCounted(t *testing.T) {
	uri := startScripted(t, failFirstPublish)
	c := connect(t, uri, "rejected")
	if err := c.PublishString("bad", "x"); err != nil {
		t.Fatal(err)
	}
	t.Log("injected: a processed ack with status failure for the publish")
	waitUntil(t, func() bool { return c.Stats().Rejected == 1 })
	if err := c.PublishFlush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// A flush that timed out is forgotten; its late failure ack is no rejected
// publish (Stats().Rejected counted it). From a review.
func TestLateFlushFailureIsNotARejectedPublish(t *testing.T) {
	gotFlush := make(chan struct{}, 1)
	answer := make(chan struct{})
	uri := startScripted(t, func(s *scripted) {
		if _, _, err := s.next(); err != nil {
			return
		}
		s.send(logonAckOK + `}`)
		for i := 0; i < 100; i++ {
			cmd, cid, err := s.next()
			if err != nil {
				return
			}
			if cmd == frame.CmdFlush {
				gotFlush <- struct{}{}
				<-answer
				s.send(`{"c":"ack","cid":"` + cid + `","a":"processed","status":"failure","reason":"whatever"}`)
			}
		}
	})
	errs := make(chan error, 4)
	c := connect(t, uri, "late-flush", fastpub.WithErrorHandler(func(err error) { errs <- err }))
	if err := c.PublishFlush(ctxT(t, 200*time.Millisecond)); !errors.Is(err, fastpub.ErrTimedOut) {
		t.Fatalf("PublishFlush unanswered for 200 ms = %v, want ErrTimedOut", err)
	}
	<-gotFlush
	close(answer)
	t.Log("injected: the flush's failure ack after PublishFlush timed out")
	var se *fastpub.ServerError
	select {
	case err := <-errs:
		if !errors.As(err, &se) || se.Command != "flush" {
			t.Fatalf("the error handler got %v, want the flush's *ServerError", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the late failure ack never reached the error handler")
	}
	if r := c.Stats().Rejected; r != 0 {
		t.Fatalf("Stats().Rejected = %d, want 0: no publish was rejected", r)
	}
}
