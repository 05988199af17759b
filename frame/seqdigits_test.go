package frame

import (
	"math"
	"strconv"
	"sync"
	"testing"
)

// SeqDigits writes exactly what strconv does, for every length, with the
// cache cold, warm, and warm for another number's digits.
func TestSeqDigits(t *testing.T) {
	vals := []uint64{0, 1, 9, 10, 99, 12345678, 99999999, 100000000, 100000001, 199999999, 200000000,
		1764680000000000123, 1764680000099999999, 1764680000100000000, 9999999999999999999, 10000000000000000000, math.MaxUint64}
	for v := uint64(1); v < math.MaxUint64/10; v *= 10 {
		vals = append(vals, v-1, v, v+1)
	}
	var d SeqDigits
	for round := 0; round < 3; round++ { // cold, then warm for the previous value, then warm for this one
		for _, v := range vals {
			for _, x := range []uint64{v, v} {
				want := strconv.FormatUint(x, 10)
				b := make([]byte, len(want))
				d.Put(b, x)
				if string(b) != want {
					t.Fatalf("round %d: Put(%d) = %q, want %q", round, x, b, want)
				}
			}
		}
	}
	if n := testing.AllocsPerRun(1000, func() { var b [19]byte; d.Put(b[:], 1764680000000000123) }); n != 0 {
		t.Errorf("Put allocates %v", n)
	}
}

// Put panics on a buffer of the wrong length with PutUint's message, an
// empty or short one included, whether the cache is cold or warm.
func TestSeqDigitsWrongLength(t *testing.T) {
	const want = "frame: PutUint: the buffer is not the number's length"
	for _, warm := range []bool{false, true} {
		for _, tc := range []struct {
			n int
			x uint64
		}{{18, 1764680000000000123}, {0, 1764680000000000123}, {0, 5}, {3, 5}, {8, 123456789}} {
			var d SeqDigits
			if warm {
				var w [19]byte
				d.Put(w[:], 1764680000000000100)
			}
			func() {
				defer func() {
					if r := recover(); r != want {
						t.Errorf("warm %v, Put(%d bytes, %d): panic %v, want %q", warm, tc.n, tc.x, r, want)
					}
				}()
				b := make([]byte, tc.n)
				d.Put(b, tc.x)
			}()
		}
	}
}

// Many publishers share one SeqDigits across 10⁸ boundaries, each
// crossing them at its own pace, so that refreshes race with readers (run
// it under -race too): every number comes out exactly as strconv writes it.
func TestSeqDigitsConcurrent(t *testing.T) {
	var d SeqDigits
	const producers, perProducer = 8, 20000
	bases := []uint64{1764680000099990000, 1764680000199995000, 99999000, 9999999999999990000}
	var wg sync.WaitGroup
	errs := make(chan string, producers)
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			base := bases[p%len(bases)] + uint64(p)
			for i := uint64(0); i < perProducer; i++ {
				x := base + i*uint64(1+p%3)
				want := strconv.FormatUint(x, 10)
				var buf [20]byte
				b := buf[:len(want)]
				d.Put(b, x)
				if string(b) != want {
					errs <- "Put(" + want + ") = " + string(b)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// BenchmarkSeqDigits is SeqDigits.Put against PutUint for consecutive
// 19-digit sequence numbers.
func BenchmarkSeqDigits(b *testing.B) {
	b.ReportAllocs()
	var buf [19]byte
	x := uint64(1764680000000000123)
	b.Run("PutUint", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			PutUint(buf[:], x+uint64(i))
		}
	})
	b.Run("SeqDigits", func(b *testing.B) {
		b.ReportAllocs()
		var d SeqDigits
		for i := 0; i < b.N; i++ {
			d.Put(buf[:], x+uint64(i))
		}
	})
}
