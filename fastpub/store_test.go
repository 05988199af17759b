package fastpub_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/fastpub"
	"github.com/fastpub/fastpub/frame"
	"github.com/fastpub/fastpub/store"
	"github.com/fastpub/fastpub/subscriber"
)

// memStore returns a memory store of the given size (bytes, messages).
func memStore(t testing.TB, bytes, messages int) *store.Memory {
	t.Helper()
	m, err := store.NewMemory(store.Limits{Bytes: bytes, Messages: messages})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// tally counts deliveries per producer from 8-byte payloads (producer,
// counter) and says whether each producer's messages arrived exactly once
// and in order.
type tally struct {
	mu        sync.Mutex
	next      []uint32
	total     int
	dup       int
	reordered int
	bad       int
	changed   chan struct{}
}

func newTally(producers int) *tally {
	return &tally{next: make([]uint32, producers), changed: make(chan struct{}, 1)}
}

func (ta *tally) add(payload []byte) {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	if len(payload) < 8 {
		ta.bad++
		return
	}
	p := binary.BigEndian.Uint32(payload)
	n := binary.BigEndian.Uint32(payload[4:])
	switch {
	case int(p) >= len(ta.next):
		ta.bad++
	case n == ta.next[p]:
		ta.next[p]++
		ta.total++
	case n < ta.next[p]:
		ta.dup++
	default:
		ta.reordered++
		ta.next[p] = n + 1
	}
	select {
	case ta.changed <- struct{}{}:
	default:
	}
}

func (ta *tally) String() string {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	return fmt.Sprintf("received %d in order, %d duplicates, %d reordered/gaps, %d malformed", ta.total, ta.dup, ta.reordered, ta.bad)
}

// waitTotal waits until want messages arrived in order (or the watchdog).
func (ta *tally) waitTotal(t testing.TB, want int, watchdog time.Duration) {
	t.Helper()
	deadline := time.NewTimer(watchdog)
	defer deadline.Stop()
	for {
		ta.mu.Lock()
		got := ta.total
		ta.mu.Unlock()
		if got >= want {
			break
		}
		select {
		case <-ta.changed:
		case <-deadline.C:
			t.Fatalf("after %v: %v, want %d", watchdog, ta, want)
		}
	}
	ta.mu.Lock()
	defer ta.mu.Unlock()
	if ta.total != want || ta.dup != 0 || ta.reordered != 0 || ta.bad != 0 {
		t.Fatalf("subscriber: %d in order, %d duplicates, %d reordered, %d malformed; want exactly %d in order", ta.total, ta.dup, ta.reordered, ta.bad, want)
	}
}

// subscribe connects a subscriber to uri for topic and feeds ta until the
// test ends.
func subscribe(t testing.TB, uri, topic string, ta *tally) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := subscriber.Dial(ctxT(t, 10*time.Second), uri, "verifier-"+topic)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Subscribe(ctxT(t, 10*time.Second), topic); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := sub.Next(ctx)
			if err != nil {
				return
			}
			ta.add(m.Payload)
		}
	}()
	t.Cleanup(func() { cancel(); sub.Close(); <-done })
}

// payload is producer p's n-th message.
func payload(buf *[8]byte, p, n uint32) []byte {
	binary.BigEndian.PutUint32(buf[:], p)
	binary.BigEndian.PutUint32(buf[4:], n)
	return buf[:]
}

// With a store, a publish carries a persisted ack request and its sequence
// number, exactly as the official C client sends it (amps-protocol.md §2.4),
// and sequences continue after the server's last one.
func TestStoreWireFormat(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	s.SetLastSequence("wire", 42)
	s.Record(100)
	c := connect(t, s.URI("json"), "wire", fastpub.WithStore(memStore(t, 1<<20, 1024)))
	ctx := ctxT(t, 10*time.Second)
	if err := c.PublishString("orders", `{"id":1}`); err != nil {
		t.Fatal(err)
	}
	// 57 more publishes cross from two to three digits (s=99 → 100), by
	// every publish variant.
	for i := 0; i < 56; i++ {
		if err := c.Publish("orders", []byte(`{"id":2}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.DeltaPublishString("orders", `{"id":3}`); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("t", 300)
	if err := c.PublishMessage(ctx, &fastpub.Message{Topic: long, DataString: "x", Expiration: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := c.PublishFlush(ctx); err != nil {
		t.Fatal(err)
	}
	var pubs []ampstest.ReceivedFrame
	for _, f := range s.Received() {
		if f.Command == frame.CmdPublish || f.Command == frame.CmdDeltaPublish {
			pubs = append(pubs, f)
		}
	}
	if len(pubs) != 59 {
		t.Fatalf("server recorded %d publishes, want 59", len(pubs))
	}
	if got, want := string(pubs[0].Header), `{"c":"p","t":"orders","a":"persisted","s":43}`; got != want {
		t.Fatalf("first stored publish header %s, want %s", got, want)
	}
	if got, want := string(pubs[57].Header), `{"c":"delta_publish","t":"orders","a":"persisted","s":100}`; got != want {
		t.Fatalf("delta publish header %s, want %s", got, want)
	}
	if got, want := string(pubs[58].Header), `{"c":"p","t":"`+long+`","a":"persisted","e":"30","s":101}`; got != want {
		t.Fatalf("long header %s, want %s", got, want)
	}
	waitFreed(t, c)
	if st := c.Stats(); st.PersistedSeq != 101 {
		t.Fatalf("after PublishFlush: persisted through %d, want 101", st.PersistedSeq)
	}
}

// waitFreed waits until the client's writer has freed every persisted frame
// (PublishFlush returns when the server has persisted them; freeing follows
// on the writer's next turn).
func waitFreed(t testing.TB, c *fastpub.Client) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Unpersisted != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("frames still kept 10 s after PublishFlush: %+v", c.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

// A fresh store on a name the server does not know starts at epoch
// milliseconds × 10⁶ (§5.2).
func TestStoreFirstSequenceFromClock(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	before := uint64(time.Now().UnixMilli()) * 1_000_000
	c := connect(t, s.URI("json"), "clock", fastpub.WithStore(memStore(t, 1<<20, 1024)))
	after := uint64(time.Now().UnixMilli()) * 1_000_000
	if err := c.PublishString("t", "x"); err != nil {
		t.Fatal(err)
	}
	if err := c.PublishFlush(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := s.LastSequence("clock"); got <= before || got > after+1 {
		t.Fatalf("first sequence %d, want in (%d, %d]", got, before, after+1)
	}
}

// The first scenario: the server drops the connection after 20,000
// frames while 95,238 publishes go out. Without a reconnect policy the client
// stops, Connect and Logon on it resume from the store, and the subscriber
// sees every message exactly once, in order.
func TestStoreResumeAfterDisconnectExactlyOnce(t *testing.T) {
	base := runtime.NumGoroutine()
	t.Cleanup(func() { checkNoLeak(t, base) }) // runs last: after the server and subscriber close
	const total = 95238
	s := startServer(t, ampstest.Config{})
	ta := newTally(1)
	subscribe(t, s.URI("json"), "resume", ta)
	events := make(chan fastpub.Event, 8)
	c, err := fastpub.NewClient("resumer", fastpub.WithStore(memStore(t, 16<<20, 1<<18)),
		fastpub.WithEventHandler(func(e fastpub.Event) { events <- e }))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, time.Minute)
	if err := c.Connect(ctx, s.URI("json")); err != nil {
		t.Fatal(err)
	}
	if err := c.Logon(ctx); err != nil {
		t.Fatal(err)
	}
	s.CloseAfterFrames(20000)
	var buf [8]byte
	n := uint32(0)
	for ; n < total; n++ {
		if err := c.Publish("resume", payload(&buf, 0, n)); err != nil {
			if !errors.Is(err, fastpub.ErrDisconnected) {
				t.Fatalf("publish %d: %v, want ErrDisconnected", n, err)
			}
			break
		}
	}
	select {
	case e := <-events:
		if e.Kind != fastpub.EventDisconnected {
			t.Fatalf("event %v, want EventDisconnected", e.Kind)
		}
	case <-ctx.Done():
		t.Fatal("no disconnect")
	}
	t.Logf("injected: connection closed by the server after 20000 frames; %d publishes had returned nil", n)
	if err := c.PublishString("resume", "x"); !errors.Is(err, fastpub.ErrDisconnected) {
		t.Fatalf("publish while disconnected = %v, want ErrDisconnected", err)
	}
	// Resume: everything the server has not persisted goes out again.
	if err := c.Connect(ctx, s.URI("json")); err != nil {
		t.Fatal(err)
	}
	if err := c.Logon(ctx); err != nil {
		t.Fatal(err)
	}
	for ; n < total; n++ {
		if err := c.Publish("resume", payload(&buf, 0, n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.PublishFlush(ctx); err != nil {
		t.Fatal(err)
	}
	ta.waitTotal(t, total, 30*time.Second)
	waitFreed(t, c)
	st := c.Stats()
	t.Logf("client: %d disconnects, %d frames replayed; server dropped %d duplicates", st.Disconnects, st.LastReplay, s.Stats().Duplicates)
	if st.Disconnects != 1 || st.LastReplay == 0 {
		t.Fatalf("stats after resume: %+v", st)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// Failover: the client's server stops; the client reconnects to the second
// server of a replicated pair and replays; a subscriber on a third member
// sees everything exactly once, in order. Then the first server comes back,
// the second stops, and the client goes back.
func TestReconnectFailoverExactlyOnce(t *testing.T) {
	state := ampstest.NewState()
	a := startServer(t, ampstest.Config{State: state})
	b := startServer(t, ampstest.Config{State: state})
	obs := startServer(t, ampstest.Config{State: state})
	ta := newTally(1)
	subscribe(t, obs.URI("json"), "failover", ta)
	var mu sync.Mutex
	var kinds []string
	c := connect(t, a.URI("json"), "failover",
		fastpub.WithStore(memStore(t, 4<<20, 1<<16)),
		fastpub.WithReconnect(fastpub.ReconnectPolicy{Servers: []string{b.URI("json")}, Delay: fastpub.ExponentialDelay{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond}}),
		fastpub.WithEventHandler(func(e fastpub.Event) { mu.Lock(); kinds = append(kinds, e.Kind.String()+" "+e.URI); mu.Unlock() }))
	const phase = 30000
	var buf [8]byte
	n := uint32(0)
	publish := func(k int) {
		for i := 0; i < k; i++ {
			if err := c.Publish("failover", payload(&buf, 0, n)); err != nil {
				t.Fatalf("publish %d: %v", n, err)
			}
			n++
		}
	}
	publish(phase)
	a.Stop()
	t.Log("injected: server A stopped")
	publish(phase) // into the store, while the client fails over
	ctx := ctxT(t, 30*time.Second)
	if err := c.PublishFlush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	b.Stop()
	t.Log("injected: server A restarted, server B stopped")
	publish(phase)
	if err := c.PublishFlush(ctx); err != nil {
		t.Fatal(err)
	}
	ta.waitTotal(t, 3*phase, 30*time.Second)
	st := c.Stats()
	mu.Lock()
	t.Logf("events: %q", kinds)
	mu.Unlock()
	if st.Reconnects < 2 || st.Disconnects < 2 {
		t.Fatalf("stats: %+v, want at least 2 reconnects", st)
	}
}

// A persisted ack that reports a failure reaches the failed-write handler
// with the stored message, once; the store discards it, and the failures are
// counted by reason.
func TestFailedWritesReported(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	s.SetLastSequence("failing", 1000)
	s.FailSequence("failing", 1003, "tx store failure")
	s.RejectTopic("forbidden")
	got := make(chan fastpub.FailedWrite, 10)
	c := connect(t, s.URI("json"), "failing", fastpub.WithStore(memStore(t, 1<<20, 1024)),
		fastpub.WithFailedWriteHandler(func(f fastpub.FailedWrite) { got <- f }))
	for i := 0; i < 5; i++ {
		if err := c.PublishString("orders", fmt.Sprintf(`{"n":%d}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.PublishMessage(ctxT(t, time.Second), &fastpub.Message{Topic: "forbidden", DataString: "secret", CorrelationID: "cx"}); err != nil {
		t.Fatal(err)
	}
	if err := c.PublishFlush(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	want := []fastpub.FailedWrite{
		{Command: "publish", Topic: "orders", Seq: 1003, Data: []byte(`{"n":2}`), Status: "failure", Reason: "tx store failure"},
		{Command: "publish", Topic: "forbidden", Seq: 1006, Data: []byte("secret"), CorrelationID: "cx", Status: "failure", Reason: "not entitled"},
	}
	for i, w := range want {
		select {
		case f := <-got:
			if fmt.Sprint(f) != fmt.Sprint(w) {
				t.Fatalf("failed write %d: %+v, want %+v", i, f, w)
			}
			if i == 1 && !errors.Is(f.Err(), fastpub.ErrNotEntitled) {
				t.Fatalf("FailedWrite.Err() = %v, want ErrNotEntitled", f.Err())
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("failed write %d not reported", i)
		}
	}
	select {
	case f := <-got:
		t.Fatalf("unexpected failed write %+v", f)
	default:
	}
	waitFreed(t, c)
	st := c.Stats()
	if st.FailedWrites["tx store failure"] != 1 || st.FailedWrites["not entitled"] != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

// A server that lost its state (restarted without its transaction log) logs
// the client on with a last sequence below what the store discarded: a
// publish gap, reported with its exact range. GapFail (the default) stops
// the client; GapContinue carries on.
func TestPublishGap(t *testing.T) {
	for _, policy := range []fastpub.GapPolicy{fastpub.GapFail, fastpub.GapContinue} {
		t.Run(fmt.Sprint(policy), func(t *testing.T) {
			s := startServer(t, ampstest.Config{})
			s.SetLastSequence("gappy", 500)
			events := make(chan fastpub.Event, 16)
			c := connect(t, s.URI("json"), "gappy", fastpub.WithStore(memStore(t, 1<<20, 1024)),
				fastpub.WithPublishGapPolicy(policy),
				fastpub.WithReconnect(fastpub.ReconnectPolicy{Delay: fastpub.FixedDelay{D: time.Millisecond}}),
				fastpub.WithEventHandler(func(e fastpub.Event) { events <- e }))
			for i := 0; i < 10; i++ {
				if err := c.PublishString("g", "x"); err != nil {
					t.Fatal(err)
				}
			}
			ctx := ctxT(t, 10*time.Second)
			if err := c.PublishFlush(ctx); err != nil {
				t.Fatal(err)
			}
			if err := s.Restart(false); err != nil {
				t.Fatal(err)
			}
			t.Log("injected: server restarted without its state (last sequence 510 → 0)")
			var gap *fastpub.PublishGapError
			for gap == nil {
				select {
				case e := <-events:
					if e.Kind == fastpub.EventPublishGap && !errors.As(e.Err, &gap) {
						t.Fatalf("gap event without a *PublishGapError: %v", e.Err)
					}
				case <-ctx.Done():
					t.Fatal("no EventPublishGap")
				}
			}
			if gap.From != 1 || gap.To != 510 || !strings.Contains(gap.Error(), "510 messages (1-510)") {
				t.Fatalf("gap %d-%d: %v", gap.From, gap.To, gap)
			}
			if policy == fastpub.GapFail {
				for e := range events {
					if e.Kind == fastpub.EventGaveUp {
						break
					}
				}
				if err := c.PublishString("g", "x"); !errors.Is(err, fastpub.ErrPublishGap) {
					t.Fatalf("publish after a gap under GapFail = %v, want ErrPublishGap", err)
				}
				return
			}
			for e := range events {
				if e.Kind == fastpub.EventReconnected {
					break
				}
			}
			if err := c.PublishString("g", "x"); err != nil {
				t.Fatal(err)
			}
			if err := c.PublishFlush(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// During an outage publishes keep succeeding into the store until its bound;
// then Publish blocks, PublishContext honours its context, TryPublish says
// ErrBufferFull. When the server is back, everything arrives exactly once.
func TestOutageBackpressure(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	ta := newTally(1)
	obs := s // the subscriber must survive the outage: it uses a second member
	state := obs.State()
	other := startServer(t, ampstest.Config{State: state})
	subscribe(t, other.URI("json"), "outage", ta)
	c := connect(t, s.URI("json"), "outage", fastpub.WithStore(memStore(t, 64<<10, 256)),
		fastpub.WithReconnect(fastpub.ReconnectPolicy{Delay: fastpub.FixedDelay{D: 2 * time.Millisecond}}))
	s.Stop()
	t.Log("injected: server stopped")
	var buf [8]byte
	n := uint32(0)
	for ; ; n++ {
		err := c.TryPublish("outage", payload(&buf, 0, n))
		if errors.Is(err, fastpub.ErrBufferFull) {
			break
		}
		if err != nil {
			t.Fatalf("TryPublish %d during the outage: %v", n, err)
		}
		if n > 10000 {
			t.Fatal("a 256-message store took 10000 publishes")
		}
	}
	t.Logf("%d publishes succeeded into the store before it was full", n)
	if n < 200 {
		t.Fatalf("only %d publishes fit a 256-message store", n)
	}
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	err := c.PublishContext(short, "outage", payload(&buf, 0, n))
	cancel()
	if !errors.Is(err, fastpub.ErrTimedOut) {
		t.Fatalf("PublishContext on a full store = %v, want ErrTimedOut", err)
	}
	blocked := make(chan error, 1)
	go func() { blocked <- c.Publish("outage", payload(&buf, 0, n)) }()
	select {
	case err := <-blocked:
		t.Fatalf("Publish on a full store returned %v during the outage", err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-blocked:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Publish still blocked after the server came back")
	}
	n++
	if err := c.PublishFlush(ctxT(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	ta.waitTotal(t, int(n), 30*time.Second)
}

// MaxOutage bounds the reconnect loop; errors that retrying cannot fix end
// it at once. Either way publishes then return the typed error.
func TestReconnectGivesUp(t *testing.T) {
	t.Run("max outage", func(t *testing.T) {
		s := startServer(t, ampstest.Config{})
		c := connect(t, s.URI("json"), "outage-max", fastpub.WithReconnect(fastpub.ReconnectPolicy{
			MaxOutage: 200 * time.Millisecond, Delay: fastpub.FixedDelay{D: 20 * time.Millisecond}}))
		s.Stop()
		err := waitPublishError(t, c)
		var oe *fastpub.OutageError
		if !errors.As(err, &oe) || !errors.Is(err, fastpub.ErrOutage) || oe.Attempts < 2 {
			t.Fatalf("publish after the outage limit = %v, want an *OutageError with several attempts", err)
		}
		t.Logf("gave up: %v", err)
	})
	t.Run("auth failure", func(t *testing.T) {
		good := startServer(t, ampstest.Config{})
		bad := startServer(t, ampstest.Config{Auth: ampstest.Password{User: "u", Password: "other"}})
		c := connect(t, good.URI("json"), "auth-fail", fastpub.WithReconnect(fastpub.ReconnectPolicy{
			Chooser: fastpub.NewRoundRobin(bad.URI("json")), Delay: fastpub.FixedDelay{D: time.Millisecond}}))
		good.Stop()
		err := waitPublishError(t, c)
		if !errors.Is(err, fastpub.ErrAuthentication) {
			t.Fatalf("publish after an auth failure on reconnect = %v, want ErrAuthentication", err)
		}
		if got := bad.Stats().ConnectionsTotal; got != 1 {
			t.Fatalf("the client tried a server that refused its credentials %d times, want once", got)
		}
	})
}

// waitPublishError publishes until a publish fails (the client gave up) and
// returns that error.
func waitPublishError(t *testing.T, c *fastpub.Client) error {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		if err := c.PublishString("t", "x"); err != nil {
			return err
		}
		if time.Now().After(deadline) || i > 1_000_000 {
			t.Fatal("the client did not give up")
		}
		time.Sleep(time.Millisecond)
	}
}

// Handlers run on the client's own goroutine: Close, PublishFlush and
// Publish inside them neither deadlock nor leak.
func TestCloseInsideHandlers(t *testing.T) {
	base := runtime.NumGoroutine()
	s := startServer(t, ampstest.Config{})
	closed := make(chan error, 2)
	var cp atomic.Pointer[fastpub.Client] // set before the first handler can run
	c := connect(t, s.URI("json"), "closer-in-handler",
		fastpub.WithErrorHandler(func(error) {
			c := cp.Load()
			c.PublishString("t", "x") // returns an error; must not block
			closed <- c.Close()
		}),
		fastpub.WithEventHandler(func(e fastpub.Event) {
			if e.Kind == fastpub.EventDisconnected {
				c := cp.Load()
				c.PublishFlush(context.Background()) // returns at once: disconnected
				closed <- c.Close()
			}
		}))
	cp.Store(c)
	if !s.DropClient("closer-in-handler") {
		t.Fatal("no connection to drop")
	}
	for i := 0; i < 2; i++ {
		select {
		case err := <-closed:
			var ue *fastpub.UndeliveredError
			if err != nil && !errors.As(err, &ue) {
				t.Fatalf("Close in a handler: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close inside a handler did not return")
		}
	}
	s.Close()
	checkNoLeak(t, base)
}

// With a reconnect policy heartbeats are on by default, so a stalled server
// is noticed and the client fails over; beats answer server heartbeats at
// most once per interval.
func TestReconnectStalledServerDetected(t *testing.T) {
	state := ampstest.NewState()
	a := startServer(t, ampstest.Config{State: state})
	b := startServer(t, ampstest.Config{State: state})
	events := make(chan fastpub.Event, 32)
	c := connect(t, a.URI("json"), "stalled", fastpub.WithHeartbeat(time.Second),
		fastpub.WithStore(memStore(t, 1<<20, 1024)),
		fastpub.WithReconnect(fastpub.ReconnectPolicy{Servers: []string{b.URI("json")}, Delay: fastpub.FixedDelay{D: time.Millisecond}, LogonTimeout: time.Second}),
		fastpub.WithEventHandler(func(e fastpub.Event) { events <- e }))
	if err := c.PublishString("s", "before"); err != nil {
		t.Fatal(err)
	}
	a.Stall()
	defer a.Unstall()
	t.Log("injected: server A stalled (no reads, no writes, no heartbeats)")
	start := time.Now()
	if err := c.PublishString("s", "during"); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 20*time.Second)
	for done := false; !done; {
		select {
		case e := <-events:
			done = e.Kind == fastpub.EventReconnected
		case <-ctx.Done():
			t.Fatal("a stalled server was not noticed")
		}
	}
	t.Logf("stall noticed and failed over in %v", time.Since(start).Round(time.Millisecond))
	if err := c.PublishFlush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := state.LastSequence("stalled"); got == 0 {
		t.Fatal("nothing persisted after failover")
	}
}

// The default reconnect heartbeat is DefaultReconnectHeartbeat.
func TestReconnectTurnsHeartbeatsOn(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	s.Record(10)
	connect(t, s.URI("json"), "hb-default", fastpub.WithReconnect(fastpub.ReconnectPolicy{}))
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, f := range s.Received() {
			if f.Command == frame.CmdHeartbeat {
				if want := fmt.Sprintf(`"o":"start,%d"`, int(fastpub.DefaultReconnectHeartbeat/time.Second)); !strings.Contains(string(f.Header), want) {
					t.Fatalf("heartbeat %s, want %s", f.Header, want)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no heartbeat start with a reconnect policy")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// PublishFlush with a store survives a reconnect: its flush is stored and
// sent again.
func TestPublishFlushSurvivesReconnect(t *testing.T) {
	s := startServer(t, ampstest.Config{Persisted: ampstest.Conflated{Interval: 50 * time.Millisecond}})
	c := connect(t, s.URI("json"), "flush-survivor", fastpub.WithStore(memStore(t, 1<<20, 4096)),
		fastpub.WithReconnect(fastpub.ReconnectPolicy{Delay: fastpub.FixedDelay{D: time.Millisecond}}))
	s.WithholdAcks(true)
	for i := 0; i < 100; i++ {
		if err := c.PublishString("f", "x"); err != nil {
			t.Fatal(err)
		}
	}
	flushed := make(chan error, 1)
	go func() { flushed <- c.PublishFlush(ctxT(t, 30*time.Second)) }()
	// Wait until the flush reached the server, then drop the connection.
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Publishes < 100 || s.Stats().Frames < 102 {
		if time.Now().After(deadline) {
			t.Fatalf("server stats %+v", s.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	s.DropClient("flush-survivor")
	s.WithholdAcks(false)
	t.Log("injected: connection dropped with the flush's ack withheld")
	if err := <-flushed; err != nil {
		t.Fatalf("PublishFlush across a reconnect: %v", err)
	}
	st := c.Stats()
	if st.Reconnects != 1 || st.PersistedSeq != s.LastSequence("flush-survivor") {
		t.Fatalf("after the flush: %d reconnects, persisted through %d, server's last %d; want 1 and equal", st.Reconnects, st.PersistedSeq, s.LastSequence("flush-survivor"))
	}
}

func TestDelayStrategies(t *testing.T) {
	e := fastpub.ExponentialDelay{}
	if d := e.Delay("u", 0); d != 0 {
		t.Fatalf("first attempt waits %v, want 0", d)
	}
	for failures, limit := range map[int]time.Duration{1: 200 * time.Millisecond, 2: 400 * time.Millisecond, 5: 3200 * time.Millisecond, 8: 20 * time.Second, 50: 20 * time.Second} {
		var maxSeen, minSeen time.Duration = 0, time.Hour
		for i := 0; i < 2000; i++ {
			d := e.Delay("u", failures)
			if d < 0 || d >= limit {
				t.Fatalf("Delay after %d failures = %v, want in [0, %v)", failures, d, limit)
			}
			maxSeen, minSeen = max(maxSeen, d), min(minSeen, d)
		}
		// Full jitter: the draws spread over the whole range.
		if maxSeen < limit*9/10 || minSeen > limit/10 {
			t.Fatalf("after %d failures delays ranged %v-%v of [0, %v): not full jitter", failures, minSeen, maxSeen, limit)
		}
	}
	f := fastpub.FixedDelay{D: 7 * time.Millisecond}
	if f.Delay("u", 0) != 0 || f.Delay("u", 3) != 7*time.Millisecond {
		t.Fatal("FixedDelay")
	}
	rr := fastpub.NewRoundRobin("a", "b")
	var seq []string
	for i := 0; i < 3; i++ {
		seq = append(seq, rr.Next())
		rr.Failed(rr.Next(), errors.New("refused"))
	}
	rr.Succeeded(rr.Next())
	seq = append(seq, rr.Next())
	if strings.Join(seq, ",") != "a,b,a,b" {
		t.Fatalf("round robin %v", seq)
	}
}

func TestStoreOptionsValidated(t *testing.T) {
	if _, err := fastpub.NewClient("x", fastpub.WithStore(nil)); !errors.Is(err, fastpub.ErrInvalidValue) {
		t.Fatalf("WithStore(nil) = %v", err)
	}
	if _, err := fastpub.NewClient("x", fastpub.WithReconnect(fastpub.ReconnectPolicy{MaxOutage: -1})); !errors.Is(err, fastpub.ErrInvalidValue) {
		t.Fatalf("negative MaxOutage = %v", err)
	}
	if _, err := fastpub.NewClient("x", fastpub.WithPublishGapPolicy(7)); !errors.Is(err, fastpub.ErrInvalidValue) {
		t.Fatalf("bad gap policy = %v", err)
	}
}

// A server that sends heartbeats far more often than the interval (as the
// community fake server answers every beat) gets at most one beat per half
// interval back, not one per heartbeat.
func TestBeatsAtMostTwicePerInterval(t *testing.T) {
	beats := make(chan int, 1)
	uri := startScripted(t, func(s *scripted) {
		if _, _, err := s.next(); err != nil {
			return
		}
		s.send(logonAckOK + `}`)
		// 200 heartbeats over about 1.5 s; count the client's beats.
		n := 0
		stop := time.Now().Add(1500 * time.Millisecond)
		go func() {
			for i := 0; i < 200 && time.Now().Before(stop); i++ {
				s.send(`{"c":"heartbeat"}`)
				time.Sleep(7 * time.Millisecond)
			}
		}()
		s.conn.SetReadDeadline(stop.Add(200 * time.Millisecond))
		for {
			cmd, _, err := s.next()
			if err != nil {
				break
			}
			if cmd == frame.CmdHeartbeat {
				n++
			}
		}
		beats <- n
	})
	c := connect(t, uri, "beats", fastpub.WithHeartbeat(time.Second))
	n := <-beats
	// The heartbeat start counts as one frame; then at most one beat per
	// half second over the 1.5 s of heartbeats: at 0, 0.5, 1.0 and 1.5 s.
	if n < 3 || n > 5 {
		t.Fatalf("client sent %d heartbeat frames (start included) in answer to ~200 server heartbeats over 1.5 s, want 3 to 5", n)
	}
	if st := c.Stats(); st.Beats < 2 || st.Beats > 4 {
		t.Fatalf("Stats.Beats %d", st.Beats)
	}
}

// A server heartbeat that comes a little less than an interval after the
// last one (the first one's reading was late, or the server's timer early)
// is answered: the server sends one per interval of silence and drops the
// client after two intervals without traffic, so a skipped answer left the
// next one no margin (CI once saw an idle client dropped that way). One
// that comes far sooner than an interval is not answered.
func TestBeatAnswersHeartbeatsALittleEarly(t *testing.T) {
	type result struct {
		answered []bool
		err      error
	}
	res := make(chan result, 1)
	uri := startScripted(t, func(s *scripted) {
		var r result
		defer func() { res <- r }()
		if r.err = s.logonWithHeartbeat(); r.err != nil {
			return
		}
		// Heartbeats at 0, 0.9 s (early by a tenth) and 1.0 s (far too
		// soon after the last answer); each waits up to 300 ms for a beat.
		for _, gap := range []time.Duration{0, 900 * time.Millisecond, 100 * time.Millisecond} {
			time.Sleep(gap)
			s.send(`{"c":"heartbeat"}`)
			s.conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			cmd, _, err := s.next()
			if err != nil && !isTimeoutErr(err) {
				r.err = err
				return
			}
			r.answered = append(r.answered, err == nil && cmd == frame.CmdHeartbeat)
		}
	})
	connect(t, uri, "early", fastpub.WithHeartbeat(time.Second))
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	if want := []bool{true, true, false}; fmt.Sprint(r.answered) != fmt.Sprint(want) {
		t.Fatalf("heartbeats at 0, 0.9 s and 1.0 s with a 1 s interval answered %v, want %v", r.answered, want)
	}
}

func isTimeoutErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Close while the client is reconnecting stops the reconnect loop and leaks
// nothing; what was queued is reported lost.
func TestCloseWhileReconnecting(t *testing.T) {
	base := runtime.NumGoroutine()
	s := startServer(t, ampstest.Config{})
	events := make(chan fastpub.Event, 64)
	c, err := fastpub.NewClient("closing-reconnect", fastpub.WithStore(memStore(t, 1<<20, 1024)),
		fastpub.WithReconnect(fastpub.ReconnectPolicy{Delay: fastpub.FixedDelay{D: 5 * time.Millisecond}}),
		fastpub.WithEventHandler(func(e fastpub.Event) {
			select {
			case events <- e:
			default:
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 10*time.Second)
	if err := c.Connect(ctx, s.URI("json")); err != nil {
		t.Fatal(err)
	}
	if err := c.Logon(ctx); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	for seen := 0; seen < 3; {
		select {
		case e := <-events:
			if e.Kind == fastpub.EventReconnecting {
				seen++
			}
		case <-ctx.Done():
			t.Fatal("not reconnecting")
		}
	}
	if err := c.PublishString("t", "queued during the outage"); err != nil {
		t.Fatal(err)
	}
	err = c.Close()
	var ue *fastpub.UndeliveredError
	if !errors.As(err, &ue) || ue.Frames != 1 {
		t.Fatalf("Close while reconnecting = %v, want an *UndeliveredError for 1 frame", err)
	}
	if err := c.PublishString("t", "x"); !errors.Is(err, fastpub.ErrClosed) {
		t.Fatalf("publish after Close = %v", err)
	}
	s.Close()
	checkNoLeak(t, base)
}

// A PublishFlush whose flush the server processed, whose ack was lost with
// the connection, and which later publishes made persisted (the new logon's
// last sequence is past it) returns nil after the reconnect: everything
// before it is persisted, and its frame, discarded, is not sent again.
// (Found by loadgen's failover test; it used to wait for ever.)
func TestFlushAnsweredWhenItsFrameIsDiscarded(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	reconnected := make(chan struct{}, 4)
	c := connect(t, s.URI("json"), "flush-discarded", fastpub.WithStore(memStore(t, 1<<20, 1024)),
		fastpub.WithReconnect(fastpub.ReconnectPolicy{Delay: fastpub.FixedDelay{D: time.Millisecond}}),
		fastpub.WithEventHandler(func(e fastpub.Event) {
			if e.Kind == fastpub.EventReconnected {
				reconnected <- struct{}{}
			}
		}))
	s.WithholdAcks(true)
	for i := 0; i < 10; i++ {
		if err := c.PublishString("t", `{"i":1}`); err != nil {
			t.Fatal(err)
		}
	}
	flushed := make(chan error, 1)
	go func() { flushed <- c.PublishFlush(ctxT(t, 20*time.Second)) }()
	waitUntil(t, func() bool { return c.Stats().Unpersisted >= 11 }) // the flush frame is queued
	for i := 0; i < 10; i++ {
		if err := c.PublishString("t", `{"i":2}`); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, func() bool { return s.Stats().Publishes >= 20 })
	s.DropClient("flush-discarded") // the withheld acks go with the connection
	s.WithholdAcks(false)
	t.Log("injected: flush processed, its ack lost with the connection; later publishes persisted")
	select {
	case <-reconnected:
	case <-time.After(10 * time.Second):
		t.Fatal("no reconnect")
	}
	if err := <-flushed; err != nil {
		t.Fatalf("PublishFlush across the reconnect: %v", err)
	}
}

// waitUntil polls cond (bounded: 10 s, 1 ms steps) and fails the test if it
// never holds.
func waitUntil(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
