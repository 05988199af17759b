package ring

import (
	"context"
	"strconv"
	"sync"
	"testing"
)

const benchFrame = 128

// BenchmarkClaimCommit is the uncontended producer cost: one goroutine
// claims, fills (copies 128 bytes) and commits 128-byte frames and drains the
// ring every 256 frames (the drain is amortised into ns/op). Claim returns
// the Claim by value; ClaimInto fills the caller's.
func BenchmarkClaimCommit(b *testing.B) {
	b.Run("api=Claim", func(b *testing.B) {
		benchClaimCommit(b, func(r *Ring, ctx context.Context, c *Claim) (err error) {
			*c, err = r.Claim(ctx, benchFrame)
			return err
		})
	})
	b.Run("api=ClaimInto", func(b *testing.B) {
		benchClaimCommit(b, func(r *Ring, ctx context.Context, c *Claim) error {
			return r.ClaimInto(ctx, c, benchFrame)
		})
	})
}

func benchClaimCommit(b *testing.B, claim func(*Ring, context.Context, *Claim) error) {
	r, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	frame := make([]byte, benchFrame)
	iov := make([][]byte, 0, 64)
	ctx := context.Background()
	b.SetBytes(benchFrame)
	b.ReportAllocs()
	b.ResetTimer()
	var c Claim
	for i := 0; i < b.N; i++ {
		if err := claim(r, ctx, &c); err != nil {
			b.Fatal(err)
		}
		copy(c.Buf, frame)
		r.Commit(&c)
		if i&255 == 255 {
			var n int
			iov, n = r.Peek(iov[:0])
			r.Release(n)
		}
	}
}

// BenchmarkRing: producers claim (ClaimInto), fill and commit 128-byte
// frames while one consumer goroutine drains with Wait, Peek and Release.
// Arena 4 MiB.
func BenchmarkRing(b *testing.B) {
	for _, p := range []int{1, 4} {
		b.Run("producers="+strconv.Itoa(p), func(b *testing.B) { benchRing(b, p) })
	}
}

func benchRing(b *testing.B, producers int) {
	r, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchFrame)
	b.ReportAllocs()
	want := b.N * benchFrame
	consumed := make(chan int, 1)
	go func() {
		iov := make([][]byte, 0, 1024)
		got, sum := 0, 0
		for got < want {
			if err := r.Wait(nil); err != nil {
				break
			}
			var n int
			iov, n = r.Peek(iov[:0])
			for _, s := range iov {
				sum += int(s[0]) // touch each segment, as a writev would
			}
			r.Release(n)
			got += n
		}
		_ = sum
		consumed <- got
	}()
	b.ResetTimer()
	runProducers(b.N, producers, func(count int) {
		frame := make([]byte, benchFrame)
		ctx := context.Background()
		var c Claim
		for i := 0; i < count; i++ {
			if err := r.ClaimInto(ctx, &c, benchFrame); err != nil {
				panic(err)
			}
			copy(c.Buf, frame)
			r.Commit(&c)
		}
	})
	if got := <-consumed; got != want {
		b.Fatalf("consumed %d bytes, want %d", got, want)
	}
}

// BenchmarkChan is the baseline for BenchmarkRing: the same producers copy
// each 128-byte frame into a fresh slot of a preallocated slab and send the
// slot on a buffered chan []byte with the same capacity in frames as the
// ring (4 MiB / 128); one consumer receives them.
func BenchmarkChan(b *testing.B) {
	for _, p := range []int{1, 4} {
		b.Run("producers="+strconv.Itoa(p), func(b *testing.B) { benchChan(b, p) })
	}
}

func benchChan(b *testing.B, producers int) {
	const capFrames = DefaultSize / benchFrame
	ch := make(chan []byte, capFrames)
	b.SetBytes(benchFrame)
	b.ReportAllocs()
	consumed := make(chan int, 1)
	go func() {
		got, sum := 0, 0
		for i := 0; i < b.N; i++ {
			s := <-ch
			sum += int(s[0])
			got += len(s)
		}
		_ = sum
		consumed <- got
	}()
	// Each producer owns a slab with more slots than can be in flight
	// (channel capacity + the one the consumer holds), so a slot is never
	// overwritten while it is still queued.
	slabs := make([][]byte, producers)
	for i := range slabs {
		slabs[i] = make([]byte, (capFrames+2)*benchFrame)
	}
	var next sync.Mutex // only to hand out slabs
	slab := 0
	b.ResetTimer()
	runProducers(b.N, producers, func(count int) {
		next.Lock()
		mine := slabs[slab]
		slab++
		next.Unlock()
		frame := make([]byte, benchFrame)
		slots := len(mine) / benchFrame
		idx := 0
		for i := 0; i < count; i++ {
			slot := mine[idx*benchFrame : (idx+1)*benchFrame : (idx+1)*benchFrame]
			copy(slot, frame)
			ch <- slot
			if idx++; idx == slots {
				idx = 0
			}
		}
	})
	if got := <-consumed; got != b.N*benchFrame {
		b.Fatalf("consumed %d bytes, want %d", got, b.N*benchFrame)
	}
}

// runProducers splits total frames over producers goroutines and waits.
func runProducers(total, producers int, produce func(count int)) {
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		count := total / producers
		if p < total%producers {
			count++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			produce(count)
		}()
	}
	wg.Wait()
}
