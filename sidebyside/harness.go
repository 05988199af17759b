package sidebyside

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"
)

// Config is one harness run.
type Config struct {
	Rounds    int      `json:"rounds"`    // every row once per round; rounds interleaved
	Messages  int      `json:"messages"`  // per throughput run
	Sizes     []int    `json:"sizes"`     // payload bytes, throughput rows
	Rows      []string `json:"rows"`      // throughput rows (RowCeiling, RowFastpub1, RowFastpubN, RowStore)
	Producers int      `json:"producers"` // RowFastpubN's producers
	Batch     int      `json:"batch"`     // the ceiling's bytes per write (whole frames)
	LatRows   []string `json:"lat_rows"`  // latency rows (RowInline, RowFastpub)
	Rates     []int    `json:"rates"`     // msgs/s, latency rows
	LatSize   int      `json:"lat_size"`  // payload bytes, latency rows (≥ 8: the stamp)
	LatDur    Duration `json:"lat_duration"`
	Network   string   `json:"network"` // "unix" or "tcp" (127.0.0.1)
	AckEvery  Duration `json:"ack_interval"`
	AckFrames int      `json:"ack_frames"`
	// MaxTime bounds the whole run: no run starts after it (the report says
	// the run was cut short). RunTimeout bounds each run.
	MaxTime    Duration `json:"max_time"`
	RunTimeout Duration `json:"run_timeout"`

	Progress io.Writer `json:"-"` // one line per run (nil: none)
}

// Duration is a time.Duration that reads and writes as text in JSON.
type Duration time.Duration

// MarshalText writes "1.5s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads "1.5s".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

// DefaultConfig is the full measurement: about 2 minutes on a 2-core VM,
// never more than MaxTime (4 minutes).
func DefaultConfig() Config {
	return Config{
		Rounds:     3,
		Messages:   2_000_000,
		Sizes:      []int{32, 128, 1024},
		Rows:       []string{RowCeiling, RowFastpub1, RowFastpubN, RowStore},
		Producers:  4,
		Batch:      64 << 10,
		LatRows:    []string{RowInline, RowFastpub, RowFastpubWriter},
		Rates:      []int{20_000, 50_000, 200_000},
		LatSize:    128,
		LatDur:     Duration(3 * time.Second),
		Network:    "unix",
		AckEvery:   Duration(DefaultAckInterval),
		AckFrames:  DefaultAckFrames,
		MaxTime:    Duration(4 * time.Minute),
		RunTimeout: Duration(60 * time.Second),
	}
}

// QuickConfig is DefaultConfig cut to well under 20 seconds: one round,
// 200,000 messages per run, 0.5 s per latency run.
func QuickConfig() Config {
	c := DefaultConfig()
	c.Rounds = 1
	c.Messages = 200_000
	c.LatDur = Duration(500 * time.Millisecond)
	c.MaxTime = Duration(20 * time.Second)
	c.RunTimeout = Duration(10 * time.Second)
	return c
}

func (c *Config) validate() error {
	switch {
	case c.Rounds < 1:
		return errors.New("rounds must be at least 1")
	case len(c.Rows) > 0 && (c.Messages < 1 || len(c.Sizes) == 0):
		return errors.New("throughput rows need messages ≥ 1 and at least one size")
	case len(c.LatRows) > 0 && (len(c.Rates) == 0 || c.LatDur <= 0):
		return errors.New("latency rows need at least one rate and a positive duration")
	case c.Producers < 1:
		return errors.New("producers must be at least 1")
	case c.Batch < 1:
		return errors.New("batch must be positive")
	case c.Network != "unix" && c.Network != "tcp":
		return fmt.Errorf("network %q: unix or tcp", c.Network)
	case c.MaxTime <= 0 || c.RunTimeout <= 0:
		return errors.New("max time and run timeout must be positive")
	}
	for _, s := range c.Sizes {
		if s < 1 || s > 1<<20 {
			return fmt.Errorf("size %d: 1 B to 1 MiB", s)
		}
	}
	for _, r := range c.Rates {
		if r < 1 || r > 10_000_000 {
			return fmt.Errorf("rate %d: 1 to 10,000,000 msgs/s", r)
		}
	}
	for _, r := range c.Rows {
		switch r {
		case RowCeiling, RowFastpub1, RowFastpubN, RowStore:
		default:
			return fmt.Errorf("unknown throughput row %q (%s, %s, %s, %s)", r, RowCeiling, RowFastpub1, RowFastpubN, RowStore)
		}
	}
	for _, r := range c.LatRows {
		switch r {
		case RowInline, RowFastpub, RowFastpubWriter:
		default:
			return fmt.Errorf("unknown latency row %q (%s, %s, %s)", r, RowInline, RowFastpub, RowFastpubWriter)
		}
	}
	return nil
}

// Results is everything a harness run measured.
type Results struct {
	Config     Config          `json:"config"`
	Machine    string          `json:"machine"`
	Started    time.Time       `json:"started"`
	Seconds    float64         `json:"seconds"`
	CutShort   string          `json:"cut_short,omitempty"` // why runs were skipped, if any
	Throughput []ThroughputRun `json:"throughput"`
	Latency    []LatencyRun    `json:"latency"`
	Summary    Summary         `json:"summary"`
}

// Run runs the harness: it starts the sink child, then round after round
// every throughput row at every size and every latency row at every rate,
// in order on odd rounds and in reverse order on even ones. A failed run
// (a count that does not match, an error) ends the harness with an error,
// and the Results so far.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("sidebyside: %w", err)
	}
	res := &Results{Config: cfg, Started: time.Now(), Machine: machine()}
	sink, err := StartSink(SinkOptions{TCP: cfg.Network == "tcp", AckInterval: time.Duration(cfg.AckEvery), AckFrames: cfg.AckFrames})
	if err != nil {
		return nil, err
	}
	sinkClosed := false
	defer func() {
		if !sinkClosed {
			sink.Close()
		}
	}()
	e := &env{sink: sink, network: cfg.Network, timeout: time.Duration(cfg.RunTimeout), batch: cfg.Batch}
	deadline := res.Started.Add(time.Duration(cfg.MaxTime))
	progress := func(format string, args ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, format+"\n", args...)
		}
	}

	type job struct {
		tp  func() (ThroughputRun, error)
		lat func() (LatencyRun, error)
	}
	var jobs []job
	for _, size := range cfg.Sizes {
		for _, row := range cfg.Rows {
			size, row := size, row
			jobs = append(jobs, job{tp: func() (ThroughputRun, error) {
				switch row {
				case RowCeiling:
					return e.ceiling(size, cfg.Messages)
				case RowFastpub1:
					return e.fastpubRun(row, size, cfg.Messages, 1, false)
				case RowFastpubN:
					return e.fastpubRun(row, size, cfg.Messages, cfg.Producers, false)
				default:
					return e.fastpubRun(row, size, cfg.Messages, 1, true)
				}
			}})
		}
	}
	for _, rate := range cfg.Rates {
		for _, row := range cfg.LatRows {
			rate, row := rate, row
			jobs = append(jobs, job{lat: func() (LatencyRun, error) {
				return e.latencyRun(row, rate, cfg.LatSize, time.Duration(cfg.LatDur))
			}})
		}
	}

	var runErr error
rounds:
	for round := 1; round <= cfg.Rounds; round++ {
		for k := range jobs {
			j := jobs[k]
			if round%2 == 0 {
				j = jobs[len(jobs)-1-k]
			}
			if err := ctx.Err(); err != nil {
				res.CutShort = "interrupted: " + err.Error()
				break rounds
			}
			if time.Now().After(deadline) {
				res.CutShort = fmt.Sprintf("the time limit (%v) was reached in round %d; later runs were skipped", time.Duration(cfg.MaxTime), round)
				break rounds
			}
			if j.tp != nil {
				r, err := j.tp()
				r.Round = round
				if err != nil {
					r.Error = err.Error()
					runErr = fmt.Errorf("round %d, %s, %d B: %w", round, r.Row, r.Size, err)
					break rounds
				}
				res.Throughput = append(res.Throughput, r)
				progress("round %d  %-9s %5d B  %12.0f msgs/s  publisher %6.1f ns/msg  sink %6.1f ns/msg  (%d msgs, %.3fs)",
					round, r.Row, r.Size, r.MsgsPerSec, r.PubCPU, r.SinkCPU, r.Messages, r.Seconds)
			} else {
				r, err := j.lat()
				r.Round = round
				if err != nil {
					runErr = fmt.Errorf("round %d, %s at %d msgs/s: %w", round, r.Row, r.Rate, err)
					break rounds
				}
				res.Latency = append(res.Latency, r)
				progress("round %d  %-9s %7d/s  p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  behind at end %s",
					round, r.Row, r.Rate, fmtNs(float64(r.P50)), fmtNs(float64(r.P90)), fmtNs(float64(r.P99)),
					fmtNs(float64(r.P999)), fmtNs(float64(r.Max)), fmtNs(float64(r.Behind)))
			}
		}
	}
	res.Seconds = time.Since(res.Started).Seconds()
	res.Summary = summarize(res)
	sinkClosed = true
	if err := sink.Close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("the sink: %w", err)
	}
	if runErr != nil {
		return res, fmt.Errorf("sidebyside: %w", runErr)
	}
	return res, nil
}

func machine() string {
	return fmt.Sprintf("%s/%s, %d CPUs, GOMAXPROCS %d, %s", runtime.GOOS, runtime.GOARCH,
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())
}

// RowTitle is a row's name in the tables.
func RowTitle(row string, producers int) string {
	switch row {
	case RowCeiling:
		return "ceiling: pre-encoded frames, contiguous writes"
	case RowFastpub1:
		return "fastpub, 1 producer"
	case RowFastpubN:
		return fmt.Sprintf("fastpub, %d producers", producers)
	case RowStore:
		return "fastpub, store on (persisted acks)"
	case RowInline:
		return "inline write() floor"
	case RowFastpub:
		return "fastpub"
	case RowFastpubWriter:
		return "fastpub, inline writes off"
	}
	return row
}
