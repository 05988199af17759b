package loadreport

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// run makes a report of n values drawn from a log-normal-ish spread, and
// returns it with its raw values.
func run(t *testing.T, id string, seed uint64, n int, startMs int64) (*Report, []int64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	wire, enq := NewHistogram(), NewHistogram()
	var vals []int64
	for i := 0; i < n; i++ {
		v := int64(1000 * (1 + rng.ExpFloat64()*50*float64(1+rng.IntN(20))))
		vals = append(vals, v)
		Record(wire, v)
		Record(enq, v/10)
	}
	r := &Report{Tool: "loadgen", ReportVersion: Version, Run: id, StartUnixMs: startMs, Messages: uint64(n) * 64,
		Duration: 2, Workload: Workload{Interval: 1, Connections: 1}, Machine: Machine{Hostname: "host-" + id},
		Timeline: Timeline{{0, 0}, {1.003, uint64(n) * 32}, {2.004, uint64(n) * 64}}}
	r.Latency.Wire = NewStats(WireName, "w", wire)
	r.Latency.Publish = NewStats(EnqueueName, "e", enq)
	r.Finish()
	return r, vals
}

// roundTrip writes r as JSON to dir and reads it back, as `loadgen merge`
// would.
func roundTrip(t *testing.T, dir string, r *Report) *Report {
	t.Helper()
	path := filepath.Join(dir, r.Run+".json")
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSONFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return back
}

func samePercentiles(t *testing.T, what string, got *Stats, want *hdrhistogram.Histogram) {
	t.Helper()
	if got == nil || got.Count != want.TotalCount() {
		t.Fatalf("%s: %+v, want %d values", what, got, want.TotalCount())
	}
	for _, q := range []float64{0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100} {
		if g, w := got.Hist.ValueAtQuantile(q), want.ValueAtQuantile(q); g != w {
			t.Errorf("%s: p%v = %d, union's %d", what, q, g, w)
		}
	}
	if got.P50 != want.ValueAtQuantile(50) || got.P99 != want.ValueAtQuantile(99) || got.P999 != want.ValueAtQuantile(99.9) ||
		got.Max != want.Max() || got.Min != want.Min() {
		t.Errorf("%s: summary %+v", what, got)
	}
}

// TestMergeEqualsUnion: merging two runs' reports gives the same
// percentiles as one histogram of the union of their values.
func TestMergeEqualsUnion(t *testing.T) {
	dir := t.TempDir()
	a, va := run(t, "0000000a", 1, 20000, 1_700_000_000_000)
	b, vb := run(t, "0000000b", 2, 30000, 1_700_000_000_500)
	union := NewHistogram()
	for _, v := range append(va, vb...) {
		Record(union, v)
	}
	m, err := Merge([]*Report{roundTrip(t, dir, a), roundTrip(t, dir, b)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	samePercentiles(t, "merged reports", m.Latency.Wire, union)
	if m.Messages != a.Messages+b.Messages || len(m.Merged.Runs) != 2 || !m.OK {
		t.Errorf("messages %d runs %v ok %v %v", m.Messages, m.Merged.Runs, m.OK, m.Failures)
	}
	// Side by side for 2.5 s: the span, not the sum of durations.
	if m.Duration != 2.5 || m.MsgsPerSec != float64(m.Messages)/2.5 {
		t.Errorf("duration %v msgs/s %v", m.Duration, m.MsgsPerSec)
	}
	// a started half a second before b: a's ticks at 1 s and 2 s, b's at
	// 1.5 s and 2.5 s, each a moment late as real ticks are.
	if len(m.Timeline) != 4 || m.Timeline[1].Messages != a.Messages/2 {
		t.Errorf("timeline %v", m.Timeline)
	}
	if last := m.Timeline[len(m.Timeline)-1]; last.Messages != m.Messages {
		t.Errorf("timeline ends at %d messages, want %d: %v", last.Messages, m.Messages, m.Timeline)
	}
	if !strings.Contains(strings.Join(m.Merged.Machines, ","), "host-0000000a") {
		t.Errorf("machines %v", m.Merged.Machines)
	}
	var txt bytes.Buffer
	m.WriteText(&txt)
	if !strings.Contains(txt.String(), "2 runs merged") {
		t.Errorf("text:\n%s", txt.String())
	}
}

// writeLog writes an interval log as loadgen --hlog does: the values in
// intervals of 1000, tagged wire.
func writeLog(t *testing.T, path, runID string, vals []int64, startMs int64) {
	t.Helper()
	var buf bytes.Buffer
	w := hdrhistogram.NewHistogramLogWriter(&buf)
	base := startMs - startMs%1000
	w.SetBaseTime(base)
	w.OutputLogFormatVersion()
	w.OutputComment("[loadgen run " + runID + ", report_version 2]")
	w.OutputStartTime(startMs)
	w.OutputBaseTime(base)
	w.OutputLegend()
	for i := 0; i < len(vals); i += 1000 {
		h := NewHistogram()
		for _, v := range vals[i:min(i+1000, len(vals))] {
			Record(h, v)
		}
		h.SetTag("wire")
		h.SetStartTimeMs(startMs + int64(i))
		h.SetEndTimeMs(startMs + int64(i) + 1000)
		if err := w.OutputIntervalHistogram(h); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMergeLogs: interval logs merge to the union too; a log that
// accompanies its run's report must agree with it and is not added twice.
func TestMergeLogs(t *testing.T) {
	dir := t.TempDir()
	a, va := run(t, "0000000a", 3, 5000, 1_700_000_000_000)
	_, vb := run(t, "0000000b", 4, 7000, 1_700_000_000_000)
	pa, pb := filepath.Join(dir, "a.hlog"), filepath.Join(dir, "b.hlog")
	writeLog(t, pa, "0000000a", va, a.StartUnixMs)
	writeLog(t, pb, "0000000b", vb, a.StartUnixMs)
	la, err := ReadLog(pa)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := ReadLog(pb)
	if err != nil {
		t.Fatal(err)
	}
	if la.Run != "0000000a" || len(la.Intervals) != 5 || la.Intervals[0].Tag() != "wire" || la.Intervals[1].StartTimeMs() != a.StartUnixMs+1000 {
		t.Fatalf("log %+v, first interval starts %d", la, la.Intervals[1].StartTimeMs())
	}
	union := NewHistogram()
	for _, v := range append(va, vb...) {
		Record(union, v)
	}
	m, err := Merge(nil, []*Log{la, lb})
	if err != nil {
		t.Fatal(err)
	}
	samePercentiles(t, "merged logs", m.Latency.Wire, union)
	if len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], "interval logs alone") {
		t.Errorf("warnings %q", m.Warnings)
	}
	// Report a with its log: the log is checked, not added again; b's log
	// adds b's values.
	ra := roundTrip(t, dir, a)
	ra.Latency.Publish = nil // the test log holds wire values only
	m, err = Merge([]*Report{ra}, []*Log{la, lb})
	if err != nil {
		t.Fatal(err)
	}
	samePercentiles(t, "report + logs", m.Latency.Wire, union)
	// A log that disagrees with its report is an error.
	ra.Latency.Wire.Count++
	if _, err := Merge([]*Report{ra}, []*Log{la}); err == nil || !strings.Contains(err.Error(), "disagree") {
		t.Errorf("disagreeing log: %v", err)
	}
}

// TestMergeRefuses: the same run twice, a histogram whose values the
// report's range cannot hold.
func TestMergeRefuses(t *testing.T) {
	a, _ := run(t, "0000000a", 5, 100, 0)
	if _, err := Merge([]*Report{a, a}, nil); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("same run twice: %v", err)
	}
	b, _ := run(t, "0000000b", 6, 100, 0)
	wide := hdrhistogram.New(1, 100*HistMax, 3)
	_ = wide.RecordValue(50 * HistMax)
	b.Latency.Wire = NewStats(WireName, "w", wide)
	if _, err := Merge([]*Report{a, b}, nil); err == nil || !strings.Contains(err.Error(), "drop") {
		t.Errorf("a value out of range: %v", err)
	}
	if _, err := Merge(nil, nil); err == nil {
		t.Error("nothing merged without error")
	}
	if _, err := ReadLog(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a missing log read without error")
	}
	p := filepath.Join(t.TempDir(), "x.hlog")
	os.WriteFile(p, []byte("not a log\n"), 0o644)
	if _, err := ReadLog(p); err == nil {
		t.Error("garbage read as a log")
	}
}
