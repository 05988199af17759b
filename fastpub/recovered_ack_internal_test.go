package fastpub

import (
	"errors"
	"sync"
	"testing"

	"github.com/fastpub/fastpub/connstr"
	"github.com/fastpub/fastpub/frame"
	"github.com/fastpub/fastpub/ring"
	"github.com/fastpub/fastpub/store"
)

// recStore recovers the publishes seqs [from, to] an earlier process
// stored and never had acknowledged, and records what the client frees.
type recStore struct {
	mu       sync.Mutex
	from, to uint64
	freed    uint64 // Persisted's seq
}

func (r *recStore) Limits() store.Limits { return store.Limits{Bytes: 1 << 20, Messages: 1024} }
func (r *recStore) Recover(fn func(uint64, []byte) error) (store.Recovery, error) {
	for s := r.from; s <= r.to; s++ {
		b, err := frame.AppendPublishString(nil, &frame.Publish{Topic: "t", Ack: frame.AckPersisted, Seq: s}, "x")
		if err != nil {
			return store.Recovery{}, err
		}
		if err := fn(s, b); err != nil {
			return store.Recovery{}, err
		}
	}
	return store.Recovery{Last: r.to}, nil
}
func (r *recStore) Begin(uint64, uint64) error    { return nil }
func (r *recStore) Append(uint64, uint64, []byte) {}
func (r *recStore) Committed(uint64, uint64)      {}
func (r *recStore) Persisted(seq, _, _ uint64) error {
	r.mu.Lock()
	r.freed = max(r.freed, seq)
	r.mu.Unlock()
	return nil
}
func (r *recStore) Close() error { return nil }

// recoveredClient returns a client whose first logon (the server's last
// sequence 41) recovered the publishes 42..46 from its store, none sent
// yet, and the session of that logon. No connection is made.
func recoveredClient(t *testing.T, name string) (*Client, *recStore, *session) {
	t.Helper()
	rs := &recStore{from: 42, to: 46}
	c, err := NewClient(name, WithStore(rs))
	if err != nil {
		t.Fatal(err)
	}
	u, err := connstr.Parse("tcp://127.0.0.1:9007/amps/json")
	if err != nil {
		t.Fatal(err)
	}
	s := &session{uri: u}
	if err := c.createRing(s, 41); err != nil {
		t.Fatal(err)
	}
	return c, rs, s
}

// Frames recovered from an earlier process are all above the server's last
// sequence at the first logon (recoverStore skips the rest): the server
// does not hold them. A persisted ack beyond them that comes before the
// writer has replayed them (a nonconforming server, another publisher on
// the name: the case of TestAckBeyondSentFreesNothingUnsent) must free
// none of them (applyAcks counted them as sent, beginSeq-seqBase, and
// freed them all unsent: lost).
func TestAckBeyondRecoveredFreesNothingUnsent(t *testing.T) {
	c, rs, _ := recoveredClient(t, "recovered-ack-ahead")
	if c.seqBase != 42 || c.beginSeq != 47 {
		t.Fatalf("seqBase %d beginSeq %d, want 42 and 47", c.seqBase, c.beginSeq)
	}
	c.ring.Peek(nil) // the consumer sees the recovered frames
	if b, ok := c.ring.AppendFrame(nil, 0); !ok || string(b) == string(beatFrame) {
		t.Fatalf("recovered frame 0 is %q, %v: want the publish", b, ok)
	}
	// The reader gets {"c":"ack","a":"persisted","status":"success","s":100}
	// before the writer has sent anything; the writer (the ring's
	// consumer) applies it.
	c.onPersisted(100, []byte("success"), nil)
	c.applyAcks(true)
	if got := c.ring.ReleasedSeq(); got != 0 {
		t.Fatalf("an ack beyond every frame freed %d recovered frames that were never sent to the server (its last sequence was 41; the store was told seq %d is freed)", got, rs.freed)
	}
}

// At a reconnect whose last sequence falls inside the recovered frames not
// yet sent again, those at or below it are freed: the earlier process may
// have sent them to this server (its first logon was to the other server
// of a pair, which had not received them yet). That is not a sequence
// ahead. An ack beyond then frees no more than the logon said.
func TestReconnectLastInsideRecoveredFreesToIt(t *testing.T) {
	c, _, s := recoveredClient(t, "recovered-last-inside")
	c.flushes = map[string]*flushWait{}
	if err := c.resume(s, 44); err != nil {
		t.Fatalf("resume with the server's last sequence 44, inside the recovered frames 42..46: %v", err)
	}
	if got := c.ring.ReleasedSeq(); got != 3 {
		t.Fatalf("resume at 44 freed %d recovered frames, want 3 (42..44)", got)
	}
	c.onPersisted(100, []byte("success"), nil)
	c.applyAcks(true)
	if got := c.ring.ReleasedSeq(); got != 3 {
		t.Fatalf("an ack beyond every frame, none sent again, freed %d recovered frames, want the 3 the logon said the server has", got)
	}
	// Past 46 the client's own sequence is ahead.
	if err := c.resume(s, 47); !errors.Is(err, ErrSequenceAhead) {
		t.Fatalf("resume with the server's last sequence 47, above every frame: %v, want ErrSequenceAhead", err)
	}
}

// Recovered frames sent again after the first logon count as sent: a
// conforming server's ack frees them all. Then a failover whose last
// sequence falls inside them, with new publishes queued behind: the logon
// frees up to it, and after the replay an ack for the last new publish
// frees everything. No conforming ack is held back by the bound. From a
// review.
func TestRecoveredFramesFreedByConformingAcks(t *testing.T) {
	c, _, _ := recoveredClient(t, "recovered-replayed")
	if _, n := c.ring.Peek(make([][]byte, 0, 8)); n > 0 {
		c.ring.Sent(n)
	}
	c.onPersisted(46, []byte("success"), nil)
	c.applyAcks(true)
	if got := c.ring.ReleasedSeq(); got != 5 {
		t.Fatalf("an ack for 46 after 42..46 were sent again freed %d frames, want 5", got)
	}

	c, _, s := recoveredClient(t, "recovered-failover")
	c.flushes = map[string]*flushWait{}
	b0, _ := c.ring.AppendFrame(nil, 0)
	b1, _ := c.ring.AppendFrame(nil, 1)
	c.ring.Peek(make([][]byte, 0, 8))
	c.ring.Sent(len(b0) + len(b1)) // 42 and 43 sent again, then the connection fails
	for i := 0; i < 5; i++ {       // 47..51 published meanwhile
		b, err := frame.AppendPublishString(nil, &frame.Publish{Topic: "t", Ack: frame.AckPersisted, Seq: c.seqBase + c.ring.ClaimedSeq()}, "y")
		if err != nil {
			t.Fatal(err)
		}
		var cl ring.Claim
		if err := c.ring.TryClaimInto(&cl, len(b)); err != nil {
			t.Fatal(err)
		}
		copy(cl.Buf, b)
		c.ring.Commit(&cl)
	}
	if err := c.resume(s, 45); err != nil { // the partner holds 42..45
		t.Fatal(err)
	}
	if got := c.ring.ReleasedSeq(); got != 4 {
		t.Fatalf("a logon with last sequence 45 freed %d frames, want 4 (42..45)", got)
	}
	if _, n := c.ring.Peek(make([][]byte, 0, 8)); n > 0 {
		c.ring.Sent(n) // the replay: 46..51
	}
	c.onPersisted(51, []byte("success"), nil)
	c.applyAcks(true)
	if got := c.ring.ReleasedSeq(); got != 10 {
		t.Fatalf("an ack for 51 after the replay freed %d of 10 frames", got)
	}
}
