package ring

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestManyProducers runs several producers against one consumer that
// releases random partial amounts. Every frame carries its Seq, its End, its
// producer id and a per-producer counter; the consumer checks every frame
// arrives exactly once, each producer's frames in order, Seq gapless in
// stream order, End equal to the frame's stream end, and every byte.
func TestManyProducers(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		producers int
		frames    int // per producer
		minSize   int
		maxSize   int
		extEvery  int // every extEvery-th frame of a producer is external (0: none)
		extMax    int
		pos, seq  uint64
		tryClaim  bool // use TryClaim + Gosched instead of Claim
	}{
		{
			name: "8x20000 inline", cfg: Config{Size: 16 << 10},
			producers: 8, frames: 20_000, minSize: frameHdr, maxSize: 120,
		},
		{
			name: "oversized interleaved", cfg: Config{Size: 8 << 10, MaxInline: 512, MaxExternal: 16 << 10},
			producers: 6, frames: 8_000, minSize: frameHdr, maxSize: 300, extEvery: 7, extMax: 12 << 10,
		},
		{
			name: "across word truncation", cfg: Config{Size: 4 << 10, MaxInline: 256, MaxExternal: 4 << 10},
			producers: 4, frames: 10_000, minSize: frameHdr, maxSize: 200, extEvery: 13, extMax: 6 << 10,
			pos: 1<<posBits - 100_000, seq: 1<<seqBits - 1000,
		},
		{
			name: "frame bound", cfg: Config{Size: 64 << 10, MaxFrames: 256},
			producers: 6, frames: 8_000, minSize: frameHdr, maxSize: 60,
		},
		{
			name: "try claim", cfg: Config{Size: 4 << 10},
			producers: 3, frames: 5_000, minSize: frameHdr, maxSize: 100, tryClaim: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runStress(t, tt.cfg, tt.producers, tt.frames, tt.minSize, tt.maxSize, tt.extEvery, tt.extMax, tt.pos, tt.seq, tt.tryClaim)
		})
	}
}

func runStress(t *testing.T, cfg Config, producers, frames, minSize, maxSize, extEvery, extMax int, pos, seq uint64, tryClaim bool) {
	t.Helper()
	r := newRing(t, cfg, pos, seq)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	maxInline := cfg.MaxInline
	if maxInline == 0 {
		maxInline = cfg.Size / 16
	}

	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func(pid int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(pid) + 1))
			for i := 0; i < frames; i++ {
				n := minSize + rng.Intn(maxSize-minSize+1)
				if extEvery > 0 && i%extEvery == extEvery-1 {
					n = maxInline + 1 + rng.Intn(extMax-maxInline)
				}
				var c Claim
				var err error
				if tryClaim {
					for k := 0; k < 10_000_000; k++ {
						c, err = r.TryClaim(n)
						if !errors.Is(err, ErrFull) || ctx.Err() != nil {
							break
						}
						time.Sleep(time.Duration(k%2) * time.Microsecond)
					}
				} else if pid%2 == 0 {
					c, err = r.Claim(ctx, n)
				} else {
					err = r.ClaimInto(ctx, &c, n)
				}
				if err != nil {
					errs <- fmt.Errorf("producer %d frame %d: Claim(%d): %w", pid, i, n, err)
					return
				}
				if len(c.Buf) != n {
					errs <- fmt.Errorf("producer %d: claimed %d bytes, want %d", pid, len(c.Buf), n)
					r.Commit(&c)
					return
				}
				encodeFrame(c.Buf, &c, uint8(pid), uint32(i))
				if rng.Intn(16) == 0 {
					runtime.Gosched() // let later claims commit first
				}
				r.Commit(&c)
			}
		}(p)
	}
	go func() {
		wg.Wait()
		r.Close()
	}()

	chk := newStreamChecker(producers, pos, seq)
	rng := rand.New(rand.NewSource(99))
	iov := make([][]byte, 0, 16)
	seen := pos // stream position fed to the checker so far
	total := producers * frames
	for loops := 0; loops < 50_000_000; loops++ {
		err := r.Wait(ctx.Done())
		if errors.Is(err, ErrClosed) {
			break
		}
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
		var covered int
		iov, covered = r.Peek(iov[:0])
		if covered == 0 {
			t.Fatalf("Wait returned nil but Peek covered nothing")
		}
		// Feed only the bytes not seen before (earlier Peeks may have covered
		// bytes that were not released).
		skip := int(seen - r.Released())
		for _, b := range iov {
			if skip >= len(b) {
				skip -= len(b)
				continue
			}
			if err := chk.feed(b[skip:]); err != nil {
				t.Fatal(err)
			}
			skip = 0
		}
		seen = r.Released() + uint64(covered)
		// Release a random part, sometimes all.
		k := covered
		if rng.Intn(3) != 0 {
			k = 1 + rng.Intn(covered)
		}
		r.Release(k)
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if ctx.Err() != nil {
		t.Fatalf("stress run timed out after %d frames", chk.frames)
	}
	if chk.frames != total {
		t.Fatalf("consumer saw %d frames, want %d", chk.frames, total)
	}
	for pid, n := range chk.next {
		if int(n) != frames {
			t.Fatalf("producer %d: %d frames seen, want %d", pid, n, frames)
		}
	}
	if len(chk.buf) != 0 {
		t.Fatalf("%d trailing bytes", len(chk.buf))
	}
	if r.Released() != r.Claimed() || r.extUse.Load() != 0 {
		t.Fatalf("end state: claimed %d released %d extUse %#x", r.Claimed(), r.Released(), r.extUse.Load())
	}
	if r.Len() != 0 {
		t.Fatalf("Len() = %d after draining", r.Len())
	}
}
