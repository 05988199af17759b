package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/fastpub/fastpub/ampstest"
)

const serveUsage = `Usage: loadgen serve [--listen ADDR] [--unix PATH] [flags]

Runs the embedded ampstest server on its own until interrupted (Ctrl-C,
SIGTERM), for other loadgen processes and other clients. It prints the
connection string of each listener on stdout, one per line, and a line of
counters on stderr every --interval.

  --listen ADDR        TCP address to listen on (default 127.0.0.1:9007, the AMPS
                       default port; 127.0.0.1:0 picks a free port; "" for none)
  --unix PATH          also (or, without --listen, only) listen on this unix socket
  --message-type TYPE  message type in the printed connection strings (default json)
  --interval D         counters period (default 1s)
  --quiet              no counters line

The server is strict (it closes a connection on any malformed frame, as AMPS
does), accepts every logon, keeps nothing on disk, and fans publishes out to
subscribers. It is a test server: what it measures is the client.
`

// serve is `loadgen serve`.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	listen := fs.String("listen", "127.0.0.1:9007", "")
	unixPath := fs.String("unix", "", "")
	mt := fs.String("message-type", defaultMessageType, "")
	interval := fs.Duration("interval", time.Second, "")
	quiet := fs.Bool("quiet", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, serveUsage)
			return exitOK
		}
		fmt.Fprintf(stderr, "loadgen serve: %v\nRun 'loadgen serve -h' for usage.\n", err)
		return exitUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loadgen serve: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *unixPath != "" && !set["listen"] {
		*listen = ""
	}
	if *listen == "" && *unixPath == "" {
		fmt.Fprintln(stderr, "loadgen serve: nothing to listen on: give --listen or --unix")
		return exitUsage
	}
	if *interval < 10*time.Millisecond {
		fmt.Fprintln(stderr, "loadgen serve: --interval must be at least 10ms")
		return exitUsage
	}

	s := ampstest.NewServer(ampstest.Config{})
	defer s.Close()
	if *listen != "" {
		if err := s.Listen("tcp", *listen); err != nil {
			fmt.Fprintf(stderr, "loadgen serve: %v\n", err)
			return exitFailed
		}
	}
	if *unixPath != "" {
		if err := s.Listen("unix", *unixPath); err != nil {
			fmt.Fprintf(stderr, "loadgen serve: %v\n", err)
			return exitFailed
		}
	}
	var uris []string
	if u := s.URI(*mt); u != "" {
		uris = append(uris, u)
	}
	if u := s.UnixURI(*mt); u != "" {
		uris = append(uris, u)
	}
	for _, u := range uris {
		fmt.Fprintln(stdout, u)
	}
	fmt.Fprintf(stderr, "loadgen serve: ampstest server listening; interrupt (Ctrl-C) to stop\n")
	for _, u := range uris {
		fmt.Fprintf(stderr, "  publish with:  loadgen --uri '%s'\n", u)
	}

	start := time.Now()
	t := time.NewTicker(*interval)
	defer t.Stop()
	var last ampstest.Stats
	lastT := start
	tty := isTerminal(stderr)
	drawn := false
	for {
		select {
		case <-ctx.Done():
			if drawn {
				fmt.Fprintln(stderr)
			}
			st := s.Stats()
			s.Close()
			fmt.Fprintf(stderr, "loadgen serve: stopped after %s: %s publishes, %s deliveries, %s connections\n",
				time.Since(start).Round(time.Millisecond), commas(st.Publishes), commas(st.Delivered), commas(st.ConnectionsTotal))
			return exitOK
		case now := <-t.C:
			if *quiet {
				continue
			}
			st := s.Stats()
			dt := now.Sub(lastT).Seconds()
			line := fmt.Sprintf("[%6.1fs] connections %d  publishes %11s/s  %7.1f MB/s in  deliveries %11s/s  total %s",
				now.Sub(start).Seconds(), st.Connections,
				commas(uint64(float64(st.Publishes-last.Publishes)/dt+0.5)),
				float64(st.Bytes-last.Bytes)/dt/1e6,
				commas(uint64(float64(st.Delivered-last.Delivered)/dt+0.5)),
				commas(st.Publishes))
			last, lastT = st, now
			if tty {
				fmt.Fprint(stderr, "\r"+line+"\x1b[K")
				drawn = true
			} else {
				fmt.Fprintln(stderr, line)
			}
		}
	}
}
