package fastpub

import (
	"context"
	"testing"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/store"
)

// The reader's onPersisted for a refused write queues the failure before
// it posts the ack. A writer whose applyAcks ran in between loaded
// acks.to == 0 and, seeing a failure queued, called DiscardThrough(to-1),
// that is DiscardThrough(MaxUint64): every committed frame freed, persisted
// or not (found by a review). The test forces that interleaving: it does
// the reader's first half for the first publish by hand and kicks the
// writer.
func TestFailureQueuedBeforeTheFirstAckFreesNothing(t *testing.T) {
	s, err := ampstest.StartTCP(ampstest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.WithholdAcks(true) // no persisted ack comes: nothing may be freed
	ms, err := store.NewMemory(store.Limits{Bytes: 1 << 20, Messages: 1024})
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient("fail-first", WithStore(ms), WithCloseTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx, s.URI("json")); err != nil {
		t.Fatal(err)
	}
	if err := c.Logon(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := c.PublishString("t", "x"); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.Stats().Buffered != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if st := c.Stats(); st.Unpersisted != 10 {
		t.Fatalf("before: Unpersisted %d, want 10", st.Unpersisted)
	}
	// The reader, for a failure ack of the first publish (ring Seq 0), up
	// to just before its postAck(1).
	c.acks.mu.Lock()
	c.acks.fails = append(c.acks.fails, failedAck{seq: 0, status: "failure", reason: "not entitled"})
	c.acks.mu.Unlock()
	c.acks.nfail.Add(1)
	c.ring.Kick() // any wake-up of the writer (a commit, another ack's kick)
	time.Sleep(100 * time.Millisecond)
	if st := c.Stats(); st.Unpersisted != 10 {
		t.Fatalf("with a failure queued and no ack posted yet, the writer freed frames: Unpersisted %d, want 10 (no ack came for any)", st.Unpersisted)
	}
}
