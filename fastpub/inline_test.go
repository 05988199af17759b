package fastpub_test

import (
	"testing"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/fastpub"
)

// The inline write (WithInlineWrite) over a real connection: a paced
// publisher writes every frame itself, its catch-up bursts included, and a
// publisher that runs back to back past its saved credit leaves the frames
// to the writer goroutine.

// publishPaced publishes n frames at least gap apart (sleeping: the
// writer goroutine, if awake, gets a CPU meanwhile).
func publishPaced(t *testing.T, c *fastpub.Client, n int, gap time.Duration) {
	t.Helper()
	for i := 0; i < n; i++ {
		time.Sleep(gap)
		if err := c.Publish("inline", []byte(`{"i":1}`)); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
}

// publishBurst publishes n frames back to back.
func publishBurst(t *testing.T, c *fastpub.Client, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := c.Publish("inline", []byte(`{"i":1}`)); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
}

func TestInlineWriteCatchUpBurst(t *testing.T) {
	srv := startServer(t, ampstest.Config{})
	c := connect(t, srv.URI("json"), "inline-burst")
	// The writer goroutine parks once it has sent the logon and found
	// nothing more; a publish that finds it awake leaves its frame to it.
	settle(t, c)
	s0 := c.Stats()
	// 300 frames at least 50 µs apart: each finds the socket idle for the threshold
	// and earns a credit (256 are kept); then 200 back to back, as a paced
	// publisher catching up after a stall sends them, spend 200 credits.
	publishPaced(t, c, 300, 50*time.Microsecond)
	publishBurst(t, c, 200)
	s1 := c.Stats()
	writes, inline := s1.Writes-s0.Writes, s1.InlineWrites-s0.InlineWrites
	t.Logf("500 publishes: %d writes, %d inline", writes, inline)
	if inline != 500 || writes != 500 {
		t.Fatalf("500 paced and catch-up publishes made %d writes, %d of them inline; want 500, all inline", writes, inline)
	}
	// Far past the 56 credits left: the writer takes the stream over and
	// batches it.
	const n = 20000
	publishBurst(t, c, n)
	if err := c.PublishFlush(ctxT(t, 10*time.Second)); err != nil {
		t.Fatalf("PublishFlush: %v", err)
	}
	s2 := c.Stats()
	writes, inline = s2.Writes-s1.Writes, s2.InlineWrites-s1.InlineWrites
	t.Logf("%d back-to-back publishes and a flush: %d writes, %d inline", n, writes, inline)
	if raceOn {
		t.Logf("race detector: every publish takes longer than the threshold; the batching check is skipped")
	} else if inline >= n/4 {
		t.Fatalf("%d back-to-back publishes made %d inline writes; want the writer to batch most of them", n, inline)
	}
	if got := srv.Stats().Publishes; got != 500+n {
		t.Fatalf("server accepted %d publishes, want %d", got, 500+n)
	}
}

// settle flushes c and then leaves its writer a moment to park.
func settle(t *testing.T, c *fastpub.Client) {
	t.Helper()
	if err := c.PublishFlush(ctxT(t, 10*time.Second)); err != nil {
		t.Fatalf("PublishFlush: %v", err)
	}
	time.Sleep(5 * time.Millisecond)
}

func TestInlineWriteOff(t *testing.T) {
	srv := startServer(t, ampstest.Config{})
	c := connect(t, srv.URI("json"), "inline-off", fastpub.WithInlineWrite(0))
	publishPaced(t, c, 50, 50*time.Microsecond)
	publishBurst(t, c, 50)
	if err := c.PublishFlush(ctxT(t, 10*time.Second)); err != nil {
		t.Fatalf("PublishFlush: %v", err)
	}
	st := c.Stats()
	if st.InlineWrites != 0 || st.Writes == 0 {
		t.Fatalf("WithInlineWrite(0): %d writes, %d inline; want writes, none inline", st.Writes, st.InlineWrites)
	}
	if got := srv.Stats().Publishes; got != 100 {
		t.Fatalf("server accepted %d publishes, want 100", got)
	}
}

// With a store, inline writes carry stored frames (and tell the store what
// they saw); persisted acks wake the writer, so not every frame goes
// inline, but every one reaches the server once and is acknowledged.
func TestInlineWriteWithStore(t *testing.T) {
	for _, mode := range []struct {
		name string
		p    ampstest.PersistMode
	}{{"immediate", ampstest.Immediate{}}, {"conflated", ampstest.Conflated{Interval: time.Millisecond}}} {
		t.Run(mode.name, func(t *testing.T) {
			srv := startServer(t, ampstest.Config{Persisted: mode.p})
			c := connect(t, srv.URI("json"), "inline-store-"+mode.name, fastpub.WithStore(memStore(t, 1<<20, 1024)))
			settle(t, c)
			s0 := c.Stats()
			publishPaced(t, c, 300, 50*time.Microsecond)
			publishBurst(t, c, 2000)
			if err := c.PublishFlush(ctxT(t, 10*time.Second)); err != nil {
				t.Fatalf("PublishFlush: %v", err)
			}
			s1 := c.Stats()
			t.Logf("2,300 stored publishes: %d writes, %d inline, persisted through %d", s1.Writes-s0.Writes, s1.InlineWrites-s0.InlineWrites, s1.PersistedSeq)
			if s1.InlineWrites == s0.InlineWrites {
				t.Fatalf("no inline write among 300 paced stored publishes")
			}
			st := srv.Stats()
			if st.Publishes != 2300 || st.Duplicates != 0 {
				t.Fatalf("server accepted %d publishes with %d duplicates, want 2300 and none", st.Publishes, st.Duplicates)
			}
		})
	}
}
