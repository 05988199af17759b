package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOutputPathsCheckedBeforePublishing: an output file that cannot be
// written fails the command line at once (exit 2, the flag named), before
// any connection is made, instead of after the whole run.
func TestOutputPathsCheckedBeforePublishing(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no", "such", "dir")
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--hist", filepath.Join(missing, "lat.hgrm")}, "--hist: cannot write " + filepath.Join(missing, "lat.hgrm") + ": directory " + missing + " does not exist"},
		{[]string{"--hist", dir}, "--hist: " + dir + " is a directory"},
		{[]string{"--hist", filepath.Join(notDir, "lat.hgrm")}, "is not a directory"},
		{[]string{"--cpuprofile", filepath.Join(missing, "cpu.out")}, "--cpuprofile: cannot write"},
		{[]string{"--verify", "--hist", filepath.Join(dir, "ok.hgrm"), "--cpuprofile", filepath.Join(missing, "cpu.out")}, "--cpuprofile"},
	} {
		s := startServer(t)
		start := time.Now()
		code, out, stderr := runT(t, nil, append([]string{"--uri", s.URI("json"), "--count", "100M"}, tt.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) || out != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", tt.args, code, out, stderr, tt.want)
		}
		if n := s.Stats().ConnectionsTotal; n != 0 {
			t.Errorf("%q: %d connection(s) made before the output check failed", tt.args, n)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("%q: took %v to fail", tt.args, el)
		}
	}
	// The probe leaves nothing behind, and a good path passes.
	c := mustParse(t, "--hist", filepath.Join(dir, "lat.hgrm"), "--verify")
	if err := checkOutputs(c); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 || ents[0].Name() != "file" {
		t.Errorf("the check left files behind: %v", ents)
	}
}

// TestShutdownBoundedByOneTimeout: a server that stops reading (as one
// stopped with SIGSTOP) stalls the producers; loadgen fails the run after
// --flush-timeout and must then return at once, not wait for Close to drain
// a send buffer nobody reads (which took a second --flush-timeout).
func TestShutdownBoundedByOneTimeout(t *testing.T) {
	s := startServer(t)
	t.Cleanup(s.ResumeReading)
	go func() {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			for _, c := range s.Stats().PerClient {
				if c.Logons > 0 {
					s.PauseReading()
					return
				}
			}
		}
	}()
	const timeout = 2 * time.Second
	start := time.Now()
	code, r, stderr := runJSON(t, nil, "--uri", s.URI("json"), "--count", "100M", "--flush-timeout", timeout.String(),
		"--buffer", "64KiB", "--quiet")
	el := time.Since(start)
	if code != exitFailed || !strings.Contains(r.Errors.First, "blocked for longer than --flush-timeout") {
		t.Fatalf("exit %d errors %+v\n%s", code, r.Errors, stderr)
	}
	// The stall is detected after one timeout; a second one (Close
	// draining) would put this at 2 × timeout or more.
	if el < timeout || el > timeout+timeout*3/4 {
		t.Errorf("returned after %v, want between %v and %v (one --flush-timeout, not two)", el, timeout, timeout+timeout*3/4)
	}
}
