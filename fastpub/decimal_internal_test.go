package fastpub

import (
	"math"
	"strconv"
	"testing"
)

// putDecimal writes exactly what strconv does, for every length.
func TestPutDecimal(t *testing.T) {
	vals := []uint64{0, 1, 9, 10, 99, 100, 101, 999, 1000, 12345, 1764680000000000123, math.MaxUint64}
	for v := uint64(1); v < math.MaxUint64/10; v *= 10 {
		vals = append(vals, v-1, v, v+1)
	}
	for _, v := range vals {
		want := strconv.FormatUint(v, 10)
		b := make([]byte, len(want))
		putDecimal(b, v)
		if string(b) != want {
			t.Errorf("putDecimal(%d) = %q, want %q", v, b, want)
		}
	}
}

func BenchmarkPutDecimal(b *testing.B) {
	b.ReportAllocs()
	var buf [20]byte
	v := uint64(1764680000000000123)
	for i := 0; i < b.N; i++ {
		putDecimal(buf[:19], v+uint64(i))
	}
}
