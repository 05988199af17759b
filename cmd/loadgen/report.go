package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// reportVersion is bumped when a JSON field changes meaning or goes away.
const reportVersion = 1

// report is the final report: printed as text (writeText) or as one JSON
// object (writeJSON). Every duration in JSON is in nanoseconds (_ns) or
// seconds (_s) as its name says; every rate is per second; MB is 10^6 bytes.
type report struct {
	Tool          string `json:"tool"`
	ReportVersion int    `json:"report_version"`

	Command  string       `json:"command"` // the command line, --uri password redacted
	Target   targetInfo   `json:"target"`
	Workload workloadInfo `json:"workload"`

	Messages     uint64  `json:"messages"`      // publishes that returned nil
	PayloadBytes uint64  `json:"payload_bytes"` // their payloads
	WireBytes    uint64  `json:"wire_bytes"`    // their frames: length prefix, header, payload
	Duration     float64 `json:"duration_s"`    // first send → final flush acknowledged
	SendDuration float64 `json:"send_duration_s"`
	MsgsPerSec   float64 `json:"msgs_per_s"` // Messages / Duration
	MBPerSec     float64 `json:"payload_mb_per_s"`
	WireMBPerSec float64 `json:"wire_mb_per_s"`

	Latency latencyInfo `json:"latency"`

	Errors     errorInfo `json:"errors"`
	BufferFull uint64    `json:"buffer_full_retries"` // --api try: ErrBufferFull answers retried
	// RingFillMax and RingFillMean are the highest and the mean send-buffer
	// fill (the fullest connection's), from 0 to 1, sampled every 10 ms;
	// null if never sampled (a run shorter than 10 ms).
	RingFillMax  *float64 `json:"ring_fill_max"`
	RingFillMean *float64 `json:"ring_fill_mean"`

	Transport transportInfo `json:"transport"`

	Verify *verifyResult `json:"verify,omitempty"`
	Server *serverInfo   `json:"server,omitempty"`

	Runtime runtimeInfo `json:"runtime"`
	Machine machineInfo `json:"machine"`

	Interrupted bool     `json:"interrupted"` // stopped by SIGINT/SIGTERM
	OK          bool     `json:"ok"`          // false exactly when the exit status is 1
	Failures    []string `json:"failures"`    // why not OK
}

type targetInfo struct {
	URI           string `json:"uri"` // password redacted
	Embedded      bool   `json:"embedded"`
	ServerVersion string `json:"server_version"`
}

type workloadInfo struct {
	Spin          float64 `json:"spin_s"`
	Connections   int     `json:"connections"`
	Producers     int     `json:"producers_per_connection"`
	Topics        int     `json:"topics"`
	FirstTopic    string  `json:"first_topic"`
	Payload       string  `json:"payload"` // "generated, 128 B" or the template file
	Rate          float64 `json:"rate"`    // 0 = as fast as possible
	Count         uint64  `json:"count"`   // 0 = no count limit
	DurationLimit float64 `json:"duration_limit_s"`
	Ack           string  `json:"ack"`
	FlushEvery    uint64  `json:"flush_every"`
	FlushInterval float64 `json:"flush_interval_s"`
	API           string  `json:"api"`
	BufferSize    int     `json:"buffer_bytes"`
}

// latencyInfo holds every latency histogram's summary. Wire is the
// headline: due time → the frame handed to the kernel, from sampled
// messages (WireSampling says how many and what became of the others).
// Publish is the enqueue latency of every message: due time → the publish
// call returned.
type latencyInfo struct {
	Wire         *latencyStats `json:"wire"` // null when no sample was resolved
	WireSampling wireSampling  `json:"wire_sampling"`
	Publish      *latencyStats `json:"publish"`
	Delivery     *latencyStats `json:"delivery,omitempty"`
	Flush        *latencyStats `json:"flush,omitempty"`
}

// wireSampling describes the publish-to-wire samples (see wire.go).
// Sampled = Resolved + Unresolved, and Unresolved = RolledOver + Unwritten +
// QueueFull: a sample that could not be resolved is counted, not dropped.
type wireSampling struct {
	Every        uint64 `json:"every"`            // 1 message in Every per producer was sampled
	ResolveEvery uint64 `json:"resolve_every"`    // each producer resolved its samples every ResolveEvery messages
	Pending      int    `json:"pending_capacity"` // each producer's queue of samples awaiting resolution
	LogWrites    int    `json:"log_writes"`       // how many recent writev calls fastpub's wire log remembers
	Sampled      uint64 `json:"sampled"`
	Resolved     uint64 `json:"resolved"` // latency.wire.count
	Unresolved   uint64 `json:"unresolved"`
	RolledOver   uint64 `json:"rolled_over"` // written, but out of the wire log before loadgen asked
	Unwritten    uint64 `json:"unwritten"`   // never written: the connection failed or closed first
	QueueFull    uint64 `json:"queue_full"`  // not taken: the producer's pending queue was full
	// UpperBound is true with several producers per connection: a sample's
	// position may include frames other producers queued just after it, so
	// each value is at least the frame's true latency (an over-estimate).
	UpperBound bool `json:"upper_bound"`
}

// latencyStats summarises one histogram. Values are nanoseconds, exact to
// three significant digits (the histogram's precision).
type latencyStats struct {
	Name  string  `json:"name"`
	What  string  `json:"measures"`
	Count int64   `json:"count"`
	Min   int64   `json:"min_ns"`
	P50   int64   `json:"p50_ns"`
	P90   int64   `json:"p90_ns"`
	P99   int64   `json:"p99_ns"`
	P999  int64   `json:"p99_9_ns"`
	Max   int64   `json:"max_ns"`
	Mean  float64 `json:"mean_ns"`
}

type errorInfo struct {
	Count uint64 `json:"count"`
	First string `json:"first"` // the first error's text, "" if none
}

// transportInfo is fastpub's writer activity (Client.Stats), all
// connections: how well the writer batched.
type transportInfo struct {
	BytesWritten uint64  `json:"bytes_written"` // bytes the kernel accepted, control frames included
	Writes       uint64  `json:"writes"`        // writev calls that moved bytes
	AvgWrite     float64 `json:"avg_write_bytes"`
}

type serverInfo struct {
	Publishes   uint64 `json:"publishes"` // accepted by the embedded server (verification markers excluded)
	Delivered   uint64 `json:"delivered"`
	Connections uint64 `json:"connections_total"`
}

type runtimeInfo struct {
	Allocs       uint64  `json:"allocs"`         // runtime.MemStats.Mallocs delta over the run, whole process
	AllocsPerMsg float64 `json:"allocs_per_msg"` // Allocs / Messages
	AllocBytes   uint64  `json:"alloc_bytes"`    // TotalAlloc delta
	GCCycles     uint32  `json:"gc_cycles"`
	GCPause      uint64  `json:"gc_pause_total_ns"`
	PeakRSS      uint64  `json:"peak_rss_bytes"` // VmHWM: the process's peak, startup included; 0 if unknown
	// HarnessNs is loadgen's own cost per message (render, clock read,
	// histogram record), measured just before the run without publishing.
	HarnessNs float64 `json:"harness_ns_per_msg"`
}

// newLatencyStats summarises h; nil when it holds nothing.
func newLatencyStats(name, what string, h *hdrhistogram.Histogram) *latencyStats {
	if h == nil || h.TotalCount() == 0 {
		return nil
	}
	return &latencyStats{
		Name: name, What: what, Count: h.TotalCount(),
		Min:  h.Min(),
		P50:  h.ValueAtQuantile(50),
		P90:  h.ValueAtQuantile(90),
		P99:  h.ValueAtQuantile(99),
		P999: h.ValueAtQuantile(99.9),
		Max:  h.Max(),
		Mean: h.Mean(),
	}
}

// newHistogram returns a histogram for nanosecond latencies from 1 ns to one
// hour at three significant digits (about 200 KiB).
func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(time.Hour), 3)
}

// record adds v nanoseconds to h, clamped to its range. It does not allocate.
func record(h *hdrhistogram.Histogram, v int64) {
	if v < 1 {
		v = 1
	} else if v > int64(time.Hour) {
		v = int64(time.Hour)
	}
	_ = h.RecordValue(v)
}

// finish computes the derived fields and the verdict.
func (r *report) finish() {
	if r.Duration > 0 {
		r.MsgsPerSec = float64(r.Messages) / r.Duration
		r.MBPerSec = float64(r.PayloadBytes) / r.Duration / 1e6
		r.WireMBPerSec = float64(r.WireBytes) / r.Duration / 1e6
	}
	if r.Messages > 0 {
		r.Runtime.AllocsPerMsg = float64(r.Runtime.Allocs) / float64(r.Messages)
	}
	if r.Errors.Count > 0 {
		r.Failures = append(r.Failures, fmt.Sprintf("%d publish error(s), first: %s", r.Errors.Count, r.Errors.First))
	}
	if v := r.Verify; v != nil {
		if v.Lost > 0 {
			r.Failures = append(r.Failures, fmt.Sprintf("verify: %d message(s) lost", v.Lost))
		}
		if v.Duplicated > 0 {
			r.Failures = append(r.Failures, fmt.Sprintf("verify: %d message(s) duplicated", v.Duplicated))
		}
		if v.OutOfOrder > 0 {
			r.Failures = append(r.Failures, fmt.Sprintf("verify: %d message(s) out of order", v.OutOfOrder))
		}
		if v.Error != "" {
			r.Failures = append(r.Failures, "verify: "+v.Error)
		}
	}
	if r.Failures == nil {
		r.Failures = []string{}
	}
	r.OK = len(r.Failures) == 0
}

// writeJSON writes the report as one JSON object and a newline.
func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeText writes the human report.
func (r *report) writeText(w io.Writer) error {
	var b strings.Builder
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "  %-11s %s\n", label, fmt.Sprintf(format, args...))
	}
	b.WriteString("loadgen report\n")
	line("command", "%s", r.Command)
	target := r.Target.URI
	if r.Target.Embedded {
		target += "  (embedded ampstest server, same process)"
	}
	if r.Target.ServerVersion != "" {
		target += "  server " + r.Target.ServerVersion
	}
	line("target", "%s", target)
	wl := &r.Workload
	rate := "max rate"
	if wl.Rate > 0 {
		rate = "rate " + human(wl.Rate) + " msg/s"
	}
	var limits []string
	if wl.Count > 0 {
		limits = append(limits, "count "+commas(wl.Count))
	}
	if wl.DurationLimit > 0 {
		limits = append(limits, "duration "+secs(wl.DurationLimit))
	}
	ack := "ack " + wl.Ack
	if wl.FlushEvery > 0 {
		ack += ", flush every " + commas(wl.FlushEvery)
	}
	if wl.FlushInterval > 0 {
		ack += ", flush every " + secs(wl.FlushInterval)
	}
	topics := wl.FirstTopic
	if wl.Topics > 1 {
		topics = strconv.Itoa(wl.Topics) + " topics (" + wl.FirstTopic + ", …)"
	}
	line("workload", "%d connection(s) × %d producer(s), %s, payload %s", wl.Connections, wl.Producers, topics, wl.Payload)
	line("", "%s, %s, %s, api %s, buffer %s", rate, strings.Join(limits, " or "), ack, wl.API, ibytes(uint64(wl.BufferSize)))

	msgs := commas(r.Messages)
	if r.Server != nil {
		msgs += fmt.Sprintf("  (the server accepted %s)", commas(r.Server.Publishes))
	}
	line("messages", "%s", msgs)
	line("bytes", "%s payload, %s on the wire", dbytes(r.PayloadBytes), dbytes(r.WireBytes))
	line("duration", "%s  (first send → final flush acknowledged; sending took %s)", secs(r.Duration), secs(r.SendDuration))
	line("throughput", "%s msg/s   %.1f MB/s payload   %.1f MB/s wire", commas(uint64(math.Round(r.MsgsPerSec))), r.MBPerSec, r.WireMBPerSec)
	ws := &r.Latency.WireSampling
	if r.Latency.Wire == nil && ws.Sampled > 0 {
		line("latency", "%s: no sample resolved", wireLatencyName)
	}
	for _, l := range []*latencyStats{r.Latency.Wire, r.Latency.Publish, r.Latency.Delivery, r.Latency.Flush} {
		if l == nil {
			continue
		}
		line("latency", "%s: %s", l.Name, l.What)
		line("", "p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (mean %s, n=%s)",
			dur(l.P50), dur(l.P90), dur(l.P99), dur(l.P999), dur(l.Max), dur(int64(l.Mean)), commas(uint64(l.Count)))
		if l == r.Latency.Wire || (l == r.Latency.Publish && r.Latency.Wire == nil && ws.Sampled > 0) {
			line("", "%s", ws.text())
		}
	}
	if r.Latency.Publish == nil {
		line("latency", "no publish completed")
	}
	if v := r.Verify; v != nil {
		line("verify", "expected %s, received %s: lost %s, duplicated %s, out of order %s",
			commas(v.Expected), commas(v.Received), commas(v.Lost), commas(v.Duplicated), commas(v.OutOfOrder))
		extra := fmt.Sprintf("subscribed to %d topic(s) before publishing; tail: %s", v.Topics, v.Tail)
		if v.Foreign > 0 {
			extra += fmt.Sprintf("; %s other message(s) ignored", commas(v.Foreign))
		}
		line("", "%s", extra)
	}
	errs := commas(r.Errors.Count)
	if r.Errors.First != "" {
		errs += "  first: " + r.Errors.First
	}
	line("errors", "%s", errs)
	fill := "not sampled (the run was too short)"
	if r.RingFillMax != nil && r.RingFillMean != nil {
		fill = fmt.Sprintf("max %.1f%%, mean %.1f%% of the send buffer (sampled every 10ms)", *r.RingFillMax*100, *r.RingFillMean*100)
	}
	if r.BufferFull > 0 {
		fill += fmt.Sprintf("; %s TryPublish retries on a full buffer", commas(r.BufferFull))
	}
	line("ring fill", "%s", fill)
	if tr := &r.Transport; tr.Writes > 0 {
		line("writes", "%s writev calls, %s each on average (%s written)", commas(tr.Writes), dbytes(uint64(tr.AvgWrite+0.5)), dbytes(tr.BytesWritten))
	}
	rt := &r.Runtime
	rss := "unknown"
	if rt.PeakRSS > 0 {
		rss = ibytes(rt.PeakRSS)
	}
	line("runtime", "allocs %s (%.4f/msg, whole process%s), GC cycles %d (pause %s), peak RSS %s",
		commas(rt.Allocs), rt.AllocsPerMsg, embeddedNote(r.Target.Embedded, r.Verify != nil), rt.GCCycles, dur(int64(rt.GCPause)), rss)
	line("", "loadgen's own cost %.0fns/msg (render, clock, histogram; measured before the run)", rt.HarnessNs)
	m := &r.Machine
	line("machine", "%s; %s, %d B cache line", m.CPU, m.coresText(), m.CacheLine)
	line("", "%s/%s, %s, GOMAXPROCS %d", m.GOOS, m.GOARCH, m.GoVersion, m.GOMAXPROCS)
	switch {
	case r.OK && r.Interrupted:
		line("result", "INTERRUPTED (no failure before the interrupt)")
	case r.OK:
		line("result", "OK")
	default:
		line("result", "FAILED: %s", strings.Join(r.Failures, "; "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// text is the sampling line under the publish-to-wire latency.
func (ws *wireSampling) text() string {
	pct := 0.0
	if ws.Sampled > 0 {
		pct = 100 * float64(ws.Unresolved) / float64(ws.Sampled)
	}
	return fmt.Sprintf("samples: 1 in %d per producer, %s taken, %s unresolved (%.2f%%: %s rolled out of fastpub's %d-write log, %s never written, %s pending queue full)",
		ws.Every, commas(ws.Sampled), commas(ws.Unresolved), pct, commas(ws.RolledOver), ws.LogWrites, commas(ws.Unwritten), commas(ws.QueueFull))
}

func embeddedNote(embedded, verify bool) string {
	switch {
	case embedded && verify:
		return ", embedded server and subscriber included"
	case embedded:
		return ", embedded server included"
	case verify:
		return ", subscriber included"
	}
	return ""
}

// writeHist writes h to path in the HdrHistogram percentile-distribution
// text format ("Value Percentile TotalCount 1/(1-Percentile)"), which
// HdrHistogram's plotFiles.html and HistogramLogAnalyzer read, with values
// in unit (ns, us or ms).
func writeHist(path, unit string, h *hdrhistogram.Histogram) error {
	scale := map[string]float64{"ns": 1, "us": 1e3, "ms": 1e6}[unit]
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := h.PercentilesPrint(f, 5, scale); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// histPath derives the file for a second histogram from --hist:
// lat.hgrm → lat-delivery.hgrm.
func histPath(path, kind string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-" + kind + ext
}

// commas formats n with thousands separators.
func commas(n uint64) string {
	s := strconv.FormatUint(n, 10)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	pre := len(s) % 3
	if pre > 0 {
		b.WriteString(s[:pre])
	}
	for i := pre; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// human formats a rate compactly: 50k, 1.5M.
func human(v float64) string {
	switch {
	case v >= 1e9:
		return strconv.FormatFloat(v/1e9, 'f', -1, 64) + "G"
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// dur formats nanoseconds with three significant digits.
func dur(ns int64) string {
	v := float64(ns)
	switch {
	case ns < 1000:
		return strconv.FormatInt(ns, 10) + "ns"
	case ns < 1_000_000:
		return sig3(v/1e3) + "µs"
	case ns < 1_000_000_000:
		return sig3(v/1e6) + "ms"
	}
	return sig3(v/1e9) + "s"
}

func sig3(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func secs(s float64) string { return strconv.FormatFloat(s, 'f', 3, 64) + "s" }

// dbytes formats a byte count in decimal units (as MB/s is).
func dbytes(n uint64) string {
	v := float64(n)
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2f GB", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2f MB", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.2f kB", v/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

// ibytes formats a memory size in binary units.
func ibytes(n uint64) string {
	v := float64(n)
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", v/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", v/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
