package filestore

import (
	"flag"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fastpub/fastpub/store"
)

// BenchmarkAppend128 appends 128-byte frames from one producer, committing
// and persisting every 4096 as a client would, with the default limits:
// segments are deleted and made by the store's goroutine meanwhile.
func BenchmarkAppend128(b *testing.B) {
	for _, d := range []Durability{DurabilityNone, DurabilityGroup, DurabilityEveryPublish} {
		b.Run(d.String(), func(b *testing.B) {
			s, err := Open(b.TempDir(), "bench", Options{Durability: d})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			s.Recover(func(uint64, []byte) error { return nil })
			s.Begin(1, 0)
			fr := makeFrame(1, 128)
			b.SetBytes(int64(len(fr)))
			b.ReportAllocs()
			var ru0, ru1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			b.ResetTimer()
			seq, pos := uint64(1), uint64(0)
			for i := 0; i < b.N; i++ {
				s.Append(seq, pos, fr)
				seq++
				pos += uint64(len(fr))
				if seq%4096 == 0 {
					s.Committed(seq, pos)
					// The server persisted what was committed a batch ago.
					s.Persisted(seq-4097, pos-4096*uint64(len(fr)), seq-4097)
				}
			}
			b.StopTimer()
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			b.ReportMetric(float64(s.Stats().AppendWaits), "waits")
			b.ReportMetric(float64(ru1.Minflt-ru0.Minflt)/float64(b.N)*1000, "faults/kop")
		})
	}
}

// BenchmarkRecover1GiB opens (verifies) and recovers a store of 1 GiB of
// records of 128-byte payloads. It builds the store first (a few seconds,
// 3.5 GB of disk with the reserved segments), so it runs only when -bench
// names it.
func BenchmarkRecover1GiB(b *testing.B) {
	if f := flag.Lookup("test.bench"); f == nil || !strings.Contains(f.Value.String(), "Recover1GiB") {
		b.Skip("builds 1 GiB: run with -bench Recover1GiB")
	}
	dir := b.TempDir()
	o := Options{Limits: store.Limits{Bytes: store.MaxBytes, Messages: store.MaxMessages}}
	s, err := Open(dir, "bench", o)
	if err != nil {
		b.Fatal(err)
	}
	s.Recover(func(uint64, []byte) error { return nil })
	s.Begin(1, 0)
	fr := makeFrame(1, 132) // 4-byte prefix, 128-byte payload
	seq, pos, total := uint64(1), uint64(0), 0
	start := time.Now()
	for total < 1<<30 {
		s.Append(seq, pos, fr)
		seq++
		pos += uint64(len(fr))
		total += recHdr + len(fr)
	}
	s.Committed(seq, pos)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d records (%d bytes) in %v", seq-1, total, time.Since(start))
	b.SetBytes(int64(total))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		s, err := Open(dir, "bench", o)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		n := uint64(0)
		if _, err := s.Recover(func(uint64, []byte) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if n != seq-1 {
			b.Fatalf("recovered %d of %d", n, seq-1)
		}
		b.StopTimer()
		s.Close()
		b.Logf("Open (verify) %v, Recover (walk) %v", t1.Sub(t0), t2.Sub(t1))
		b.StartTimer()
	}
	b.StopTimer()
	os.RemoveAll(dir)
}
