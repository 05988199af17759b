package ring

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// modelFrame is one frame the retain tests expect in the ring.
type modelFrame struct {
	seq  uint64
	data []byte
}

// TestRetainModel drives a Retain ring from one goroutine through random
// claims (inline, wrapping, external), partial sends, discards, rewinds and
// AppendFrame reads, checking every byte against a model. The start cursors
// sit just below the claim word's truncation boundaries.
func TestRetainModel(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		for _, start := range [][2]uint64{{0, 0}, {1<<36 - 5000, 1<<27 - 300}} {
			rng := rand.New(rand.NewPCG(seed, start[0]))
			r := newRing(t, Config{Size: MinSize, MaxInline: 512, MaxExternal: 8 << 10, MaxFrames: 256, Retain: true}, start[0], start[1])
			var frames []modelFrame       // unreleased, in order
			sentIdx, sentOff := 0, 0      // send cursor: frame index into frames, offset in it
			ever := uint64(0)             // frames ever sent whole (the Seq after the last), across rewinds
			seqAt := func(i int) uint64 { // the Seq of model frame i, or the next one to claim
				if i < len(frames) {
					return frames[i].seq
				}
				return r.ClaimedSeq()
			}
			iov := make([][]byte, 0, 16)
			for step := 0; step < 4000; step++ {
				switch op := rng.IntN(10); {
				case op < 5: // claim and commit
					n := 1 + rng.IntN(300)
					if rng.IntN(20) == 0 {
						n = 600 + rng.IntN(3000) // external
					}
					var c Claim
					if err := r.TryClaimInto(&c, n); err != nil {
						continue // full
					}
					for i := range c.Buf {
						c.Buf[i] = byte(rng.Uint32())
					}
					if len(frames) > 0 && c.Seq != frames[len(frames)-1].seq+1 {
						t.Fatalf("step %d: seq %d after %d", step, c.Seq, frames[len(frames)-1].seq)
					}
					frames = append(frames, modelFrame{seq: c.Seq, data: append([]byte(nil), c.Buf...)})
					r.Commit(&c)
				case op < 7: // peek and send a random part
					var n int
					iov, n = r.Peek(iov[:0])
					var want []byte
					for i := sentIdx; i < len(frames); i++ {
						d := frames[i].data
						if i == sentIdx {
							d = d[sentOff:]
						}
						want = append(want, d...)
					}
					got := bytes.Join(iov, nil)
					if len(iov) < cap(iov) && !bytes.Equal(got, want) {
						t.Fatalf("seed %d step %d: Peek returned %d bytes, want %d (equal prefix: %v)", seed, step, len(got), len(want), bytes.HasPrefix(want, got))
					}
					if !bytes.HasPrefix(want, got) {
						t.Fatalf("seed %d step %d: Peek bytes are not the unsent stream", seed, step)
					}
					k := n
					if rng.IntN(2) == 0 && n > 0 {
						k = rng.IntN(n + 1)
					}
					r.Sent(k)
					for k > 0 {
						left := len(frames[sentIdx].data) - sentOff
						if k < left {
							sentOff += k
							break
						}
						k -= left
						sentIdx, sentOff = sentIdx+1, 0
					}
					ever = max(ever, seqAt(sentIdx))
				case op < 8: // discard through a random sent frame (an ack)
					if sentIdx == 0 {
						continue
					}
					i := rng.IntN(sentIdx)
					r.DiscardThrough(frames[i].seq)
					frames = frames[i+1:]
					sentIdx -= i + 1
					if r.ReleasedSeq() != frames0Seq(frames, r) {
						t.Fatalf("step %d: ReleasedSeq %d", step, r.ReleasedSeq())
					}
				case op < 9: // a reconnect: send everything unreleased again
					r.Rewind()
					sentIdx, sentOff = 0, 0
				default: // read a random unreleased frame back
					if len(frames) == 0 {
						continue
					}
					r.Peek(iov[:0]) // let the consumer see every commit
					if size, sent, ok := r.Head(); !ok || size != len(frames[0].data) || sent != (sentIdx > 0) {
						t.Fatalf("seed %d step %d: Head() = %d, %v, %v; want %d, %v, true", seed, step, size, sent, ok, len(frames[0].data), sentIdx > 0)
					}
					if got, want := r.SentEver(), max(ever, r.ReleasedSeq()); got != want {
						t.Fatalf("seed %d step %d: SentEver() = %d, want %d", seed, step, got, want)
					}
					f := frames[rng.IntN(len(frames))]
					got, ok := r.AppendFrame(nil, f.seq)
					if !ok || !bytes.Equal(got, f.data) {
						t.Fatalf("seed %d step %d: AppendFrame(%d) = %d bytes %v, want %d", seed, step, f.seq, len(got), ok, len(f.data))
					}
				}
			}
			// Discard everything: the ring is empty and fully reusable.
			r.Peek(iov[:0])
			if len(frames) > 0 {
				r.DiscardThrough(frames[len(frames)-1].seq)
			}
			if _, _, ok := r.Head(); ok {
				t.Fatal("Head() ok on an empty ring")
			}
			if r.Released() != r.Claimed() || r.extUse.Load() != 0 || r.Len() != 0 {
				t.Fatalf("end: claimed %d released %d extUse %#x len %d", r.Claimed(), r.Released(), r.extUse.Load(), r.Len())
			}
		}
	}
}

// frames0Seq is the seq of the first model frame, or the ring's claimed
// count when none is left.
func frames0Seq(frames []modelFrame, r *Ring) uint64 {
	if len(frames) == 0 {
		return r.ClaimedSeq()
	}
	return frames[0].seq
}

// TestSentFreesWholeFrames: without Retain, a partial send frees the frames
// it covers completely and keeps the one it cut, so Rewind sends that frame
// again from its first byte.
func TestSentFreesWholeFrames(t *testing.T) {
	r := newRing(t, Config{Size: MinSize}, 0, 0)
	for seq := 0; seq < 3; seq++ {
		c, err := r.TryClaim(10)
		if err != nil {
			t.Fatal(err)
		}
		fillPattern(c.Buf, c.Seq)
		r.Commit(&c)
	}
	_, n := r.Peek(make([][]byte, 0, 4))
	if n != 30 {
		t.Fatalf("Peek %d bytes", n)
	}
	r.Sent(15) // frame 0 whole, half of frame 1
	if r.Released() != 10 || r.ReleasedSeq() != 1 || r.SendPos() != 15 {
		t.Fatalf("after Sent(15): released %d (%d frames), sent %d; want 10, 1, 15", r.Released(), r.ReleasedSeq(), r.SendPos())
	}
	iov, n := r.Peek(make([][]byte, 0, 4))
	if n != 15 || iov[0][0] != pattern(1, 5) {
		t.Fatalf("Peek after a partial send: %d bytes", n)
	}
	r.Rewind()
	iov, n = r.Peek(iov[:0])
	if n != 20 || iov[0][0] != pattern(1, 0) {
		t.Fatalf("Peek after Rewind: %d bytes, first %#x; want 20 from frame 1's start", n, iov[0][0])
	}
	r.Sent(n)
	if r.Released() != 30 || r.ReleasedSeq() != 3 {
		t.Fatalf("after sending all: released %d (%d frames)", r.Released(), r.ReleasedSeq())
	}
}

// TestKickWakesWait: Kick makes a parked Wait return with nothing to send.
func TestKickWakesWait(t *testing.T) {
	r := newRing(t, Config{Size: MinSize}, 0, 0)
	done := make(chan error, 1)
	go func() { done <- r.Wait(nil) }()
	if !waitFor(5*time.Second, func() bool { return r.waitSeq.Load() != 0 }) {
		t.Fatal("Wait did not park")
	}
	r.Kick()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait after Kick = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Kick did not wake Wait")
	}
	// A kick before Wait is not lost either.
	r.Kick()
	if err := r.Wait(nil); err != nil {
		t.Fatal(err)
	}
}

// TestRetainConcurrent: producers publish into a small Retain ring while the
// consumer sends, rewinds now and then (a reconnect) and discards what a
// simulated server has received whole, in order, deduplicating by seq as AMPS
// does. Every frame must arrive exactly once, in seq order, intact.
func TestRetainConcurrent(t *testing.T) {
	const producers, perProducer = 4, 20000
	r := newRing(t, Config{Size: 16 << 10, MaxInline: 1 << 10, MaxFrames: 512, Retain: true}, 0, 0)
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := 0; i < perProducer; i++ {
				n := frameHdr + (i*7+p)%200
				if i%997 == 0 {
					n = 2000 // external
				}
				c, err := r.Claim(context.Background(), n)
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				encodeFrame(c.Buf, &c, uint8(p), uint32(i))
				r.Commit(&c)
			}
		}(p)
	}
	go func() { wg.Wait(); r.Close() }()

	rng := rand.New(rand.NewPCG(7, 7))
	var stream []byte // what the "server" has received since the last rewind
	var nextSeq uint64
	received := 0
	iov := make([][]byte, 0, 64)
	deadline := time.Now().Add(60 * time.Second)
	for loops := 0; ; loops++ {
		if time.Now().After(deadline) || loops > 50_000_000 {
			t.Fatalf("timed out: %d frames received", received)
		}
		if err := r.Wait(nil); err != nil {
			break
		}
		var n int
		iov, n = r.Peek(iov[:0])
		if n == 0 {
			continue
		}
		k := n
		if rng.IntN(3) == 0 {
			k = rng.IntN(n + 1)
		}
		r.Sent(k)
		for _, s := range iov {
			if k == 0 {
				break
			}
			m := min(k, len(s))
			stream = append(stream, s[:m]...)
			k -= m
		}
		// The server parses whole frames, drops duplicates, acks the last.
		for len(stream) >= 4 {
			fl := int(uint32(stream[0]) | uint32(stream[1])<<8 | uint32(stream[2])<<16 | uint32(stream[3])<<24)
			if len(stream) < fl {
				break
			}
			f := stream[:fl]
			seq := leUint64(f[4:])
			if seq >= nextSeq {
				if seq != nextSeq {
					t.Fatalf("frame %d arrived after %d: a gap", seq, nextSeq-1)
				}
				checkFrame(t, f)
				nextSeq++
				received++
			}
			stream = stream[fl:]
			if rng.IntN(8) == 0 {
				r.DiscardThrough(seq)
			}
		}
		if rng.IntN(50) == 0 { // reconnect: the partial frame is lost
			stream = stream[:0]
			r.Rewind()
		}
	}
	if received != producers*perProducer {
		t.Fatalf("received %d frames, want %d", received, producers*perProducer)
	}
}

func leUint64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// checkFrame verifies a stress frame's fill bytes.
func checkFrame(t *testing.T, f []byte) {
	t.Helper()
	seq := leUint64(f[4:])
	for i := frameHdr; i < len(f); i++ {
		if f[i] != fillFill(i, seq) {
			t.Fatalf("frame %d byte %d corrupt", seq, i)
		}
	}
}

func TestDecimalLen(t *testing.T) {
	for v, want := uint64(1), 1; ; v, want = v*10, want+1 {
		if got := DecimalLen(v); got != want {
			t.Fatalf("DecimalLen(%d) = %d, want %d", v, got, want)
		}
		if got := DecimalLen(v - 1); v > 1 && got != want-1 {
			t.Fatalf("DecimalLen(%d) = %d, want %d", v-1, got, want-1)
		}
		if v > 1e18 {
			break
		}
	}
	if DecimalLen(0) != 1 || DecimalLen(^uint64(0)) != 20 || DecimalLen(1e19) != 20 || DecimalLen(1e19-1) != 19 {
		t.Fatalf("DecimalLen edge cases: %d %d %d %d", DecimalLen(0), DecimalLen(^uint64(0)), DecimalLen(1e19), DecimalLen(1e19-1))
	}
}

// TestNumberedClaims: a numbered claim's size counts the digits of base+Seq
// for its own Seq, across a power of ten, inline and external.
func TestNumberedClaims(t *testing.T) {
	r := newRing(t, Config{Size: MinSize, MaxInline: 256}, 0, 0)
	const base = 95
	for i := 0; i < 10; i++ {
		n := 10
		if i%3 == 2 {
			n = 400 // external
		}
		var c Claim
		if err := r.TryClaimNumberedInto(&c, n, base); err != nil {
			t.Fatal(err)
		}
		want := n + DecimalLen(base+c.Seq)
		if len(c.Buf) != want || c.End-c.start != uint64(want) {
			t.Fatalf("claim %d (seq %d): %d bytes, want %d", i, c.Seq, len(c.Buf), want)
		}
		r.Commit(&c)
	}
	_, n := r.Peek(make([][]byte, 0, 16))
	r.Sent(n)
	if r.extUse.Load() != 0 || r.Released() != r.Claimed() {
		t.Fatalf("external budget %#x after release; released %d claimed %d", r.extUse.Load(), r.Released(), r.Claimed())
	}
}

// TestReopen: a closed ring reopens with its unsent frames in place.
func TestReopen(t *testing.T) {
	r := newRing(t, Config{Size: MinSize}, 0, 0)
	c, _ := r.TryClaim(5)
	fillPattern(c.Buf, c.Seq)
	r.Commit(&c)
	r.Close()
	if _, err := r.TryClaim(5); !errors.Is(err, ErrClosed) {
		t.Fatalf("claim after Close = %v", err)
	}
	r.Reopen()
	c, err := r.TryClaim(5)
	if err != nil {
		t.Fatalf("claim after Reopen = %v", err)
	}
	fillPattern(c.Buf, c.Seq)
	r.Commit(&c)
	iov, n := r.Peek(make([][]byte, 0, 4))
	if n != 10 || iov[0][0] != pattern(0, 0) || iov[0][5] != pattern(1, 0) {
		t.Fatalf("Peek after Reopen: %d bytes", n)
	}
	r.Close()
	r.Sent(n)
	if err := r.Wait(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Wait on a drained closed ring = %v", err)
	}
}
