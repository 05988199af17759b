package ring

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCommitTakeStress: producers commit with CommitTake and, whenever
// they get the role, consume as the consumer would (Peek, Sent, Return, or
// HandOff after a partial send); a consumer goroutine does the same with
// Wait. Both append what they consume to one output, which the role must
// keep exclusive: at most one holder at a time (checked), and the output is
// every frame exactly once, in stream order. Under -race the role hand-overs
// must also be happens-before edges.
func TestCommitTakeStress(t *testing.T) {
	const producers, frames = 4, 20_000
	r, err := New(Config{Size: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	var holders atomic.Int32
	var out []byte // role-protected
	var took, handoffs atomic.Int64
	consume := func(partial bool) bool {
		if holders.Add(1) != 1 {
			t.Error("two holders of the consumer role")
		}
		segs, n := r.Peek(make([][]byte, 0, 8))
		k := n
		if partial && n > 1 {
			k = n / 2
		}
		left := k
		for _, s := range segs {
			m := min(len(s), left)
			out = append(out, s[:m]...)
			left -= m
		}
		r.Sent(k)
		holders.Add(-1)
		return k == n
	}
	done := make(chan struct{})
	consumerDone := make(chan struct{})
	go func() {
		defer close(consumerDone)
		for {
			if err := r.Wait(done); err != nil {
				return
			}
			consume(false)
		}
	}()
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := func() bool { return true }
			for i := 0; i < frames; i++ {
				c, err := r.Claim(context.Background(), 8)
				if err != nil {
					t.Error(err)
					return
				}
				binary.BigEndian.PutUint64(c.Buf, c.Seq)
				if r.CommitTake(&c, want) {
					took.Add(1)
					if consume(i%5 == 0) {
						r.Return()
					} else {
						handoffs.Add(1)
						r.HandOff()
					}
				}
				if i%100 == 0 {
					time.Sleep(20 * time.Microsecond) // let the consumer park
				}
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The consumer drains what is left; read out under the role only
		// after it has stopped.
		if r.SendPos() == uint64(producers*frames*8) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sent %d of %d bytes", r.SendPos(), producers*frames*8)
		}
		time.Sleep(time.Millisecond)
	}
	close(done)
	<-consumerDone
	if len(out) != producers*frames*8 {
		t.Fatalf("consumed %d bytes, want %d", len(out), producers*frames*8)
	}
	for i := 0; i < producers*frames; i++ {
		if got := binary.BigEndian.Uint64(out[i*8:]); got != uint64(i) {
			t.Fatalf("frame %d carries seq %d", i, got)
		}
	}
	t.Logf("%d frames, %d taken by their producers, %d handed off", producers*frames, took.Load(), handoffs.Load())
	if took.Load() == 0 {
		t.Fatal("no producer ever took the role: the test tested nothing")
	}
}

// A Kick, the consumer's done channel or Close while a producer holds the
// role: the consumer waits for the role before it touches the ring.
func TestCommitTakeConsumerWaitsForTheRole(t *testing.T) {
	r, err := New(Config{Size: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	woke := make(chan error, 1)
	done := make(chan struct{})
	go func() { woke <- r.Wait(done) }()
	// Let it park.
	deadline := time.Now().Add(5 * time.Second)
	for r.waitSeq.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("consumer did not park")
		}
		time.Sleep(time.Millisecond)
	}
	c, err := r.TryClaim(8)
	if err != nil {
		t.Fatal(err)
	}
	if !r.CommitTake(&c, func() bool { return true }) {
		t.Fatal("CommitTake did not take the role from a parked consumer")
	}
	r.Kick()
	close(done)
	select {
	case err := <-woke:
		t.Fatalf("Wait returned %v while a producer held the role", err)
	case <-time.After(50 * time.Millisecond):
	}
	_, n := r.Peek(make([][]byte, 0, 2))
	r.Sent(n)
	r.Return()
	select {
	case err := <-woke:
		if err != nil {
			t.Fatalf("Wait = %v after the role came back (kicked)", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return after Return")
	}
	// want false: an ordinary Commit that wakes the parked consumer.
	go func() { woke <- r.Wait(nil) }()
	deadline = time.Now().Add(5 * time.Second)
	for r.waitSeq.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("consumer did not park again")
		}
		time.Sleep(time.Millisecond)
	}
	c, _ = r.TryClaim(8)
	if r.CommitTake(&c, func() bool { return false }) {
		t.Fatal("CommitTake took the role though want said no")
	}
	select {
	case err := <-woke:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Commit did not wake the parked consumer")
	}
}
