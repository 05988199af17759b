package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fastpub/fastpub/loadreport"
)

// TestHlogAndMerge: three runs write their JSON reports and interval logs;
// each log's intervals add up to its report's histograms exactly (the
// standard HdrHistogram log reader reads them back), and `loadgen merge`
// sums the runs.
func TestHlogAndMerge(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t)
	var files []string
	var want uint64
	var wireWant int64
	for i := 0; i < 3; i++ {
		js, hl := filepath.Join(dir, fmt.Sprintf("run-%d.json", i)), filepath.Join(dir, fmt.Sprintf("run-%d.hlog", i))
		args := []string{"--uri", s.URI("json"), "--client-name", fmt.Sprintf("pod-%d", i), "--duration", "250ms", "--interval", "50ms",
			"--quiet", "--json-file", js, "--hlog", hl}
		if i == 2 {
			args = append(args, "--rate", "20k", "--ack", "processed", "--flush-every", "500")
		}
		if code, out, stderr := runT(t, nil, args...); code != exitOK {
			t.Fatalf("run %d: exit %d\n%s\n%s", i, code, out, stderr)
		}
		r, err := loadreport.ReadJSONFile(js)
		if err != nil {
			t.Fatal(err)
		}
		l, err := loadreport.ReadLog(hl)
		if err != nil {
			t.Fatal(err)
		}
		if l.Run != r.Run || len(l.Intervals) < 3 {
			t.Errorf("run %d: log of run %q with %d intervals, report of %q", i, l.Run, len(l.Intervals), r.Run)
		}
		totals, err := l.Totals()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range r.Latency.Kinds() {
			if h := totals[k.Tag]; h == nil || !h.Equals(k.Stats.Hist) {
				t.Errorf("run %d: the %s intervals do not add up to the report's histogram", i, k.Tag)
			}
		}
		if i == 2 && (totals["pacer"] == nil || totals["flush"] == nil) {
			t.Errorf("paced run with flushes: tags %v", totals)
		}
		if n := len(r.Timeline); n < 3 || r.Timeline[n-1].Messages != r.Messages {
			t.Errorf("run %d: timeline %v, %d messages", i, r.Timeline, r.Messages)
		}
		want += r.Messages
		wireWant += r.Latency.Wire.Count
		files = append(files, js, hl)
	}
	code, out, stderr := runT(t, nil, append([]string{"merge", "--json", "--hist", filepath.Join(dir, "m.hgrm")}, files...)...)
	if code != exitOK {
		t.Fatalf("merge: exit %d\n%s\n%s", code, out, stderr)
	}
	var m loadreport.Report
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	if m.Messages != want || m.Latency.Wire.Count != wireWant || len(m.Merged.Runs) != 3 || len(m.Merged.Logs) != 3 {
		t.Errorf("merged %d messages (want %d), %d wire values (want %d), runs %v", m.Messages, want, m.Latency.Wire.Count, wireWant, m.Merged.Runs)
	}
	if !strings.Contains(strings.Join(m.Merged.Differs, ";"), "rate") {
		t.Errorf("differs %v: the third run was paced", m.Merged.Differs)
	}
	for _, f := range []string{"m.hgrm", "m-enqueue.hgrm", "m-pacer.hgrm", "m-flush.hgrm"} {
		if b, err := os.ReadFile(filepath.Join(dir, f)); err != nil || !strings.Contains(string(b), "Percentile") {
			t.Errorf("%s: %v", f, err)
		}
	}
	html := filepath.Join(dir, "m.html")
	code, out, _ = runT(t, nil, append([]string{"merge", "--html", html}, files...)...)
	if code != exitOK || !strings.Contains(out, "3 runs merged") {
		t.Errorf("text merge: exit %d\n%s", code, out)
	}
	if b, err := os.ReadFile(html); err != nil || strings.Count(string(b), "<svg") != 2 || !strings.Contains(string(b), "3 runs merged") {
		t.Errorf("--html: %v", err)
	}
	// The same run twice is refused; so is nothing, or a missing file.
	if code, _, stderr := runT(t, nil, "merge", files[0], files[0]); code != exitFailed || !strings.Contains(stderr, "twice") {
		t.Errorf("same report twice: exit %d %q", code, stderr)
	}
	if code, _, _ := runT(t, nil, "merge"); code != exitUsage {
		t.Errorf("merge with no file: exit %d", code)
	}
	if code, _, _ := runT(t, nil, "merge", filepath.Join(dir, "none.json")); code != exitFailed {
		t.Errorf("missing file: exit %d", code)
	}
	if code, _, _ := runT(t, nil, "merge", "--hist", filepath.Join(dir, "no", "x.hgrm"), files[0]); code != exitUsage {
		t.Errorf("unwritable --hist: exit %d", code)
	}
}
