package fastpub_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/fastpub"
	"github.com/fastpub/fastpub/frame"
	"github.com/fastpub/fastpub/store"
)

// keepStore is a durable store for tests of the client's side of recovery:
// it keeps copies of every appended frame in memory, and what it holds when
// a client closes it is what the next client recovers, as a file store's
// segments would be after a restart of the process.
type keepStore struct {
	limits store.Limits

	mu        sync.Mutex
	frames    map[uint64][]byte
	persisted uint64
	last      uint64
	lost      []store.Range
	begins    [][2]uint64
	failWith  error
}

func newKeepStore() *keepStore {
	return &keepStore{limits: store.Limits{Bytes: 16 << 20, Messages: 1 << 18}, frames: map[uint64][]byte{}}
}

func (k *keepStore) Limits() store.Limits { return k.limits }

func (k *keepStore) Recover(fn func(uint64, []byte) error) (store.Recovery, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.failWith != nil {
		return store.Recovery{}, k.failWith
	}
	seqs := make([]uint64, 0, len(k.frames))
	for s := range k.frames {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	for _, s := range seqs {
		if err := fn(s, k.frames[s]); err != nil {
			return store.Recovery{}, err
		}
	}
	return store.Recovery{Last: k.last, Persisted: k.persisted, Lost: k.lost}, nil
}

func (k *keepStore) Begin(seq, pos uint64) error {
	k.mu.Lock()
	k.begins = append(k.begins, [2]uint64{seq, pos})
	k.mu.Unlock()
	return nil
}

func (k *keepStore) Append(seq, _ uint64, b []byte) {
	k.mu.Lock()
	k.frames[seq] = append([]byte(nil), b...)
	k.last = max(k.last, seq)
	k.mu.Unlock()
}

func (k *keepStore) Committed(uint64, uint64) {}

func (k *keepStore) Persisted(seq, _, acked uint64) error {
	k.mu.Lock()
	for s := range k.frames {
		if s <= seq {
			delete(k.frames, s)
		}
	}
	k.persisted = max(k.persisted, acked)
	k.mu.Unlock()
	return nil
}

func (k *keepStore) Close() error { return nil }

func (k *keepStore) held() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.frames)
}

// A publisher whose connection drops and whose process then ends (here: the
// client is closed with frames unpersisted) is restarted: a new client with
// the same name and the same durable store recovers the frames, logs on,
// discards what the server has, replays the rest before anything new, and
// continues the sequence. The subscriber sees every message exactly once,
// in order.
func TestRestartReplaysTheStoreExactlyOnce(t *testing.T) {
	const total = 60000
	s := startServer(t, ampstest.Config{})
	ta := newTally(1)
	subscribe(t, s.URI("json"), "restart", ta)
	ks := newKeepStore()

	a, err := fastpub.NewClient("restarter", fastpub.WithStore(ks), fastpub.WithCloseTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, time.Minute)
	if err := a.Connect(ctx, s.URI("json")); err != nil {
		t.Fatal(err)
	}
	if err := a.Logon(ctx); err != nil {
		t.Fatal(err)
	}
	// A flush in the middle of the stream: its frame is stored too.
	var buf [8]byte
	n := uint32(0)
	for ; n < 1000; n++ {
		if err := a.Publish("restart", payload(&buf, 0, n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.PublishFlush(ctx); err != nil {
		t.Fatal(err)
	}
	s.CloseAfterFrames(15000)
	for ; n < total; n++ {
		if err := a.Publish("restart", payload(&buf, 0, n)); err != nil {
			if !errors.Is(err, fastpub.ErrDisconnected) {
				t.Fatalf("publish %d: %v", n, err)
			}
			break
		}
	}
	a.Close() // the process ends: what is unpersisted stays in the store
	kept := ks.held()
	t.Logf("injected: the server closed the connection after 15000 frames, then the publisher ended; %d publishes had returned nil, the store kept %d frames", n, kept)
	if kept == 0 {
		t.Fatal("the store kept nothing to replay")
	}

	b, err := fastpub.NewClient("restarter", fastpub.WithStore(ks))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Connect(ctx, s.URI("json")); err != nil {
		t.Fatal(err)
	}
	if err := b.Logon(ctx); err != nil {
		t.Fatal(err)
	}
	for ; n < total; n++ {
		if err := b.Publish("restart", payload(&buf, 0, n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.PublishFlush(ctx); err != nil {
		t.Fatal(err)
	}
	ta.waitTotal(t, total, 30*time.Second)
	st := b.Stats()
	t.Logf("restarted client: %d frames recovered from the store; server dropped %d duplicates", st.Recovered, s.Stats().Duplicates)
	if st.Recovered == 0 {
		t.Fatal("Stats().Recovered = 0 after a restart with a full store")
	}
	if len(ks.begins) != 2 {
		t.Fatalf("Begin called %d times over two clients, want 2", len(ks.begins))
	}
}

// What a store recovers is loaded as it is: publishes above the server's
// last sequence go out first, at their own sequence numbers; a control frame
// of the earlier process, and a sequence number the store lost, become
// heartbeat beats; what the server has is not sent; the lost range is
// reported; new publishes continue after the highest recovered one.
func TestRecoveredFramesLoadedInOrderWithFillers(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	s.Record(100)
	const name = "loader"
	s.SetLastSequence(name, 99)
	ks := newKeepStore()
	pub := func(seq uint64, data string) []byte {
		b, err := frame.AppendPublish(nil, &frame.Publish{Command: frame.CmdPublish, Topic: "t", Ack: frame.AckPersisted, Seq: seq}, []byte(data))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	flush, err := frame.AppendFlush(nil, &frame.Flush{CommandID: "f1", Ack: frame.AckPersisted})
	if err != nil {
		t.Fatal(err)
	}
	ks.frames[99] = pub(99, "already persisted")
	ks.frames[100] = pub(100, "a")
	ks.frames[101] = flush
	ks.frames[103] = pub(103, "b")
	ks.last = 105 // 104 and 105: a torn tail, used by the earlier process and lost
	ks.lost = []store.Range{{From: 102, To: 102}, {From: 104, To: 105}}
	errs := make(chan error, 4)
	c := connect(t, s.URI("json"), name, fastpub.WithStore(ks), fastpub.WithErrorHandler(func(err error) { errs <- err }))
	if err := c.Publish("t", []byte("c")); err != nil {
		t.Fatal(err)
	}
	if err := c.PublishFlush(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	var got []string
	beats := 0
	for _, f := range s.Received() {
		var h frame.Header
		if _, err := h.Parse(append([]byte(nil), f.Header...)); err != nil {
			t.Fatal(err)
		}
		switch h.Command {
		case frame.CmdPublish:
			got = append(got, string(f.Payload)+"@"+strconv.FormatUint(h.Seq, 10))
		case frame.CmdHeartbeat:
			beats++
		}
	}
	if want := []string{"a@100", "b@103", "c@106"}; !slices.Equal(got, want) {
		t.Fatalf("server received publishes %v, want %v", got, want)
	}
	if beats < 4 {
		t.Fatalf("server received %d heartbeats, want the 4 fillers", beats)
	}
	select {
	case err := <-errs:
		var de *store.DamageError
		if !errors.As(err, &de) || !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), "102 104-105") {
			t.Fatalf("error handler got %v, want a *store.DamageError naming 102", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the lost range was not reported")
	}
	st := c.Stats()
	if st.Recovered != 6 || st.StoreLost != 3 {
		t.Fatalf("Stats: Recovered %d (want 6: a, the flush's beat, the lost one's beat, b, two beats for the torn tail), StoreLost %d (want 3)", st.Recovered, st.StoreLost)
	}
	if ks.begins[0][0] != 106 {
		t.Fatalf("Begin(%d, ...), want 106", ks.begins[0][0])
	}
}

// A store that knew sequences persisted above the server's last sequence
// finds a publish gap at the first logon of the new process.
func TestRecoveredPublishGap(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	s.SetLastSequence("gapper", 400)
	ks := newKeepStore()
	ks.persisted, ks.last = 500, 500
	c, err := fastpub.NewClient("gapper", fastpub.WithStore(ks))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t, 10*time.Second)
	if err := c.Connect(ctx, s.URI("json")); err != nil {
		t.Fatal(err)
	}
	err = c.Logon(ctx)
	var gap *fastpub.PublishGapError
	if !errors.As(err, &gap) || !errors.Is(err, fastpub.ErrPublishGap) || gap.From != 401 || gap.To != 500 {
		t.Fatalf("Logon = %v, want a *PublishGapError 401-500", err)
	}
}

// A store that fails to recover fails the logon with ErrStore and its own
// error.
func TestStoreRecoverError(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	ks := newKeepStore()
	boom := errors.New("segment unreadable")
	ks.failWith = boom
	c, err := fastpub.NewClient("failer", fastpub.WithStore(ks))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t, 10*time.Second)
	if err := c.Connect(ctx, s.URI("json")); err != nil {
		t.Fatal(err)
	}
	if err := c.Logon(ctx); !errors.Is(err, fastpub.ErrStore) || !errors.Is(err, boom) {
		t.Fatalf("Logon = %v, want ErrStore wrapping the store's error", err)
	}
}
