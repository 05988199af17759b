package filestore

import (
	"hash/crc32"
	"testing"
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
