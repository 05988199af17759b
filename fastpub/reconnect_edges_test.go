package fastpub_test

import (
	"sync"
	"testing"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/fastpub"
)

type evlog struct {
	mu  sync.Mutex
	evs []fastpub.Event
}

func (l *evlog) add(ev fastpub.Event) { l.mu.Lock(); l.evs = append(l.evs, ev); l.mu.Unlock() }
func (l *evlog) has(k fastpub.EventKind) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.evs {
		if e.Kind == k {
			return true
		}
	}
	return false
}
func (l *evlog) count(k fastpub.EventKind) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.evs {
		if e.Kind == k {
			n++
		}
	}
	return n
}

// A stored publish the server refuses (a failure persisted ack) does not
// move the server's last sequence. When it is the last one before a
// disconnect, the next logon's last sequence is below the refused s; that
// is no publish gap (nothing was lost: the write was reported failed). The
// client used to call it one and, with the default GapFail, give up.
func TestFailedLastWriteIsNoGap(t *testing.T) {
	srv := startServer(t, ampstest.Config{})
	var ev evlog
	var fwMu sync.Mutex
	var fws []fastpub.FailedWrite
	c := connect(t, srv.URI("json"), "rv-gap", fastpub.WithStore(memStore(t, 1<<20, 1024)),
		fastpub.WithReconnect(fastpub.ReconnectPolicy{Delay: fastpub.FixedDelay{D: 10 * time.Millisecond}}),
		fastpub.WithEventHandler(ev.add),
		fastpub.WithFailedWriteHandler(func(fw fastpub.FailedWrite) { fwMu.Lock(); fws = append(fws, fw); fwMu.Unlock() }))
	ctx := ctxT(t, 5*time.Second)
	if err := c.Publish("t", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := c.PublishFlush(ctx); err != nil {
		t.Fatal(err)
	}
	last := srv.LastSequence("rv-gap")
	// The flush frame took a ring Seq: the next publish is last+2.
	srv.FailSequence("rv-gap", last+2, "")
	if err := c.Publish("t", []byte("b")); err != nil {
		t.Fatal(err)
	}
	if err := c.PublishFlush(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { fwMu.Lock(); defer fwMu.Unlock(); return len(fws) == 1 })
	t.Logf("server L=%d, failed write s=%d, Stats.PersistedSeq=%d", srv.LastSequence("rv-gap"), fws[0].Seq, c.Stats().PersistedSeq)
	srv.DropClient("rv-gap")
	waitUntil(t, func() bool {
		return ev.has(fastpub.EventReconnected) || ev.has(fastpub.EventGaveUp)
	})
	if ev.has(fastpub.EventPublishGap) || ev.has(fastpub.EventGaveUp) {
		t.Fatalf("false publish gap after a failed write: events %+v; Publish now: %v", ev.evs, c.Publish("t", []byte("c")))
	}
}

// Close while the reconnect loop retries a down server with a zero delay
// returns (it used to hang: the loop looked at Close only while waiting
// out a delay, and a refused dial fails at once).
func TestCloseDuringZeroDelayReconnect(t *testing.T) {
	srv := startServer(t, ampstest.Config{})
	var ev evlog
	c, err := fastpub.NewClient("rv-close", fastpub.WithStore(memStore(t, 1<<20, 1024)),
		fastpub.WithReconnect(fastpub.ReconnectPolicy{Delay: fastpub.FixedDelay{}}),
		fastpub.WithEventHandler(ev.add))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 5*time.Second)
	if err := c.Connect(ctx, srv.URI("json")); err != nil {
		t.Fatal(err)
	}
	if err := c.Logon(ctx); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	waitUntil(t, func() bool { return ev.count(fastpub.EventReconnecting) > 3 })
	done := make(chan error, 1)
	go func() { done <- c.Close() }()
	select {
	case err := <-done:
		t.Logf("Close: %v", err)
	case <-time.After(3 * time.Second):
		t.Fatalf("Close hangs while the reconnect loop retries with a zero delay (%d attempts so far)", ev.count(fastpub.EventReconnecting))
	}
}
