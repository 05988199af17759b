package bench

import (
	"fmt"
	"slices"
	"testing"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/store"
	"github.com/fastpub/fastpub/store/filestore"
)

// fileLimits is the store of BenchmarkFileStoreSideBySide (both sides):
// small enough that every round recycles it many times, so that the file
// store's segments are made ready and deleted all along.
var fileLimits = store.Limits{Bytes: 8 << 20, Messages: 1 << 17}

// BenchmarkFileStoreSideBySide is the file store's cost against the memory
// store: for each payload size and durability mode, one producer publishes
// b.N messages with a file store in a temporary directory and b.N with a
// memory store of the same limits (8 MiB, 128 Ki messages), in interleaved
// rounds (-store.rounds) over two clients, each with a test server of its
// own; each round ends with PublishFlush (everything persisted). It reports
// the medians of each rate and of the per-round ratio file/memory, with its
// range. ns/op and allocs/op are the file-store rounds'.
//
//	go test -run '^$' -bench FileStoreSideBySide -benchtime 2000000x -count 3 ./bench/
func BenchmarkFileStoreSideBySide(b *testing.B) {
	for _, mode := range []filestore.Durability{filestore.DurabilityNone, filestore.DurabilityGroup} {
		for _, size := range sizes {
			b.Run(fmt.Sprintf("%v/%dB", mode, size), func(b *testing.B) {
				b.ReportAllocs()
				b.StopTimer()
				dir := b.TempDir()
				pairs, err := PairSideBySide("orders", size, b.N, *storeRounds, ampstest.Config{Persisted: persistMode()},
					func() (store.Store, error) { return store.NewMemory(fileLimits) },
					func() (store.Store, error) {
						return filestore.Open(dir, "bench-store-on", filestore.Options{Limits: fileLimits, Durability: mode})
					}, benchTiming(b))
				if err != nil {
					b.Fatal(err)
				}
				var mem, file, ratio []float64
				for _, p := range pairs {
					mem = append(mem, p.Off.Rate())
					file = append(file, p.On.Rate())
					ratio = append(ratio, p.Ratio())
				}
				b.ReportMetric(median(mem), "memory-msgs/s")
				b.ReportMetric(median(file), "file-msgs/s")
				b.ReportMetric(median(ratio), "file/memory")
				b.ReportMetric(slices.Min(ratio), "file/memory-min")
				b.ReportMetric(slices.Max(ratio), "file/memory-max")
			})
		}
	}
}

// TestFileStoreSideBySideMachinery runs BenchmarkFileStoreSideBySide's
// harness on a tiny scale (two rounds of 10,000 messages, group commit): the
// rounds' own checks (the server accepted every publish, persisted acks
// covered them all) must pass.
func TestFileStoreSideBySideMachinery(t *testing.T) {
	dir := t.TempDir()
	limits := store.Limits{Bytes: 1 << 20, Messages: 1 << 12}
	pairs, err := PairSideBySide("orders", 128, 20000, 2, ampstest.Config{},
		func() (store.Store, error) { return store.NewMemory(limits) },
		func() (store.Store, error) {
			return filestore.Open(dir, "bench-store-on", filestore.Options{Limits: limits, Durability: filestore.DurabilityGroup})
		}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pairs {
		if p.Off.Frames != 10000 || p.On.Frames != 10000 {
			t.Errorf("pair %d: %d and %d messages, want 10000 each", i, p.Off.Frames, p.On.Frames)
		}
		t.Logf("pair %d: memory %.0f msgs/s, file %.0f msgs/s, file/memory %.2f", i, p.Off.Rate(), p.On.Rate(), p.Ratio())
	}
}
