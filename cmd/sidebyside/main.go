// Command sidebyside measures fastpub side by side with the ceiling (pre-encoded
// frames in large writes) and an inline write() floor, against a discard sink
// in a separate process, and prints markdown tables (or JSON).
//
//	go run ./cmd/sidebyside            # the full measurement, about 2 minutes (at most 4)
//	go run ./cmd/sidebyside -quick     # under 20 seconds
//	go run ./cmd/sidebyside -json      # every run and the summary as JSON
//	go run ./cmd/sidebyside -from r.json   # the tables of a saved -json output
//	go run ./cmd/sidebyside -h         # the flags
//
// See package sidebyside for what each row means and how CPU is measured.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/fastpub/fastpub/sidebyside"
)

func main() {
	sidebyside.RunSinkIfChild()
	if len(os.Args) > 1 && os.Args[1] == "sink" {
		// The sink alone, driven on stdin (see sidebyside.SinkMain).
		if err := sidebyside.SinkMain(os.Args[2:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "sidebyside sink:", err)
			os.Exit(2)
		}
		return
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("sidebyside", flag.ContinueOnError)
	d := sidebyside.DefaultConfig()
	quick := fs.Bool("quick", false, "a short run (1 round, 200,000 messages, 0.5 s latency runs: under 20 s); other flags override it")
	asJSON := fs.Bool("json", false, "print every run and the summary as JSON instead of markdown")
	quiet := fs.Bool("q", false, "no progress lines on stderr")
	from := fs.String("from", "", "measure nothing: print the tables of a saved -json output")
	rounds := fs.Int("rounds", d.Rounds, "rounds; every row runs once per round")
	messages := fs.String("messages", strconv.Itoa(d.Messages), "messages per throughput run (k and M suffixes)")
	sizes := fs.String("sizes", ints(d.Sizes), "payload sizes in bytes, throughput rows")
	rows := fs.String("rows", strings.Join(d.Rows, ","), "throughput rows: ceiling, fastpub1, fastpubN, store (empty: none)")
	producers := fs.Int("producers", d.Producers, "producers of the fastpubN row")
	batch := fs.Int("batch", d.Batch, "the ceiling's bytes per write (whole frames)")
	latRows := fs.String("lat-rows", strings.Join(d.LatRows, ","), "latency rows: inline, fastpub, fastpub-writer (empty: none)")
	rates := fs.String("rates", ints(d.Rates), "latency rates, msgs/s (k suffix)")
	latSize := fs.Int("lat-size", d.LatSize, "payload bytes of latency rows (at least 8)")
	latDur := fs.Duration("lat-duration", time.Duration(d.LatDur), "duration of each latency run")
	network := fs.String("net", d.Network, "unix or tcp (127.0.0.1)")
	ackEvery := fs.Duration("ack-interval", time.Duration(d.AckEvery), "the sink's conflated persisted acks: at most this often")
	ackFrames := fs.Int("ack-frames", d.AckFrames, "... or after this many stored publishes")
	maxTime := fs.Duration("max-time", time.Duration(d.MaxTime), "no run starts after this")
	runTimeout := fs.Duration("run-timeout", time.Duration(d.RunTimeout), "each run's limit")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the publishing process (this one, not the sink) to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "sidebyside: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "sidebyside: %v\n", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "sidebyside: %v\n", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	if *from != "" {
		return render(*from, *asJSON)
	}
	cfg := d
	if *quick {
		cfg = sidebyside.QuickConfig()
	}
	var bad error
	fs.Visit(func(f *flag.Flag) {
		var err error
		switch f.Name {
		case "rounds":
			cfg.Rounds = *rounds
		case "messages":
			cfg.Messages, err = count(*messages)
		case "sizes":
			cfg.Sizes, err = list(*sizes)
		case "rows":
			cfg.Rows = names(*rows)
		case "producers":
			cfg.Producers = *producers
		case "batch":
			cfg.Batch = *batch
		case "lat-rows":
			cfg.LatRows = names(*latRows)
		case "rates":
			cfg.Rates, err = list(*rates)
		case "lat-size":
			cfg.LatSize = *latSize
		case "lat-duration":
			cfg.LatDur = sidebyside.Duration(*latDur)
		case "net":
			cfg.Network = *network
		case "ack-interval":
			cfg.AckEvery = sidebyside.Duration(*ackEvery)
		case "ack-frames":
			cfg.AckFrames = *ackFrames
		case "max-time":
			cfg.MaxTime = sidebyside.Duration(*maxTime)
		case "run-timeout":
			cfg.RunTimeout = sidebyside.Duration(*runTimeout)
		}
		if err != nil && bad == nil {
			bad = fmt.Errorf("-%s: %w", f.Name, err)
		}
	})
	if bad != nil {
		fmt.Fprintln(os.Stderr, "sidebyside:", bad)
		return 2
	}
	if !*quiet {
		cfg.Progress = os.Stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := sidebyside.Run(ctx, cfg)
	if res != nil {
		if *asJSON {
			_ = res.WriteJSON(os.Stdout)
		} else {
			_ = res.WriteMarkdown(os.Stdout)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func render(path string, asJSON bool) int {
	b, err := os.ReadFile(path)
	var res sidebyside.Results
	if err == nil {
		err = json.Unmarshal(b, &res)
	}
	if err == nil {
		if asJSON {
			err = res.WriteJSON(os.Stdout)
		} else {
			err = res.WriteMarkdown(os.Stdout)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sidebyside:", err)
		return 1
	}
	return 0
}

func ints(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func names(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func list(s string) ([]int, error) {
	var out []int
	for _, f := range names(s) {
		n, err := count(f)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// count reads 2000000, 2M, 200k.
func count(s string) (int, error) {
	mul := 1
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mul, s = 1000, s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mul, s = 1_000_000, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a count", s)
	}
	return n * mul, nil
}
