package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fastpub/fastpub/loadreport"
)

// sampleReport is a report as runLoad fills it, before finish.
func sampleReport() *loadreport.Report {
	h := newHistogram()
	for i := int64(1); i <= 1000; i++ {
		record(h, i*1000) // 1 µs … 1 ms
	}
	cfg := defaultConfig()
	cfg.topics = []string{"loadgen"}
	cfg.count = 1000
	r := &loadreport.Report{Tool: "loadgen", ReportVersion: loadreport.Version, Machine: fingerprint()}
	fillWorkload(r, &cfg)
	r.Target = loadreport.Target{URI: "tcp://127.0.0.1:1/amps/json", Embedded: true, ServerVersion: "5.3.4.0"}
	r.Messages, r.PayloadBytes, r.WireBytes = 1000, 128_000, 155_000
	r.Duration, r.SendDuration = 0.5, 0.4
	r.Latency.Publish = loadreport.NewStats(loadreport.EnqueueName, publishLatencyWhat(&cfg, 64), h)
	wh := newHistogram()
	for i := int64(1); i <= 60; i++ {
		record(wh, i*10_000) // 10 µs … 600 µs
	}
	plan := wirePlan{every: 16, resolveEvery: 256, capacity: 2048}
	r.Latency.Wire = loadreport.NewStats(loadreport.WireName, wireLatencyWhat(&cfg, plan), wh)
	r.Latency.WireSampling = wireSamplingInfo(plan, wireCounts{sampled: 63, resolved: 60, rolledOver: 2, unwritten: 1}, cfg.producers)
	r.Runtime = loadreport.Runtime{Allocs: 50, GCCycles: 1, PeakRSS: 20 << 20, HarnessNs: 40}
	r.Server = &loadreport.Server{Publishes: 1000}
	return r
}

func TestReportFinish(t *testing.T) {
	r := sampleReport()
	r.Finish()
	if !r.OK || len(r.Failures) != 0 {
		t.Fatalf("OK %v failures %v", r.OK, r.Failures)
	}
	if r.MsgsPerSec != 2000 || r.MBPerSec != 0.256 || r.WireMBPerSec != 0.31 || r.Runtime.AllocsPerMsg != 0.05 {
		t.Errorf("derived: %v msg/s %v MB/s %v wire MB/s %v allocs/msg", r.MsgsPerSec, r.MBPerSec, r.WireMBPerSec, r.Runtime.AllocsPerMsg)
	}
	l := r.Latency.Publish
	// HdrHistogram at 3 significant digits: within 0.1%.
	for _, c := range []struct {
		name      string
		got, want int64
	}{{"p50", l.P50, 500_000}, {"p90", l.P90, 900_000}, {"p99", l.P99, 990_000}, {"p99.9", l.P999, 999_000}, {"max", l.Max, 1_000_000}, {"min", l.Min, 1000}} {
		if d := c.got - c.want; d < -c.want/1000-1 || d > c.want/1000+1 {
			t.Errorf("%s = %d, want %d ±0.1%%", c.name, c.got, c.want)
		}
	}

	failing := []struct {
		mod  func(r *loadreport.Report)
		want string
	}{
		{func(r *loadreport.Report) { r.Errors = loadreport.Errors{Count: 2, First: "boom"} }, "2 publish error(s), first: boom"},
		{func(r *loadreport.Report) { r.Verify = &loadreport.Verify{Lost: 1} }, "1 message(s) lost"},
		{func(r *loadreport.Report) { r.Verify = &loadreport.Verify{Duplicated: 3} }, "3 message(s) duplicated"},
		{func(r *loadreport.Report) { r.Verify = &loadreport.Verify{OutOfOrder: 4} }, "4 message(s) out of order"},
		{func(r *loadreport.Report) { r.Verify = &loadreport.Verify{Error: "subscriber: gone"} }, "verify: subscriber: gone"},
	}
	for _, f := range failing {
		r := sampleReport()
		f.mod(r)
		r.Finish()
		if r.OK || !strings.Contains(strings.Join(r.Failures, ";"), f.want) {
			t.Errorf("OK %v failures %q, want %q", r.OK, r.Failures, f.want)
		}
	}
}

// TestReportJSON decodes the JSON report and checks every section a CI
// script would read.
func TestReportJSON(t *testing.T) {
	r := sampleReport()
	r.Verify = &loadreport.Verify{Topics: 1, Expected: 1000, Received: 1000, Tail: "complete"}
	r.Finish()
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(bytes.TrimSpace(buf.Bytes()), []byte("\n}")); n != 1 {
		// one object, indented: exactly one closing brace at column 0
		t.Errorf("want one JSON object, got %d top-level closings", n)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, buf.String())
	}
	for _, key := range []string{"tool", "report_version", "target", "workload", "messages", "payload_bytes", "wire_bytes",
		"duration_s", "send_duration_s", "msgs_per_s", "payload_mb_per_s", "wire_mb_per_s", "latency", "errors",
		"command", "buffer_full_retries", "ring_fill_max", "ring_fill_mean", "transport", "verify", "server", "runtime", "machine", "interrupted", "ok", "failures"} {
		if _, ok := m[key]; !ok {
			t.Errorf("JSON has no %q", key)
		}
	}
	var back loadreport.Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Messages != 1000 || back.MsgsPerSec != 2000 || !back.OK || back.Failures == nil || back.RingFillMax != nil {
		t.Errorf("decoded %+v", back)
	}
	l := back.Latency.Publish
	if l == nil || l.Name != loadreport.EnqueueName || l.Count != 1000 || l.P50 == 0 || l.P999 < l.P99 || l.Max < l.P999 {
		t.Errorf("latency %+v", l)
	}
	lat := m["latency"].(map[string]any)
	for _, key := range []string{"wire", "wire_sampling", "publish"} {
		if _, ok := lat[key]; !ok {
			t.Errorf("JSON latency has no %q", key)
		}
	}
	ws := lat["wire_sampling"].(map[string]any)
	for _, key := range []string{"every", "resolve_every", "pending_capacity", "log_writes", "sampled", "resolved",
		"unresolved", "rolled_over", "unwritten", "queue_full", "upper_bound"} {
		if _, ok := ws[key]; !ok {
			t.Errorf("JSON latency.wire_sampling has no %q", key)
		}
	}
	w := back.Latency.Wire
	if w == nil || w.Name != loadreport.WireName || w.Count != 60 || w.P50 < 290_000 || w.P50 > 310_000 || w.Max < w.P999 {
		t.Errorf("wire latency %+v", w)
	}
	want := loadreport.WireSampling{Every: 16, ResolveEvery: 256, Pending: 2048, LogWrites: 1024, Sampled: 63, Resolved: 60,
		Unresolved: 3, RolledOver: 2, Unwritten: 1}
	if back.Latency.WireSampling != want {
		t.Errorf("wire sampling %+v, want %+v", back.Latency.WireSampling, want)
	}
	if back.Verify == nil || back.Verify.Received != 1000 || back.Verify.Lost != 0 {
		t.Errorf("verify %+v", back.Verify)
	}
	mc := back.Machine
	if mc.GOOS == "" || mc.GOARCH == "" || mc.GoVersion == "" || mc.CPU == "" || mc.NumCPU < 1 || mc.GOMAXPROCS < 1 {
		t.Errorf("machine %+v", mc)
	}
	if back.Workload.Count != 1000 || back.Workload.Ack != "none" || back.Workload.API != "publish" || back.Workload.Topics != 1 {
		t.Errorf("workload %+v", back.Workload)
	}
	if back.Runtime.PeakRSS != 20<<20 || back.Runtime.HarnessNs != 40 {
		t.Errorf("runtime %+v", back.Runtime)
	}
}

func TestReportText(t *testing.T) {
	r := sampleReport()
	fill, mean := 0.25, 0.125
	r.RingFillMax, r.RingFillMean = &fill, &mean
	r.Verify = &loadreport.Verify{Topics: 1, Expected: 1000, Received: 999, Lost: 1, Tail: "complete", Foreign: 2}
	r.Finish()
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"loadgen report", "target", "embedded ampstest server", "messages    1,000  (the server accepted 1,000)",
		"duration    0.500s", "throughput  2,000 msg/s", "publish (enqueue) latency", "p50 ", "p90 ", "p99 ", "p99.9 ", "max ",
		"latency     publish-to-wire latency: start of each sampled send", "1 message in 16 per producer", "(mean 305µs, n=60)",
		"samples: 1 in 16 per producer, 63 taken, 3 unresolved (4.76%: 2 rolled out of fastpub's 1024-write log, 1 never written, 0 pending queue full)",
		"lost 1", "2 other message(s) ignored", "ring fill   max 25.0%, mean 12.5%", "allocs 50", "peak RSS 20.0 MiB",
		"loadgen's own cost 40.0ns/msg", "machine", "GOMAXPROCS", "result      FAILED: verify: 1 message(s) lost",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	// Publish-to-wire is the headline: the first latency line.
	if w, e := strings.Index(out, "publish-to-wire latency"), strings.Index(out, "publish (enqueue) latency"); w < 0 || w > e ||
		strings.Index(out, "latency     ") != strings.Index(out, "latency     publish-to-wire") {
		t.Errorf("publish-to-wire is not the first latency line:\n%s", out)
	}
	// Samples but none resolved: said, with the counts.
	r = sampleReport()
	r.Latency.Wire = nil
	r.Latency.WireSampling = wireSamplingInfo(wirePlan{every: 16}, wireCounts{sampled: 5, unwritten: 5}, 1)
	r.Finish()
	buf.Reset()
	r.WriteText(&buf)
	for _, want := range []string{"publish-to-wire latency: no sample resolved", "5 taken, 5 unresolved (100.00%"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("no sample resolved: report lacks %q:\n%s", want, buf.String())
		}
	}

	r = sampleReport()
	r.Interrupted = true
	r.Finish()
	buf.Reset()
	r.WriteText(&buf)
	if !strings.Contains(buf.String(), "result      INTERRUPTED") || !strings.Contains(buf.String(), "ring fill   not sampled") {
		t.Errorf("interrupted report:\n%s", buf.String())
	}
}

func TestWriteHist(t *testing.T) {
	h := newHistogram()
	for i := int64(1); i <= 100; i++ {
		record(h, i*int64(time.Microsecond))
	}
	path := filepath.Join(t.TempDir(), "lat.hgrm")
	if err := loadreport.WriteHgrm(path, "us", h); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if !strings.Contains(lines[0], "Value") || !strings.Contains(lines[0], "Percentile") || !strings.Contains(lines[0], "TotalCount") || !strings.Contains(lines[0], "1/(1-Percentile)") {
		t.Errorf("header %q", lines[0])
	}
	// The last data line is the 100th percentile at 100 µs, in µs.
	var last string
	for _, l := range lines {
		if f := strings.Fields(l); len(f) == 4 && f[1] == "1.000000" {
			last = l
		}
	}
	if f := strings.Fields(last); len(f) != 4 || !strings.HasPrefix(f[0], "100.") || f[2] != "100" || f[3] != "inf" {
		t.Errorf("last line %q in\n%s", last, b)
	}
	if !strings.Contains(string(b), "#[Max     =") {
		t.Errorf("no footer:\n%s", b)
	}
	if got := loadreport.HgrmPath("/x/lat.hgrm", "delivery"); got != "/x/lat-delivery.hgrm" {
		t.Errorf("histPath = %s", got)
	}
	if got := loadreport.HgrmPath("lat", "flush"); got != "lat-flush" {
		t.Errorf("histPath = %s", got)
	}
	if err := loadreport.WriteHgrm(filepath.Join(t.TempDir(), "no", "such", "dir"), "us", h); err == nil {
		t.Error("no error for an unwritable path")
	}
}

func TestFormatting(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{commas(0), "0"}, {commas(999), "999"}, {commas(1000), "1,000"}, {commas(1234567), "1,234,567"},
		{dur(999), "999ns"}, {dur(1500), "1.50µs"}, {dur(25_300), "25.3µs"}, {dur(2_500_000), "2.50ms"}, {dur(3_000_000_000), "3.00s"},
		{human(50_000), "50k"}, {human(1_500_000), "1.5M"}, {human(250), "250"},
		{dbytes(512), "512 B"}, {dbytes(1_500_000), "1.50 MB"}, {ibytes(4 << 20), "4.0 MiB"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestFingerprintAndRSS(t *testing.T) {
	m := fingerprint()
	if m.GoVersion == "" || m.NumCPU < 1 || m.CPU == "" {
		t.Errorf("fingerprint %+v", m)
	}
	if rss := peakRSS(); rss < 1<<20 {
		t.Errorf("peak RSS %d bytes: not measured", rss)
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "loadgen"},
		{[]string{"--count", "10", "--topics", "a b"}, "loadgen --count 10 --topics 'a b'"},
		{[]string{"--uri", "tcp://u:secret@h:9007/amps/json"}, "loadgen --uri tcp://u:xxxxx@h:9007/amps/json"},
		{[]string{"--uri=tcp://u:secret@h:9007/amps/json"}, "loadgen --uri=tcp://u:xxxxx@h:9007/amps/json"},
		{[]string{"--uri", "tcp://u:secret@a:9007/amps/json", "--uri=tcp://u:secret2@b:9007/amps/json", "--verify", "--verify-uri", "tcp://v:secret3@c:9007/amps/json"},
			"loadgen --uri tcp://u:xxxxx@a:9007/amps/json --uri=tcp://u:xxxxx@b:9007/amps/json --verify --verify-uri tcp://v:xxxxx@c:9007/amps/json"},
		{[]string{"--client-name", "it's"}, `loadgen --client-name 'it'\''s'`},
		{[]string{"--hist", ""}, "loadgen --hist ''"},
	}
	for _, tt := range tests {
		c, err := parseFlags(tt.args, io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		if got := commandLine(c); got != tt.want {
			t.Errorf("commandLine(%q) = %s, want %s", tt.args, got, tt.want)
		}
		if strings.Contains(commandLine(c), "secret") {
			t.Errorf("password in %s", commandLine(c))
		}
	}
}
