package fastpub_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/fastpub"
	"github.com/fastpub/fastpub/subscriber"
)

// Many producers hammer one client; a subscriber on the server receives
// every payload exactly once and each producer's payloads in order.
func TestManyProducersExactlyOnceInOrder(t *testing.T) {
	const producers = 8
	perProducer := 100000
	if testing.Short() {
		perProducer = 10000
	}
	base := runtime.NumGoroutine()
	s := startServer(t, ampstest.Config{})
	ctx := ctxT(t, 2*time.Minute)
	sub, err := subscriber.Dial(ctx, s.URI("json"), "verifier")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := sub.Subscribe(ctx, "hammer"); err != nil {
		t.Fatal(err)
	}

	// A small buffer so that producers also block on a full ring.
	c, err := fastpub.NewClient("hammer", fastpub.WithBufferSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx, s.URI("json")); err != nil {
		t.Fatal(err)
	}
	if err := c.Logon(ctx); err != nil {
		t.Fatal(err)
	}

	// Receive concurrently: deliveries back-pressure the publisher.
	type result struct {
		lost, dup, reordered, bad int
	}
	got := make(chan result, 1)
	go func() {
		next := make([]uint32, producers) // next expected sequence per producer
		var r result
		total := producers * perProducer
		for i := 0; i < total; i++ {
			m, err := sub.Next(ctx)
			if err != nil {
				r.lost = total - i
				break
			}
			if len(m.Payload) != 8 {
				r.bad++
				continue
			}
			p := binary.BigEndian.Uint32(m.Payload)
			n := binary.BigEndian.Uint32(m.Payload[4:])
			switch {
			case p >= producers:
				r.bad++
			case n == next[p]:
				next[p]++
			case n < next[p]:
				r.dup++
			default:
				r.reordered++
				next[p] = n + 1
			}
		}
		got <- r
	}()

	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func(p uint32) {
			defer wg.Done()
			var buf [8]byte
			binary.BigEndian.PutUint32(buf[:], p)
			for n := 0; n < perProducer; n++ {
				binary.BigEndian.PutUint32(buf[4:], uint32(n))
				if err := c.Publish("hammer", buf[:]); err != nil {
					errs <- fmt.Errorf("producer %d message %d: %w", p, n, err)
					return
				}
			}
		}(uint32(p))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := c.PublishFlush(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r != (result{}) {
		t.Fatalf("subscriber: %+v (want all zero)", r)
	}
	if st := s.Stats(); st.Publishes != uint64(producers*perProducer) {
		t.Fatalf("server accepted %d publishes, want %d", st.Publishes, producers*perProducer)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	sub.Close()
	s.Close()
	checkNoLeak(t, base)
}

// Close writes everything queued before it closes, and leaves no goroutine.
func TestCloseDrainsQueueAndLeaksNothing(t *testing.T) {
	base := runtime.NumGoroutine()
	s := startServer(t, ampstest.Config{})
	c := connect(t, s.URI("json"), "closer")
	const n = 50000
	for i := 0; i < n; i++ {
		if err := c.PublishString("drain", `{"k":"v"}`); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// The server has read everything once the connection is gone.
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Publishes != n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := s.Stats().Publishes; got != n {
		t.Fatalf("server accepted %d publishes after Close, want %d", got, n)
	}
	if err := c.Publish("drain", nil); !errors.Is(err, fastpub.ErrClosed) {
		t.Fatalf("Publish after Close: %v, want ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	s.Close()
	checkNoLeak(t, base)
}

// A disconnect in the middle of a burst: every publish after it returns a
// typed error that reaches the operating system's error, nothing panics,
// nothing leaks.
func TestDisconnectMidBurst(t *testing.T) {
	base := runtime.NumGoroutine()
	s := startServer(t, ampstest.Config{})
	var handled sync.WaitGroup
	handled.Add(1)
	var once sync.Once
	c := connect(t, s.URI("json"), "burst", fastpub.WithBufferSize(64<<10),
		fastpub.WithErrorHandler(func(error) { once.Do(handled.Done) }))
	s.CloseAfterFrames(5000)

	const producers = 4
	var wg sync.WaitGroup
	errs := make([]error, producers)
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := 0; i < 1_000_000; i++ {
				if err := c.PublishString("burst", `{"k":"v"}`); err != nil {
					errs[p] = err
					return
				}
			}
		}(p)
	}
	wg.Wait()
	for p, err := range errs {
		if err == nil {
			t.Fatalf("producer %d: a million publishes succeeded after the server closed", p)
		}
		if !errors.Is(err, fastpub.ErrDisconnected) {
			t.Fatalf("producer %d: %v, want ErrDisconnected", p, err)
		}
		var ce *fastpub.ConnectionError
		if !errors.As(err, &ce) {
			t.Fatalf("producer %d: %T is not a *ConnectionError", p, err)
		}
	}
	handled.Wait() // the error handler heard about it too
	// The cause is the operating system's: EOF on read, or EPIPE/ECONNRESET on write.
	err := c.PublishFlush(ctxT(t, 5*time.Second))
	if !errors.Is(err, fastpub.ErrDisconnected) {
		t.Fatalf("PublishFlush after disconnect: %v", err)
	}
	var errno syscall.Errno
	var ce *fastpub.ConnectionError
	errors.As(err, &ce)
	t.Logf("disconnect error: %v (errno: %v)", err, errors.As(err, &errno))
	if ce.Err == nil {
		t.Fatal("ConnectionError without a cause")
	}
	// What was still queued is lost with the client, and Close says so.
	var ue *fastpub.UndeliveredError
	if err := c.Close(); err != nil && (!errors.As(err, &ue) || !errors.Is(err, fastpub.ErrDisconnected) || ue.Frames == 0) {
		t.Fatalf("Close after disconnect: %v, want nil or an *UndeliveredError matching ErrDisconnected", err)
	}
	s.Close()
	checkNoLeak(t, base)
}

// Blocked producers return when the client closes under them.
func TestCloseUnblocksBlockedPublishers(t *testing.T) {
	base := runtime.NumGoroutine()
	s := startServer(t, ampstest.Config{})
	c := connect(t, s.URI("json"), "blocked", fastpub.WithBufferSize(4<<10), fastpub.WithCloseTimeout(200*time.Millisecond))
	s.PauseReading()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for p := 0; p < 4; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			payload := make([]byte, 1000)
			for i := 0; i < 1_000_000; i++ {
				if err := c.Publish("stuck", payload); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	waitStalled(t, c)
	err := c.Close()
	var cte *fastpub.CloseTimeoutError
	if !errors.Is(err, fastpub.ErrTimedOut) || !errors.As(err, &cte) || !cte.Timeout() {
		t.Fatalf("Close with a stalled server and a full buffer: %v, want a *CloseTimeoutError", err)
	}
	// The 4 KiB buffer holds at most four 1000-byte messages, and at least
	// one once it is full.
	if cte.Frames < 1 || cte.Frames > 5 || cte.Bytes < 1000 || cte.Bytes > 5*1030 ||
		!strings.Contains(err.Error(), strconv.FormatUint(cte.Frames, 10)+" queued messages") {
		t.Fatalf("Close: %v (%+v): want 1 to 5 messages of about 1000 bytes", err, *cte)
	}
	t.Logf("Close: %v", err)
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, fastpub.ErrClosed) {
			t.Fatalf("blocked publisher: %v, want ErrClosed", err)
		}
	}
	s.ResumeReading()
	s.Close()
	checkNoLeak(t, base)
}

// PublishContext gives up when its context ends while the buffer is full;
// TryPublish never waits.
func TestBackpressure(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	c := connect(t, s.URI("json"), "bp", fastpub.WithBufferSize(4<<10), fastpub.WithCloseTimeout(100*time.Millisecond))
	s.PauseReading()
	defer s.ResumeReading()
	payload := make([]byte, 1000)
	full := false
	for i := 0; i < 100000 && !full; i++ {
		err := c.TryPublish("bp", payload)
		switch {
		case errors.Is(err, fastpub.ErrBufferFull):
			full = true
		case err != nil:
			t.Fatal(err)
		}
	}
	if !full {
		t.Fatal("TryPublish never reported ErrBufferFull with a stalled server")
	}
	// The kernel's socket buffers still absorb a little while the server
	// does not read: publish until a PublishContext times out.
	var err error
	for i := 0; i < 100000 && err == nil; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err = c.PublishContext(ctx, "bp", payload)
		cancel()
	}
	var te *fastpub.TimedOutError
	if !errors.Is(err, fastpub.ErrTimedOut) || !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &te) || !te.Timeout() {
		t.Fatalf("PublishContext on a full buffer: %v", err)
	}
}

// waitStalled waits until the client's buffer is full and its writer is
// parked on the netpoller waiting for the socket to become writable: the
// socket is full too. TryPublish keeps the buffer full (its frames are
// published like the others'); a generous watchdog bounds the wait.
func waitStalled(t *testing.T, c *fastpub.Client) {
	t.Helper()
	payload := make([]byte, 1000)
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		err := c.TryPublish("stuck", payload)
		if err != nil && !errors.Is(err, fastpub.ErrBufferFull) {
			t.Fatal(err)
		}
		if err == nil || !writerInIOWait(buf) {
			runtime.Gosched()
			continue
		}
		if errors.Is(c.TryPublish("stuck", payload), fastpub.ErrBufferFull) {
			return
		}
	}
	t.Fatal("the writer did not block on a full socket with a stalled server")
}

// writerInIOWait reports whether a client writer goroutine is parked on the
// netpoller in the middle of a write.
func writerInIOWait(buf []byte) bool {
	stacks := string(buf[:runtime.Stack(buf, true)])
	for _, g := range strings.Split(stacks, "\n\n") {
		if strings.Contains(g, "[IO wait") && strings.Contains(g, "fastpub.(*writer).writeSegments") {
			return true
		}
	}
	return false
}
