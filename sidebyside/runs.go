package sidebyside

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/fastpub/fastpub/fastpub"
	"github.com/fastpub/fastpub/store"
)

// Row names. Throughput rows send a fixed count as fast as they can;
// latency rows are paced.
const (
	RowCeiling  = "ceiling"  // pre-encoded frames, large contiguous writes, one goroutine
	RowFastpub1 = "fastpub1" // fastpub, 1 producer, default options
	RowFastpubN = "fastpubN" // fastpub, Config.Producers producers on one client
	RowStore    = "store"    // fastpub, 1 producer, memory store: every publish asks for a persisted ack
	RowInline   = "inline"   // paced: each pre-encoded frame with one write() from the publishing goroutine
	RowFastpub  = "fastpub"  // paced: fastpub, 1 producer, default options
	// RowFastpubWriter is paced fastpub with inline writes off
	// (fastpub.WithInlineWrite(0)): every frame goes through the writer
	// goroutine, as before the inline write existed.
	RowFastpubWriter = "fastpub-writer"
)

// ThroughputRun is one measured throughput run.
type ThroughputRun struct {
	Round      int     `json:"round"`
	Row        string  `json:"row"`
	Size       int     `json:"size"`
	Producers  int     `json:"producers"`
	Messages   int     `json:"messages"`
	Seconds    float64 `json:"seconds"`
	MsgsPerSec float64 `json:"msgs_per_sec"`
	// CPU per message, ns: the publishing process (this one, getrusage
	// RUSAGE_SELF user+sys over the run) and the sink process (its own
	// getrusage over the run).
	PubCPU  float64 `json:"pub_cpu_ns_per_msg"`
	SinkCPU float64 `json:"sink_cpu_ns_per_msg"`
	Bytes   uint64  `json:"wire_bytes"`     // what the sink read
	Writes  uint64  `json:"writes"`         // write system calls of the publisher (fastpub: Stats().Writes)
	Acks    uint64  `json:"persisted_acks"` // conflated persisted acks the sink sent
	GCs     uint32  `json:"gcs"`            // GC cycles in the publishing process during the run
	Allocs  uint64  `json:"allocs"`         // heap allocations in the publishing process during the run
	Error   string  `json:"error,omitempty"`
}

// LatencyRun is one paced run: arrival at the sink minus the due time
// stamped in the payload, in nanoseconds.
type LatencyRun struct {
	Round    int     `json:"round"`
	Row      string  `json:"row"`
	Rate     int     `json:"rate"`
	Size     int     `json:"size"`
	Messages int     `json:"messages"` // sent (fewer than rate × duration when it fell too far behind)
	Planned  int     `json:"planned"`
	Seconds  float64 `json:"seconds"`
	P50      int64   `json:"p50_ns"`
	P90      int64   `json:"p90_ns"`
	P99      int64   `json:"p99_ns"`
	P999     int64   `json:"p999_ns"`
	Max      int64   `json:"max_ns"`
	Mean     float64 `json:"mean_ns"`
	// Behind is how late the last message left the publisher: its send
	// time minus its due time. A loop that keeps up stays near 0.
	Behind  int64   `json:"behind_ns"`
	PubCPU  float64 `json:"pub_cpu_ns_per_msg"`
	SinkCPU float64 `json:"sink_cpu_ns_per_msg"`
	// Writes and InlineWrites are a fastpub row's system calls that moved
	// bytes, and how many of them a publish made itself (0 for the floor).
	Writes       uint64 `json:"writes,omitempty"`
	InlineWrites uint64 `json:"inline_writes,omitempty"`
}

// env is what every run needs.
type env struct {
	sink    *Sink
	network string
	timeout time.Duration
	batch   int
	names   int
}

func (e *env) name(row string) string {
	e.names++
	return "sbs-" + row + "-" + strconv.Itoa(e.names)
}

// window is a measured interval of the publishing process.
type window struct {
	start, end int64
	cpu0, cpu1 int64
	ms0, ms1   runtime.MemStats
}

// begin collects garbage left by setup, starts the sink's run and opens the
// window: everything after it, up to close, is measured.
func (e *env) begin(latency bool) (*window, error) {
	runtime.GC()
	if err := e.sink.Begin(latency); err != nil {
		return nil, err
	}
	w := &window{}
	runtime.ReadMemStats(&w.ms0)
	u, s := cpuTime()
	w.cpu0 = u + s
	w.start = nanotime()
	return w, nil
}

func (w *window) close() {
	w.end = nanotime()
	u, s := cpuTime()
	w.cpu1 = u + s
	runtime.ReadMemStats(&w.ms1)
}

func (w *window) fill(r *ThroughputRun, rep SinkReport) {
	r.Seconds = float64(w.end-w.start) / 1e9
	r.MsgsPerSec = float64(r.Messages) / r.Seconds
	r.PubCPU = float64(w.cpu1-w.cpu0) / float64(r.Messages)
	r.SinkCPU = float64(rep.CPU()) / float64(r.Messages)
	r.Bytes = rep.Bytes
	r.Acks = rep.Acks
	r.GCs = w.ms1.NumGC - w.ms0.NumGC
	r.Allocs = w.ms1.Mallocs - w.ms0.Mallocs
}

func checkCount(what string, rep SinkReport, want int) error {
	if rep.Publishes != uint64(want) {
		return fmt.Errorf("sidebyside: %s: the sink counted %d publishes, want exactly %d", what, rep.Publishes, want)
	}
	return nil
}

// ceiling writes m pre-encoded frames in contiguous writes of about
// e.batch bytes (whole frames) from this goroutine, then a flush, and stops
// the clock at the flush's ack.
func (e *env) ceiling(size, m int) (ThroughputRun, error) {
	r := ThroughputRun{Row: RowCeiling, Size: size, Producers: 1, Messages: m}
	_, fl := preEncoded(size, 1)
	per := e.batch / fl
	if per < 1 {
		per = 1
	}
	if per > m {
		per = m
	}
	buf, _ := preEncoded(size, per)
	rc, err := dialRaw(e.sink, e.network, e.name(RowCeiling))
	if err != nil {
		return r, err
	}
	defer rc.Close()
	_ = rc.c.SetWriteDeadline(time.Now().Add(e.timeout))
	w, err := e.begin(false)
	if err != nil {
		return r, err
	}
	for left := m; left > 0; {
		n := per
		if n > left {
			n = left
		}
		if _, err := rc.c.Write(buf[:n*fl]); err != nil {
			return r, fmt.Errorf("sidebyside: ceiling write: %w", err)
		}
		r.Writes++
		left -= n
	}
	if err := rc.flush("done", e.timeout); err != nil {
		return r, fmt.Errorf("sidebyside: ceiling flush: %w", err)
	}
	w.close()
	rep, err := e.sink.End()
	if err != nil {
		return r, err
	}
	w.fill(&r, rep)
	return r, checkCount("ceiling", rep, m)
}

// connect makes a fastpub client logged on to the sink.
func (e *env) connect(row string, withStore bool, opts ...fastpub.Option) (*fastpub.Client, error) {
	if withStore {
		st, err := store.NewMemory(store.Limits{Bytes: store.DefaultBytes, Messages: store.DefaultMessages})
		if err != nil {
			return nil, err
		}
		opts = append(opts, fastpub.WithStore(st))
	}
	c, err := fastpub.NewClient(e.name(row), opts...)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx, e.sink.URI(e.network)); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.Logon(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// fastpubRun publishes m messages from producers goroutines on one client
// (with a memory store when withStore) and stops the clock when
// PublishFlush returns: without a store the sink has then read every
// message, with one it has also acknowledged them as persisted.
func (e *env) fastpubRun(row string, size, m, producers int, withStore bool) (ThroughputRun, error) {
	r := ThroughputRun{Row: row, Size: size, Producers: producers, Messages: m}
	c, err := e.connect(row, withStore)
	if err != nil {
		return r, err
	}
	defer c.Close()
	// A run that hangs is ended by closing the client: Publish then returns
	// ErrClosed.
	watchdog := time.AfterFunc(e.timeout, func() { c.Close() })
	defer watchdog.Stop()
	p := payload(size)
	start := make(chan struct{})
	errs := make(chan error, producers)
	var wg sync.WaitGroup
	for i := 0; i < producers; i++ {
		n := m / producers
		if i < m%producers {
			n++
		}
		wg.Add(1)
		go func(n int) {
			defer wg.Done()
			<-start
			for j := 0; j < n; j++ {
				if err := c.Publish(Topic, p); err != nil {
					errs <- err
					return
				}
			}
		}(n)
	}
	w, err := e.begin(false)
	if err != nil {
		close(start)
		c.Close()
		wg.Wait()
		return r, err
	}
	close(start)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return r, fmt.Errorf("sidebyside: %s publish: %w", row, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	if err := c.PublishFlush(ctx); err != nil {
		return r, fmt.Errorf("sidebyside: %s flush: %w", row, err)
	}
	w.close()
	rep, err := e.sink.End()
	if err != nil {
		return r, err
	}
	w.fill(&r, rep)
	r.Writes = c.Stats().Writes
	return r, checkCount(row, rep, m)
}

// latencyRun is a paced run: message i is due at t0 + i/rate; the publisher
// spins until then, stamps the due time into the first 8 bytes of the
// payload and sends it, inline (one write() per frame from this goroutine)
// or through fastpub. A loop that falls more than 3 durations behind stops
// sending.
func (e *env) latencyRun(row string, rate, size int, d time.Duration) (LatencyRun, error) {
	if size < 8 {
		size = 8
	}
	planned := int(int64(rate) * int64(d) / int64(time.Second))
	if planned < 1 {
		planned = 1
	}
	r := LatencyRun{Row: row, Rate: rate, Size: size, Planned: planned}
	var send func(stamp int64) error
	var finish func() error
	var stats func() fastpub.Stats
	switch row {
	case RowInline:
		buf, _ := preEncoded(size, 1)
		at := 4 + len(publishHeader)
		rc, err := dialRaw(e.sink, e.network, e.name(row))
		if err != nil {
			return r, err
		}
		defer rc.Close()
		_ = rc.c.SetWriteDeadline(time.Now().Add(e.timeout))
		send = func(stamp int64) error {
			binary.LittleEndian.PutUint64(buf[at:], uint64(stamp))
			_, err := rc.c.Write(buf)
			return err
		}
		finish = func() error { return rc.flush("done", e.timeout) }
	case RowFastpub, RowFastpubWriter:
		var opts []fastpub.Option
		if row == RowFastpubWriter {
			opts = append(opts, fastpub.WithInlineWrite(0))
		}
		c, err := e.connect(row, false, opts...)
		if err != nil {
			return r, err
		}
		defer c.Close()
		stats = c.Stats
		watchdog := time.AfterFunc(e.timeout, func() { c.Close() })
		defer watchdog.Stop()
		p := payload(size)
		send = func(stamp int64) error {
			binary.LittleEndian.PutUint64(p, uint64(stamp))
			return c.Publish(Topic, p)
		}
		finish = func() error {
			ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
			defer cancel()
			return c.PublishFlush(ctx)
		}
	default:
		return r, fmt.Errorf("sidebyside: unknown latency row %q", row)
	}
	w, err := e.begin(true)
	if err != nil {
		return r, err
	}
	t0 := nanotime() + int64(time.Millisecond)
	giveUp := t0 + 4*int64(d)
	period := int64(time.Second) // numerator: due = t0 + i·1e9/rate
	var last, lastDue int64
	sent := 0
	for i := 0; i < planned; i++ {
		due := t0 + int64(i)*period/int64(rate)
		last = spinUntil(due)
		if last > giveUp {
			break
		}
		if err := send(due); err != nil {
			return r, fmt.Errorf("sidebyside: %s send: %w", row, err)
		}
		sent++
		lastDue = due
	}
	r.Behind = last - lastDue
	if err := finish(); err != nil {
		return r, fmt.Errorf("sidebyside: %s flush: %w", row, err)
	}
	if stats != nil {
		st := stats()
		r.Writes, r.InlineWrites = st.Writes, st.InlineWrites
	}
	w.close()
	rep, err := e.sink.End()
	if err != nil {
		return r, err
	}
	r.Messages = sent
	r.Seconds = float64(w.end-w.start) / 1e9
	r.PubCPU = float64(w.cpu1-w.cpu0) / float64(sent)
	r.SinkCPU = float64(rep.CPU()) / float64(sent)
	if err := checkCount(row, rep, sent); err != nil {
		return r, err
	}
	h, err := rep.Histogram()
	if err != nil {
		return r, fmt.Errorf("sidebyside: the sink's histogram: %w", err)
	}
	if h == nil || h.TotalCount() != int64(sent) {
		n := int64(0)
		if h != nil {
			n = h.TotalCount()
		}
		return r, fmt.Errorf("sidebyside: %s: the sink's histogram holds %d values, want %d (unstamped %d)", row, n, sent, rep.Unstamped)
	}
	r.P50, r.P90, r.P99, r.P999 = h.ValueAtQuantile(50), h.ValueAtQuantile(90), h.ValueAtQuantile(99), h.ValueAtQuantile(99.9)
	r.Max, r.Mean = h.Max(), h.Mean()
	return r, nil
}
