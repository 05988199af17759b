package filestore

import (
	"hash/crc32"
	"math"
	"slices"
	"testing"

	"github.com/fastpub/fastpub/store"
)

func TestRecCRCMatchesCRC32C(t *testing.T) {
	for _, c := range []struct {
		off, seq uint64
		n        uint32
	}{{0, 0, 0}, {1, 2, 3}, {1 << 40, 1<<63 + 5, 1<<31 + 7}} {
		var b [20]byte
		le.PutUint64(b[0:], c.off)
		le.PutUint64(b[8:], c.seq)
		le.PutUint32(b[16:], c.n)
		if got, want := recCRC(c.off, c.seq, c.n), crc32.Checksum(b[:], castagoli); got != want {
			t.Fatalf("recCRC%v = %x, want %x", c, got, want)
		}
	}
}

func TestSegFileNames(t *testing.T) {
	for _, idx := range []uint64{0, 1, 0xabcdef, 1<<64 - 1} {
		if got, ok := parseSegFile(segFile(idx)); !ok || got != idx {
			t.Fatalf("parseSegFile(%s) = %d, %v", segFile(idx), got, ok)
		}
	}
	for _, bad := range []string{"seg-", "seg-000000000000000g", "meta", "seg-00000000000000001"} {
		if _, ok := parseSegFile(bad); ok {
			t.Fatalf("parseSegFile(%q) ok", bad)
		}
	}
}

func TestMergeRanges(t *testing.T) {
	r := func(v ...uint64) []store.Range {
		var out []store.Range
		for i := 0; i < len(v); i += 2 {
			out = append(out, store.Range{From: v[i], To: v[i+1]})
		}
		return out
	}
	for _, tc := range []struct{ a, b, want []store.Range }{
		{nil, nil, nil},
		{r(1, 3), nil, r(1, 3)},
		{r(1, 3), r(4, 6), r(1, 6)},       // adjacent
		{r(1, 3), r(2, 9), r(1, 9)},       // overlapping
		{r(5, 6), r(1, 2), r(1, 2, 5, 6)}, // apart, out of order
		{r(1, 1), r(1, 1), r(1, 1)},       // the same
		{r(10, math.MaxUint64), r(3, 4, 12, 20), r(3, 4, 10, math.MaxUint64)},
	} {
		if got := mergeRanges(tc.a, tc.b); !slices.Equal(got, tc.want) {
			t.Errorf("mergeRanges(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// A lost file decodes whatever its number of ranges: the first version
// refused more than 2²⁰ on reading and wrote any number, so damage in more
// places than that made every later Open fail (found by a review).
func TestLostFileManyRanges(t *testing.T) {
	r := make([]store.Range, 1<<20+2)
	for i := range r {
		r[i] = store.Range{From: uint64(4*i + 2), To: uint64(4*i + 3)}
	}
	got, err := decodeLost(encodeLost(r))
	if err != nil || !slices.Equal(got, r) {
		t.Fatalf("decodeLost(encodeLost(%d ranges)) = %d ranges, %v", len(r), len(got), err)
	}
}
