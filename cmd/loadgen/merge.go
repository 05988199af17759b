package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/fastpub/fastpub/loadreport"
)

const mergeUsage = `Usage: loadgen merge [--json] [--hist FILE] [--hist-unit UNIT] [--html FILE] FILE...

Merges the JSON reports (--json-file, or --json's stdout) and HdrHistogram
interval logs (--hlog) of several loadgen runs, one per machine or pod say,
into one report: messages and bytes summed, throughput over the span from
the first start to the last end, every latency histogram merged exactly (an
error if a value would be dropped), the parameters that differed listed. A
run's log next to its report is checked against it, not added twice; a log
alone adds its latencies. Each FILE is read as a report when it starts with
'{', as an interval log otherwise.

  --json            print the merged report as JSON (default: text)
  --hist FILE       write the merged histograms as .hgrm percentile files
                    (FILE: publish-to-wire; FILE-enqueue, FILE-pacer, ...)
  --hist-unit UNIT  ns, us or ms for --hist (default us)
  --html FILE       write the merged report as one HTML page
`

// merge is `loadgen merge`.
func merge(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen merge", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "")
	hist := fs.String("hist", "", "")
	unit := fs.String("hist-unit", "us", "")
	html := fs.String("html", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, mergeUsage)
			return exitOK
		}
		fmt.Fprintf(stderr, "loadgen merge: %v\nRun 'loadgen merge -h' for usage.\n", err)
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "loadgen merge: no file to merge\nRun 'loadgen merge -h' for usage.")
		return exitUsage
	}
	if _, ok := loadreport.UnitScale[*unit]; !ok {
		fmt.Fprintf(stderr, "loadgen merge: --hist-unit %q: want ns, us or ms\n", *unit)
		return exitUsage
	}
	cfg := &config{histFile: *hist, htmlFile: *html}
	if err := checkOutputs(cfg); err != nil {
		fmt.Fprintf(stderr, "loadgen merge: %v\n", err)
		return exitUsage
	}
	var reports []*loadreport.Report
	var logs []*loadreport.Log
	for _, path := range fs.Args() {
		isJSON, err := loadreport.IsJSON(path)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen merge: %v\n", err)
			return exitFailed
		}
		if isJSON {
			r, err := loadreport.ReadJSONFile(path)
			if err != nil {
				fmt.Fprintf(stderr, "loadgen merge: %v\n", err)
				return exitFailed
			}
			reports = append(reports, r)
			continue
		}
		l, err := loadreport.ReadLog(path)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen merge: %v\n", err)
			return exitFailed
		}
		logs = append(logs, l)
	}
	m, err := loadreport.Merge(reports, logs)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen merge: %v\n", err)
		return exitFailed
	}
	if *hist != "" {
		for path, h := range m.HgrmFiles(*hist) {
			if err := loadreport.WriteHgrm(path, *unit, h); err != nil {
				fmt.Fprintf(stderr, "loadgen merge: --hist: %v\n", err)
				return exitFailed
			}
			fmt.Fprintf(stderr, "loadgen merge: wrote %s\n", path)
		}
	}
	if *html != "" {
		if err := writeFile(*html, m.WriteHTML); err != nil {
			fmt.Fprintf(stderr, "loadgen merge: --html: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(stderr, "loadgen merge: wrote %s\n", *html)
	}
	if *asJSON {
		m.WriteJSON(stdout)
	} else {
		m.WriteText(stdout)
	}
	if !m.OK {
		return exitFailed
	}
	return exitOK
}
