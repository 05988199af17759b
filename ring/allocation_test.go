//go:build !race

package ring

import (
	"context"
	"errors"
	"runtime"
	"testing"
)

// The zero-allocation gates. The race detector allocates, hence the build
// tag.

func TestAllocsClaimCommitPeekRelease(t *testing.T) {
	tests := []struct {
		name   string
		n      int // frame size
		frames int // frames per cycle
	}{
		{"128-byte frames", 128, 8},
		{"100-byte frames wrap", 100, 7}, // 4096 % 100 != 0: claims cross the arena end
		{"external frames", 3000, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRing(t, Config{Size: MinSize, MaxInline: 1024, MaxExternal: 8192}, 0, 0)
			iov := make([][]byte, 0, 16)
			ctx := context.Background()
			wraps := 0
			cycle := func() {
				for i := 0; i < tt.frames; i++ {
					c, err := r.Claim(ctx, tt.n)
					if err != nil {
						panic(err)
					}
					if r.wraps(&c) {
						wraps++
					}
					c.Buf[0] = byte(c.Seq)
					r.Commit(&c)
				}
				if err := r.Wait(nil); err != nil {
					panic(err)
				}
				var n int
				iov, n = r.Peek(iov[:0])
				r.Release(n)
			}
			if got := testing.AllocsPerRun(2000, cycle); got != 0 {
				t.Fatalf("AllocsPerRun = %v, want 0", got)
			}
			if tt.name == "100-byte frames wrap" && wraps == 0 {
				t.Fatalf("no claim crossed the arena end")
			}
		})
	}
}

func TestAllocsTryClaimFull(t *testing.T) {
	r := newRing(t, Config{Size: MinSize}, 0, 0)
	fillUp(t, r)
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := r.TryClaim(64); !errors.Is(err, ErrFull) {
			panic(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("AllocsPerRun = %v, want 0", allocs)
	}
}

// TestAllocsBlockedClaim measures a Claim that parks on a full ring and is
// woken by Release from another goroutine.
func TestAllocsBlockedClaim(t *testing.T) {
	r := newRing(t, Config{Size: MinSize}, 0, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kick := make(chan struct{})
	ack := make(chan struct{})
	stop := make(chan struct{})
	defer close(stop)
	go func() { // the consumer: releases once the producer is parked
		iov := make([][]byte, 0, 16)
		for {
			select {
			case <-kick:
			case <-stop:
				return
			}
			for i := 0; i < 10_000_000 && r.waiters.Load() == 0; i++ {
				runtime.Gosched()
			}
			var n int
			iov, n = r.Peek(iov[:0])
			r.Release(n)
			ack <- struct{}{}
		}
	}()
	parked := 0
	cycle := func() {
		fillUp(t, r)
		kick <- struct{}{}
		c, err := r.Claim(ctx, 64)
		if err != nil {
			panic(err)
		}
		r.Commit(&c)
		<-ack
		parked++
	}
	if got := testing.AllocsPerRun(200, cycle); got != 0 {
		t.Fatalf("AllocsPerRun = %v, want 0", got)
	}
	if parked == 0 {
		t.Fatalf("no cycle ran")
	}
}

// TestAllocsParkedWait measures a Wait that parks and is woken by Commit
// from another goroutine.
func TestAllocsParkedWait(t *testing.T) {
	r := newRing(t, Config{Size: MinSize}, 0, 0)
	kick := make(chan struct{})
	stop := make(chan struct{})
	defer close(stop)
	go func() { // the producer: commits once the consumer is parked
		for {
			select {
			case <-kick:
			case <-stop:
				return
			}
			for i := 0; i < 10_000_000 && r.waitSeq.Load() == 0; i++ {
				runtime.Gosched()
			}
			c, err := r.TryClaim(64)
			if err != nil {
				panic(err)
			}
			r.Commit(&c)
		}
	}()
	iov := make([][]byte, 0, 16)
	cycle := func() {
		kick <- struct{}{}
		if err := r.Wait(nil); err != nil {
			panic(err)
		}
		var n int
		iov, n = r.Peek(iov[:0])
		r.Release(n)
	}
	if got := testing.AllocsPerRun(200, cycle); got != 0 {
		t.Fatalf("AllocsPerRun = %v, want 0", got)
	}
}
