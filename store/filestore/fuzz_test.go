package filestore

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/fastpub/fastpub/store"
)

// FuzzRecover opens a store whose segment 0, meta file or state file holds
// arbitrary bytes. Open and Recover must not panic or hang, and every
// record Recover returns must be one whose checksum (with its offset) is
// right, returned byte for byte.
func FuzzRecover(f *testing.F) {
	f.Add([]byte{}, byte(0))
	f.Add(bytes.Repeat([]byte{0xA3, 0xE5, 0xC7, 0xB1}, 64), byte(0))
	f.Fuzz(func(t *testing.T, data []byte, kind byte) {
		dir := t.TempDir()
		meta := encodeMeta("pub-1", MinSegmentBytes)
		switch kind % 3 {
		case 0:
			os.WriteFile(filepath.Join(dir, segFile(0)), data, 0o644)
		case 1:
			meta = data
		case 2:
			os.WriteFile(filepath.Join(dir, stateName), data, 0o644)
		}
		os.WriteFile(filepath.Join(dir, metaName), meta, 0o644)
		s, err := Open(dir, "pub-1", small())
		if err != nil {
			return
		}
		defer s.Close()
		// What Recover returns, against the spans' records checked here
		// from the raw bytes.
		type rec struct {
			seq   uint64
			frame []byte
		}
		var want []rec
		if kind%3 == 0 {
			raw := make([]byte, segHdr+MinSegmentBytes)
			copy(raw, data)
			for _, sp := range s.sc.spans {
				o := sp.start
				for seq := sp.first; seq <= sp.last; seq++ {
					h := raw[segHdr+o:]
					n := uint64(le.Uint32(h[16:]))
					var b [20]byte
					le.PutUint64(b[:], o)
					copy(b[8:], h[8:20])
					crc := crc32.Update(crc32.Checksum(b[:], castagoli), castagoli, h[recHdr:recHdr+n])
					if le.Uint32(h) != recMagic || le.Uint64(h[8:]) != seq || crc != le.Uint32(h[4:]) {
						t.Fatalf("record %d at %d does not check", seq, o)
					}
					if seq > s.rec.Persisted {
						want = append(want, rec{seq, h[recHdr : recHdr+n]})
					}
					o += recHdr + n
				}
				if o != sp.end {
					t.Fatalf("span %+v ends at %d", sp, o)
				}
			}
		}
		var got []rec
		_, err = s.Recover(func(seq uint64, frame []byte) error {
			if len(got) > 0 && seq <= got[len(got)-1].seq {
				t.Fatalf("seq %d after %d", seq, got[len(got)-1].seq)
			}
			got = append(got, rec{seq, append([]byte(nil), frame...)})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if kind%3 == 0 {
			if len(got) != len(want) {
				t.Fatalf("Recover returned %d records, the spans hold %d", len(got), len(want))
			}
			for i := range got {
				if got[i].seq != want[i].seq || !bytes.Equal(got[i].frame, want[i].frame) {
					t.Fatalf("record %d: got seq %d, want %d (or bytes differ)", i, got[i].seq, want[i].seq)
				}
			}
		}
		// The store works after any recovery.
		if err := s.Begin(s.sc.maxSeq+1, 0); err != nil {
			t.Fatal(err)
		}
		s.Append(s.sc.maxSeq+1, 0, []byte("abcd"))
	})
}

// TestWriteFuzzSeeds writes the seed corpus of FuzzRecover from real
// store files; run with FILESTORE_WRITE_SEEDS=1.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("FILESTORE_WRITE_SEEDS") == "" {
		t.Skip("set FILESTORE_WRITE_SEEDS=1 to rewrite testdata/fuzz/FuzzRecover")
	}
	dir := t.TempDir()
	st := writeStore(t, dir, 40, 12, map[uint64]bool{45: true})
	end := st.recOff(0, st.next)
	seg, _ := os.ReadFile(segPath(dir, 0))
	seg = seg[:segHdr+end]
	meta, _ := os.ReadFile(filepath.Join(dir, metaName))
	state, _ := os.ReadFile(filepath.Join(dir, stateName))
	corrupt := bytes.Clone(seg)
	corrupt[segHdr+st.recOff(0, 43)+recHdr+1] ^= 0x40
	torn := seg[:len(seg)-7]
	moved := append(make([]byte, segHdr), seg[segHdr+st.recOff(0, 41):]...) // records not at their offsets
	out := filepath.Join("testdata", "fuzz", "FuzzRecover")
	os.MkdirAll(out, 0o755)
	for name, c := range map[string]struct {
		b    []byte
		kind byte
	}{
		"segment": {seg, 0}, "segment-corrupt": {corrupt, 0}, "segment-torn": {torn, 0},
		"segment-moved": {moved, 0}, "meta": {meta, 1}, "meta-garbage": {[]byte("FPST\x01\x00\x00\x00garbage"), 1},
		"state": {state, 2},
	} {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nbyte(%q)\n", c.b, c.kind)
		if err := os.WriteFile(filepath.Join(out, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzDecodeLost decodes arbitrary bytes as a lost file: no panic, and what
// decodes is ordered ranges that encode back to the same bytes.
func FuzzDecodeLost(f *testing.F) {
	f.Add([]byte{})
	f.Add(encodeLost(nil))
	f.Add(encodeLost([]store.Range{{From: 1, To: 1}, {From: 5, To: 900}}))
	f.Add(encodeLost([]store.Range{{From: 9, To: 5}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeLost(data)
		if err != nil {
			return
		}
		for i, x := range r {
			if x.From > x.To || i > 0 && x.From <= r[i-1].To {
				t.Fatalf("decoded ranges out of order: %v", r)
			}
		}
		if !bytes.Equal(encodeLost(r), data) {
			t.Fatalf("%v encodes to other bytes than it decoded from", r)
		}
	})
}
