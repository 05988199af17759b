package frame

import (
	"math"
	"strconv"
	"testing"
)

// PutUint writes exactly what strconv does, for every length.
func TestPutUint(t *testing.T) {
	vals := []uint64{0, 1, 9, 10, 99, 100, 101, 999, 1000, 12345, 1764680000000000123, math.MaxUint64}
	for v := uint64(1); v < math.MaxUint64/10; v *= 10 {
		vals = append(vals, v-1, v, v+1)
	}
	for _, v := range vals {
		want := strconv.FormatUint(v, 10)
		b := make([]byte, len(want))
		PutUint(b, v)
		if string(b) != want {
			t.Errorf("PutUint(%d) = %q, want %q", v, b, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { var b [19]byte; PutUint(b[:], 1764680000000000123) }); n != 0 {
		t.Errorf("PutUint allocates %v", n)
	}
}
