package bench

import (
	"flag"
	"fmt"
	"testing"
)

// The performance gate users put in their CI:
//
//	go test ./bench -run TestGate -v -gate.ratio 0.5 -gate.frames 2000000
//
// runs the ceiling and fastpub side by side for each payload size, prints the
// figures, and fails when fastpub allocates per message or when its rate
// falls below gate.ratio × the ceiling. With gate.ratio 0 (the default) only
// allocations are gated: that is what fastpub's own CI runs, since shared
// machines are too noisy for throughput thresholds.
var (
	gateRatio  = flag.Float64("gate.ratio", 0, "fail when fastpub's rate / the ceiling's is below this (0: do not gate throughput)")
	gateFrames = flag.Int("gate.frames", 200000, "messages per measurement")
	gateSizes  = flag.String("gate.sizes", "32,128,1024", "payload sizes in bytes, comma separated")
)

func TestGate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates: the allocation gate runs without -race")
	}
	var sizes []int
	for _, f := range splitComma(*gateSizes) {
		var n int
		if _, err := fmt.Sscan(f, &n); err != nil || n <= 0 {
			t.Fatalf("gate.sizes: bad size %q", f)
		}
		sizes = append(sizes, n)
	}
	frames := *gateFrames
	t.Logf("%-8s %16s %16s %8s %12s %6s", "payload", "ceiling msgs/s", "fastpub msgs/s", "ratio", "allocs/msg", "GCs")
	for _, size := range sizes {
		before, err := Ceiling("orders", size, frames)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Publish("orders", size, frames, 1)
		if err != nil {
			t.Fatal(err)
		}
		after, err := Ceiling("orders", size, frames)
		if err != nil {
			t.Fatal(err)
		}
		// The faster ceiling run counts, as in BenchmarkSideBySide.
		ceilRate := float64(frames) / min(before, after).Seconds()
		ratio := r.Rate() / ceilRate
		// Allocations are counted over the whole process during the run,
		// setup included (the test server's connection, the client's ring):
		// a per-message allocation shows as ≥ 1 per message.
		perMsg := float64(r.Allocs) / float64(frames)
		t.Logf("%-8s %16.0f %16.0f %8.3f %12.4f %6d", fmt.Sprintf("%dB", size), ceilRate, r.Rate(), ratio, perMsg, r.GCs)
		if perMsg >= 0.01 {
			t.Errorf("%d B: %.4f allocations per message, want 0", size, perMsg)
		}
		if *gateRatio > 0 && ratio < *gateRatio {
			t.Errorf("%d B: ratio %.3f to the ceiling is below the gate %.3f", size, ratio, *gateRatio)
		}
	}
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}
