package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/fastpub"
	"github.com/fastpub/fastpub/loadreport"
)

const selfcheckUsage = `Usage: loadgen selfcheck [--uri URI] [--duration D] [--rounds N] [--size SIZE] [--min-ratio R]

Measures whether loadgen shows the engine's speed or its own: against one
server, in one process, it alternates a bare loop over fastpub's Publish
(the same payload and topic, nothing else per message) with a plain loadgen
run at max rate, and prints both throughputs and their ratio. Each round runs
the two legs back to back; the result is the median over the rounds of each
round's ratio (loadgen / bare), which a burst of other load on the machine
during one leg cannot move the way it moves a total. It exits 1 when that
median is below --min-ratio.

  --uri URI         the server (default: the embedded ampstest server)
  --duration D      each leg's publishing time (default 1s)
  --rounds N        bare + loadgen pairs, alternating which goes first (default 5)
  --size SIZE       payload size (default 128)
  --min-ratio R     the goal: loadgen's msgs/s at least R × the bare loop's (default 0.9)
  --quiet           no notes on stderr
`

// selfcheck is `loadgen selfcheck`.
func selfcheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen selfcheck", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	uri := fs.String("uri", "", "")
	duration := fs.Duration("duration", time.Second, "")
	rounds := fs.Int("rounds", 5, "")
	sizeStr := fs.String("size", "128", "")
	minRatio := fs.Float64("min-ratio", 0.9, "")
	quiet := fs.Bool("quiet", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, selfcheckUsage)
			return exitOK
		}
		fmt.Fprintf(stderr, "loadgen selfcheck: %v\nRun 'loadgen selfcheck -h' for usage.\n", err)
		return exitUsage
	}
	size, err := parseSize(*sizeStr)
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "loadgen selfcheck: --size: %v\n", err)
		return exitUsage
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "loadgen selfcheck: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	case *duration <= 0 || *rounds < 1 || size < 1 || size > maxPayload || *minRatio < 0:
		fmt.Fprintln(stderr, "loadgen selfcheck: --duration, --rounds and --size must be positive, --min-ratio not negative")
		return exitUsage
	}
	note := func(format string, a ...any) {
		if !*quiet {
			fmt.Fprintf(stderr, "loadgen selfcheck: "+format+"\n", a...)
		}
	}
	target := *uri
	if target == "" {
		s, err := ampstest.StartTCP(ampstest.Config{})
		if err != nil {
			fmt.Fprintf(stderr, "loadgen selfcheck: starting the embedded server: %v\n", err)
			return exitFailed
		}
		defer s.Close()
		target = s.URI(defaultMessageType)
		note("no --uri: the embedded ampstest server at %s (same process)", target)
	}
	payload := plainTemplate(size).render(nil, &fields{})
	var bare, lg []float64
	name := "loadgen-selfcheck-" + strconv.Itoa(os.Getpid())
	for i := 0; i < *rounds; i++ {
		legs := []string{"bare", "loadgen"}
		if i%2 == 1 {
			legs = []string{"loadgen", "bare"}
		}
		for _, leg := range legs {
			if ctx.Err() != nil {
				return exitInterrupted
			}
			var rate float64
			var err error
			if leg == "bare" {
				rate, err = bareLoop(ctx, target, fmt.Sprintf("%s-bare-%d", name, i), defaultTopic, payload, *duration)
			} else {
				rate, err = loadgenLeg(ctx, target, fmt.Sprintf("%s-lg-%d", name, i), size, *duration)
			}
			if err != nil {
				fmt.Fprintf(stderr, "loadgen selfcheck: round %d, %s: %v\n", i+1, leg, err)
				return exitFailed
			}
			note("round %d: %-7s %s msg/s", i+1, leg, commas(uint64(rate)))
			if leg == "bare" {
				bare = append(bare, rate)
			} else {
				lg = append(lg, rate)
			}
		}
	}
	sb, sl := sum(bare), sum(lg)
	pairs := make([]float64, len(bare))
	for i := range bare {
		pairs[i] = lg[i] / bare[i]
	}
	slices.Sort(pairs)
	ratio := pairs[len(pairs)/2]
	if len(pairs)%2 == 0 {
		ratio = (pairs[len(pairs)/2-1] + pairs[len(pairs)/2]) / 2
	}
	var b strings.Builder
	fmt.Fprintf(&b, "loadgen selfcheck\n")
	fmt.Fprintf(&b, "  target      %s\n", target)
	fmt.Fprintf(&b, "  legs        %d × %s each, payload %d B, topic %s, one connection, one producer\n", *rounds, duration.String(), size, defaultTopic)
	fmt.Fprintf(&b, "  bare loop   %s msg/s  (Publish in a loop, a clock read per 1024 messages; per round: %s)\n", commas(uint64(sb/float64(len(bare)))), rates(bare))
	fmt.Fprintf(&b, "  loadgen     %s msg/s  (loadgen --duration %s, max rate; per round: %s)\n", commas(uint64(sl/float64(len(lg)))), duration.String(), rates(lg))
	fmt.Fprintf(&b, "  ratio       %.3f  (the median of the %d rounds' loadgen / bare, range %.3f–%.3f; of the totals %.3f; goal ≥ %.2f)\n",
		ratio, len(pairs), pairs[0], pairs[len(pairs)-1], sl/sb, *minRatio)
	code := exitOK
	if ratio >= *minRatio {
		fmt.Fprintf(&b, "  result      OK\n")
	} else {
		fmt.Fprintf(&b, "  result      FAILED: loadgen reached %.3f of the bare loop, below %.2f\n", ratio, *minRatio)
		code = exitFailed
	}
	io.WriteString(stdout, b.String())
	return code
}

func sum(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s
}

func rates(v []float64) string {
	var s []string
	for _, x := range v {
		s = append(s, human(float64(uint64(x/1e4))*1e4))
	}
	return strings.Join(s, ", ")
}

// bareLoop publishes payload to topic as fast as Publish returns for d,
// then flushes: msgs/s from the first publish to the flush's ack, as
// loadgen measures its own duration.
func bareLoop(ctx context.Context, uri, name, topic string, payload []byte, d time.Duration) (float64, error) {
	client, err := fastpub.NewClient(name, fastpub.WithCloseTimeout(defaultFlushTimeout))
	if err != nil {
		return 0, err
	}
	defer client.Close()
	cctx, cancel := context.WithTimeout(ctx, defaultConnTimeout)
	defer cancel()
	if err := client.Connect(cctx, uri); err != nil {
		return 0, err
	}
	if err := client.Logon(cctx); err != nil {
		return 0, err
	}
	start := time.Now()
	var n uint64
	for {
		if err := client.Publish(topic, payload); err != nil {
			return 0, err
		}
		if n++; n&1023 == 0 && time.Since(start) >= d {
			break
		}
	}
	fctx, fcancel := context.WithTimeout(ctx, defaultFlushTimeout)
	defer fcancel()
	if err := client.PublishFlush(fctx); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// loadgenLeg runs loadgen itself, as `loadgen --uri URI --duration d`
// would, and returns its msgs/s.
func loadgenLeg(ctx context.Context, uri, name string, size int, d time.Duration) (float64, error) {
	cfg, err := parseFlags([]string{"--uri", uri, "--client-name", name, "--duration", d.String(),
		"--size", strconv.Itoa(size), "--quiet", "--json"}, io.Discard)
	if err != nil {
		return 0, err
	}
	var out, errOut bytes.Buffer
	if code := runLoad(ctx, cfg, &out, &errOut); code != exitOK {
		return 0, fmt.Errorf("loadgen exited %d: %s", code, strings.TrimSpace(errOut.String()))
	}
	rep, err := loadreport.ReadJSON(&out)
	if err != nil {
		return 0, err
	}
	return rep.MsgsPerSec, nil
}
