package filestore

import (
	"runtime"
	"testing"
	"time"

	"github.com/fastpub/fastpub/store"
)

func TestDurabilityGroupInterval(t *testing.T) {
	o := small()
	o.Durability = DurabilityGroup
	o.SyncInterval = time.Millisecond
	s := mustOpen(t, t.TempDir(), o)
	defer s.Close()
	recoverAll(t, s)
	st := newStream(s, 100, 0)
	for round := 1; round <= 5; round++ {
		st.run(2, 50)
		want := st.next - 1
		waitFor(t, "DurableThrough to reach the commit", func() bool { return s.DurableThrough() == want })
	}
	if s.Stats().Syncs == 0 {
		t.Fatal("no syncs counted")
	}
}

func TestDurabilityGroupBytes(t *testing.T) {
	o := small()
	o.Durability = DurabilityGroup
	o.SyncInterval = 10 * time.Second // only the bytes can trigger it in time
	o.SyncBytes = 4096
	s := mustOpen(t, t.TempDir(), o)
	defer s.Close()
	recoverAll(t, s)
	st := newStream(s, 1, 0)
	// The first commit arms the interval; then SyncBytes worth more.
	st.run(1, 1)
	st.run(1, 200)
	waitFor(t, "a flush by size", func() bool { return s.DurableThrough() >= 2 })
}

func TestDurabilityEveryPublish(t *testing.T) {
	o := small()
	o.Durability = DurabilityEveryPublish
	s := mustOpen(t, t.TempDir(), o)
	defer s.Close()
	recoverAll(t, s)
	st := newStream(s, 1, 0)
	for i := range 20 {
		seq, pos, size := st.claim()
		s.Append(seq, pos, makeFrame(seq, size))
		if got := s.Stats().Syncs; got != uint64(i+1) {
			t.Fatalf("after %d appends %d syncs", i+1, got)
		}
	}
	s.Committed(st.next, st.pos)
	if s.DurableThrough() != 20 {
		t.Fatalf("DurableThrough %d, want 20", s.DurableThrough())
	}
}

func TestDurabilityNoneSyncs(t *testing.T) {
	s := mustOpen(t, t.TempDir(), small())
	defer s.Close()
	recoverAll(t, s)
	st := newStream(s, 1, 0)
	st.run(2, 100)
	time.Sleep(5 * time.Millisecond)
	if s.DurableThrough() != 0 || s.Stats().Syncs != 0 {
		t.Fatalf("none mode synced: %d, %+v", s.DurableThrough(), s.Stats())
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if s.DurableThrough() != 100 {
		t.Fatalf("DurableThrough after Sync %d", s.DurableThrough())
	}
}

// allocOptions leave room for 100k 128-byte appends without a new
// segment, so that the background goroutine has nothing to allocate.
func allocOptions() Options {
	return Options{Limits: store.Limits{Bytes: 8 << 20, Messages: 1 << 17}}
}

func TestAppendAllocatesNothing(t *testing.T) {
	for _, d := range []Durability{DurabilityNone, DurabilityGroup} {
		t.Run(d.String(), func(t *testing.T) {
			o := allocOptions()
			o.Durability = d
			s := mustOpen(t, t.TempDir(), o)
			defer s.Close()
			recoverAll(t, s)
			s.Begin(1, 0)
			fr := makeFrame(1, 132)
			seq, pos := uint64(1), uint64(0)
			next := func() {
				s.Append(seq, pos, fr)
				seq++
				pos += uint64(len(fr))
			}
			if a := testing.AllocsPerRun(1000, next); a != 0 {
				t.Fatalf("Append allocates %.2f per call", a)
			}
			const n = 100_000
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			for i := range n {
				next()
				if i%1024 == 0 {
					s.Committed(seq, pos)
				}
			}
			runtime.ReadMemStats(&m1)
			// The whole process: the background goroutine too (timers,
			// syncs). One allocation per Append would be 100,000.
			if d := m1.Mallocs - m0.Mallocs; d > 64 {
				t.Fatalf("%d allocations over %d Appends", d, n)
			}
		})
	}
}

// TestRotationAllocatesNothing: with the client's pattern (commit and
// persist as it goes), persisted segments are recycled into the segments
// ahead, hundreds of times, and nothing in the process allocates.
func TestRotationAllocatesNothing(t *testing.T) {
	for _, d := range []Durability{DurabilityNone, DurabilityGroup} {
		t.Run(d.String(), func(t *testing.T) {
			o := small()
			o.Durability = d
			dir := t.TempDir()
			s := mustOpen(t, dir, o)
			defer s.Close()
			recoverAll(t, s)
			s.Begin(1, 0)
			fr := makeFrame(1, 128)
			seq, pos := uint64(1), uint64(0)
			run := func(n int) {
				for range n {
					s.Append(seq, pos, fr)
					seq++
					pos += uint64(len(fr))
					if seq%256 == 0 {
						s.Committed(seq, pos)
						s.Persisted(seq-1, pos, seq-1)
					}
				}
				// Let the store's goroutine catch up.
				want := s.off(seq, pos)>>s.shift + 1
				waitFor(t, "rotation", func() bool {
					s.mu.Lock()
					defer s.mu.Unlock()
					return s.lowIdx+s.ahead == s.headIdx && s.lowIdx+1 >= want
				})
			}
			run(20_000) // warm up: timers, the mmapper's map
			files := len(segFiles(t, dir))
			low := s.lowIdx
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			run(100_000) // 14.8 MB: 225 segments of 64 KiB recycled
			runtime.ReadMemStats(&m1)
			s.mu.Lock()
			rotated := s.lowIdx - low
			s.mu.Unlock()
			if rotated < 200 {
				t.Fatalf("only %d segments rotated", rotated)
			}
			// A producer that outruns the goroutine waits (parks), and a
			// park may allocate: the bound allows a few.
			if d := m1.Mallocs - m0.Mallocs; d > 64 {
				t.Fatalf("%d allocations over %d rotations (%d append waits)", d, rotated, s.Stats().AppendWaits)
			}
			t.Logf("%d rotations, %d allocations, %d append waits", rotated, m1.Mallocs-m0.Mallocs, s.Stats().AppendWaits)
			if got := len(segFiles(t, dir)); got != files {
				t.Fatalf("%d segment files, had %d", got, files)
			}
		})
	}
}
