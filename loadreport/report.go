// Package loadreport is the report model of fastpub's load generator: what
// one run measured, or what several merged runs measured together, and the
// forms it is written in (text, JSON, HdrHistogram percentile files,
// HdrHistogram interval logs, a self-contained HTML page). cmd/loadgen fills
// a Report; `loadgen merge` reads reports and interval logs back and merges
// them (Merge); any other command can do either.
//
// Every latency kind carries its full histogram next to its summary, so a
// JSON report can be merged without loss: the histogram travels as the
// HdrHistogram V2 compressed encoding (the text that interval logs hold).
// Values are nanoseconds.
package loadreport

import (
	"fmt"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Version is the report's JSON version, bumped when a field changes
// meaning or goes away. Version 2 added the histograms, run ids, CPU,
// overhead, pacer lateness, timeline and merge fields.
const Version = 2

// Report is one run's report, or several merged (Merged non-nil). Every
// duration in JSON is in nanoseconds (_ns) or seconds (_s) as its name
// says; every rate is per second; MB is 10^6 bytes.
type Report struct {
	Tool          string `json:"tool"`
	ReportVersion int    `json:"report_version"`
	Run           string `json:"run"` // the run's id (8 hex digits); merged: "merged"

	Command  string   `json:"command"` // the command line, --uri password redacted
	Target   Target   `json:"target"`
	Workload Workload `json:"workload"`

	StartUnixMs  int64   `json:"start_unix_ms"` // wall-clock time of the first send
	Messages     uint64  `json:"messages"`      // publishes that returned nil
	PayloadBytes uint64  `json:"payload_bytes"` // their payloads
	WireBytes    uint64  `json:"wire_bytes"`    // their frames: length prefix, header, payload
	Duration     float64 `json:"duration_s"`    // first send → final flush acknowledged
	SendDuration float64 `json:"send_duration_s"`
	MsgsPerSec   float64 `json:"msgs_per_s"` // Messages / Duration
	MBPerSec     float64 `json:"payload_mb_per_s"`
	WireMBPerSec float64 `json:"wire_mb_per_s"`

	Latency Latency `json:"latency"`

	Errors     Errors `json:"errors"`
	BufferFull uint64 `json:"buffer_full_retries"` // --api try: ErrBufferFull answers retried
	// RingFillMax and RingFillMean are the highest and the mean send-buffer
	// fill (the fullest connection's; with a store, the bytes not yet
	// persisted), from 0 to 1, sampled every 10 ms;
	// null if never sampled (a run shorter than 10 ms).
	RingFillMax  *float64 `json:"ring_fill_max"`
	RingFillMean *float64 `json:"ring_fill_mean"`

	Transport Transport `json:"transport"`

	Verify *Verify `json:"verify,omitempty"`
	Server *Server `json:"server,omitempty"`

	// Resilience is what the publish store and reconnect did; nil in a run
	// with neither.
	Resilience *Resilience `json:"resilience,omitempty"`

	// Store is what the file stores (--store) did, all connections'
	// together; nil with the memory store or none.
	Store *Store `json:"store,omitempty"`

	Runtime Runtime `json:"runtime"`
	Machine Machine `json:"machine"`

	// Timeline is the messages published so far at each progress tick:
	// throughput over time.
	Timeline Timeline `json:"timeline"`

	Merged *Merged `json:"merged,omitempty"`

	Path string `json:"-"` // the file ReadJSONFile read it from

	Warnings    []string `json:"warnings"`    // what makes a figure doubtful; the run is still OK
	Interrupted bool     `json:"interrupted"` // stopped by SIGINT/SIGTERM
	OK          bool     `json:"ok"`          // false exactly when the exit status is 1
	Failures    []string `json:"failures"`    // why not OK
}

// Target is what the run published to.
type Target struct {
	URI string `json:"uri"` // password redacted
	// Failover are the further servers the client reconnects to
	// (ReconnectPolicy.Servers), passwords redacted; empty with one URI.
	Failover      []string `json:"failover,omitempty"`
	Embedded      bool     `json:"embedded"`
	ServerVersion string   `json:"server_version"`
}

// Workload is the run's parameters.
type Workload struct {
	Spin          float64 `json:"spin_s"`
	TimerLateness float64 `json:"timer_lateness_s,omitempty"` // --spin auto: the timer's measured lateness (p90)
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
	BufferSize    int     `json:"buffer_bytes"` // the send buffer; with a store, its Limits.Bytes
	// StoreBytes and StoreMessages are the memory store's limits
	// (--ack persisted), 0 without a store.
	StoreBytes    int `json:"store_bytes,omitempty"`
	StoreMessages int `json:"store_messages,omitempty"`
	// StoreKind is "memory" or "file" (--store) with --ack persisted, ""
	// without a store. A file store's directory (each connection's store
	// is StoreDir/<client name>), durability mode and group-commit pacing
	// follow; they are empty or 0 otherwise.
	StoreKind    string  `json:"store_kind,omitempty"`
	StoreDir     string  `json:"store_dir,omitempty"`
	Durability   string  `json:"durability,omitempty"`      // none, group, every-publish
	SyncInterval float64 `json:"sync_interval_s,omitempty"` // group
	SyncBytes    int     `json:"sync_bytes,omitempty"`      // group
	Reconnect    bool    `json:"reconnect"`                 // the client reconnects by itself (WithReconnect)
	Interval     float64 `json:"interval_s"`                // progress, timeline and interval-log period
}

// Latency holds every latency kind. Wire is the headline: due time → the
// frame handed to the kernel, from sampled messages (WireSampling says how
// many and what became of the others). Publish is the enqueue latency:
// due time → the publish call returned. Pacer is how late loadgen's own
// pacer woke for a due time (paced runs only): not the client's latency.
type Latency struct {
	Wire         *Stats       `json:"wire"` // null when no sample was resolved
	WireSampling WireSampling `json:"wire_sampling"`
	Publish      *Stats       `json:"publish"`
	Pacer        *Stats       `json:"pacer,omitempty"`
	Delivery     *Stats       `json:"delivery,omitempty"`
	Flush        *Stats       `json:"flush,omitempty"`
}

// Tags are the latency kinds in report order, as interval logs tag them.
var Tags = []string{"wire", "enqueue", "pacer", "delivery", "flush"}

// Slot returns where the kind tagged tag lives, nil for an unknown tag.
func (l *Latency) Slot(tag string) **Stats {
	switch tag {
	case "wire":
		return &l.Wire
	case "enqueue":
		return &l.Publish
	case "pacer":
		return &l.Pacer
	case "delivery":
		return &l.Delivery
	case "flush":
		return &l.Flush
	}
	return nil
}

// Kind is one latency kind and its tag.
type Kind struct {
	Tag   string
	Stats *Stats
}

// Kinds returns the kinds measured, in report order.
func (l *Latency) Kinds() []Kind {
	var out []Kind
	for _, t := range Tags {
		if s := *l.Slot(t); s != nil {
			out = append(out, Kind{t, s})
		}
	}
	return out
}

// WireSampling describes the publish-to-wire samples. Sampled = Resolved +
// Unresolved, and Unresolved = RolledOver + Unwritten + QueueFull: a sample
// that could not be resolved is counted, not dropped.
type WireSampling struct {
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

// Add sums o into w (for merging runs).
func (w *WireSampling) Add(o WireSampling) {
	w.Sampled += o.Sampled
	w.Resolved += o.Resolved
	w.Unresolved += o.Unresolved
	w.RolledOver += o.RolledOver
	w.Unwritten += o.Unwritten
	w.QueueFull += o.QueueFull
	w.UpperBound = w.UpperBound || o.UpperBound
}

// Stats summarises one histogram. Values are nanoseconds, exact to three
// significant digits (the histogram's precision). Hist is the histogram
// itself; in JSON it travels as Histogram, its V2 compressed encoding.
type Stats struct {
	Name      string  `json:"name"`
	What      string  `json:"measures"`
	Count     int64   `json:"count"`
	Min       int64   `json:"min_ns"`
	P50       int64   `json:"p50_ns"`
	P90       int64   `json:"p90_ns"`
	P99       int64   `json:"p99_ns"`
	P999      int64   `json:"p99_9_ns"`
	Max       int64   `json:"max_ns"`
	Mean      float64 `json:"mean_ns"`
	Histogram string  `json:"histogram,omitempty"`

	Hist *hdrhistogram.Histogram `json:"-"`
}

// NewStats summarises h; nil when it holds nothing.
func NewStats(name, what string, h *hdrhistogram.Histogram) *Stats {
	if h == nil || h.TotalCount() == 0 {
		return nil
	}
	return &Stats{
		Name: name, What: what, Count: h.TotalCount(),
		Min:  h.Min(),
		P50:  h.ValueAtQuantile(50),
		P90:  h.ValueAtQuantile(90),
		P99:  h.ValueAtQuantile(99),
		P999: h.ValueAtQuantile(99.9),
		Max:  h.Max(),
		Mean: h.Mean(),
		Hist: h,
	}
}

// NewHistogram returns a histogram for nanosecond latencies from 1 ns to one
// hour at three significant digits (about 200 KiB): every histogram of a
// report has this range, so merging never drops a value.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, HistMax, 3)
}

// HistMax is the highest value a report's histograms hold: one hour.
const HistMax = int64(time.Hour)

// Record adds v nanoseconds to h, clamped to its range. It does not
// allocate.
func Record(h *hdrhistogram.Histogram, v int64) {
	if v < 1 {
		v = 1
	} else if v > HistMax {
		v = HistMax
	}
	_ = h.RecordValue(v)
}

// MergeInto merges from into h and fails if any value would be dropped (a
// histogram of a wider range than h's, or a count overflow).
func MergeInto(h, from *hdrhistogram.Histogram) error {
	if dropped := h.Merge(from); dropped != 0 {
		return fmt.Errorf("merging histograms would drop %d value(s) (a histogram of a wider range than 1 ns to 1 h, or a count overflow)", dropped)
	}
	return nil
}

// Errors counts publish, flush and asynchronous errors.
type Errors struct {
	Count uint64 `json:"count"`
	First string `json:"first"` // the first error's text, "" if none
}

// Transport is fastpub's writer activity (Client.Stats), all connections:
// how well the writer batched.
type Transport struct {
	BytesWritten uint64  `json:"bytes_written"` // bytes the kernel accepted, control frames included
	Writes       uint64  `json:"writes"`        // writev calls that moved bytes
	AvgWrite     float64 `json:"avg_write_bytes"`
}

// Server is what the embedded server counted.
type Server struct {
	Publishes   uint64 `json:"publishes"` // accepted by the embedded server (verification markers excluded)
	Delivered   uint64 `json:"delivered"`
	Connections uint64 `json:"connections_total"`
}

// Verify is the verification part of the report.
type Verify struct {
	Topics     int     `json:"topics"`     // topics subscribed to
	Expected   uint64  `json:"expected"`   // messages whose Publish returned nil
	Received   uint64  `json:"received"`   // distinct expected messages delivered
	Lost       uint64  `json:"lost"`       // expected, never delivered
	Duplicated uint64  `json:"duplicated"` // deliveries of a message already seen
	OutOfOrder uint64  `json:"out_of_order"`
	Foreign    uint64  `json:"foreign"`     // deliveries without this run's stamp, ignored
	Tail       string  `json:"tail"`        // how the wait for the tail ended
	TailWait   float64 `json:"tail_wait_s"` // from the last final flush to the end of the wait
	Error      string  `json:"error,omitempty"`
}

// Runtime is what the publishing process spent.
type Runtime struct {
	Allocs       uint64  `json:"allocs"`         // runtime.MemStats.Mallocs delta over the run, whole process
	AllocsPerMsg float64 `json:"allocs_per_msg"` // Allocs / Messages
	AllocBytes   uint64  `json:"alloc_bytes"`    // TotalAlloc delta
	GCCycles     uint32  `json:"gc_cycles"`
	GCPause      uint64  `json:"gc_pause_total_ns"`
	PeakRSS      uint64  `json:"peak_rss_bytes"` // VmHWM: the process's peak, startup included; 0 if unknown

	// CPU the whole process used during the run (getrusage RUSAGE_SELF:
	// user and system seconds), and per message published.
	CPUUser   float64 `json:"cpu_user_s"`
	CPUSys    float64 `json:"cpu_sys_s"`
	CPUNsPerM float64 `json:"cpu_ns_per_msg"`

	// HarnessNs is loadgen's own cost per message: the producer loop with
	// the publish call left out, run for a fixed count just before the
	// run. PublishNs is the publish cost it measures: each producer's time
	// per message during the run, less HarnessNs (flat out only; 0 when
	// paced). OverheadRatio is HarnessNs / PublishNs.
	HarnessNs     float64 `json:"harness_ns_per_msg"`
	PublishNs     float64 `json:"publish_ns_per_msg"`
	OverheadRatio float64 `json:"overhead_ratio"`
}

// Machine is the machine fingerprint in every report, so that numbers from
// different machines are never compared by mistake.
type Machine struct {
	CPU           string `json:"cpu"`            // brand string from CPUID; "unknown" if none
	PhysicalCores int    `json:"physical_cores"` // 0 if undetectable
	LogicalCores  int    `json:"logical_cores"`  // 0 if undetectable
	CacheLine     int    `json:"cache_line_bytes"`
	L1D           int    `json:"l1d_bytes"` // -1 if undetectable
	L2            int    `json:"l2_bytes"`
	L3            int    `json:"l3_bytes"`
	Hypervisor    string `json:"hypervisor"` // "" on bare metal (or when not reported)
	NumCPU        int    `json:"num_cpu"`    // runtime.NumCPU: CPUs this process may use
	GOMAXPROCS    int    `json:"gomaxprocs"`
	GOOS          string `json:"goos"`
	GOARCH        string `json:"goarch"`
	GoVersion     string `json:"go_version"`
	Hostname      string `json:"hostname"`
}

// Timeline is throughput over time: at each point, T seconds after the
// run's start, Messages had been published in all. Points are in order.
type Timeline []TimelinePoint

// TimelinePoint is one progress tick.
type TimelinePoint struct {
	T        float64 `json:"t_s"`
	Messages uint64  `json:"messages"`
}

// Merged says what a merged report was made of.
type Merged struct {
	Runs     []string `json:"runs"`     // the runs' ids
	Reports  []string `json:"reports"`  // the JSON report files (or run ids)
	Logs     []string `json:"logs"`     // the interval log files
	Differs  []string `json:"differs"`  // parameters that were not the same in every run
	Machines []string `json:"machines"` // distinct host names
}

// Finish computes the derived fields and the verdict.
func (r *Report) Finish() {
	if r.Duration > 0 {
		r.MsgsPerSec = float64(r.Messages) / r.Duration
		r.MBPerSec = float64(r.PayloadBytes) / r.Duration / 1e6
		r.WireMBPerSec = float64(r.WireBytes) / r.Duration / 1e6
	}
	if r.Messages > 0 {
		r.Runtime.AllocsPerMsg = float64(r.Runtime.Allocs) / float64(r.Messages)
		r.Runtime.CPUNsPerM = (r.Runtime.CPUUser + r.Runtime.CPUSys) * 1e9 / float64(r.Messages)
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
	if rs := r.Resilience; rs != nil {
		r.Failures = append(r.Failures, rs.failures()...)
		if rs.FailedWrites == nil {
			rs.FailedWrites = map[string]uint64{}
		}
		if rs.Events == nil {
			rs.Events = []Event{}
		}
	}
	if r.Failures == nil {
		r.Failures = []string{}
	}
	if r.Warnings == nil {
		r.Warnings = []string{}
	}
	r.OK = len(r.Failures) == 0
}
