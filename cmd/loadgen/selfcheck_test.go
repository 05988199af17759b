package main

import (
	"strings"
	"testing"
)

// TestSelfcheck runs the self-check briefly: both legs publish to the same
// server and the ratio is printed. The ratio itself is not judged here
// (speed is measured, never a timed pass/fail test); --min-ratio above any
// reachable ratio must fail the command.
func TestSelfcheck(t *testing.T) {
	s := startServer(t)
	code, out, stderr := runT(t, nil, "selfcheck", "--uri", s.URI("json"), "--duration", "150ms", "--rounds", "2", "--min-ratio", "0")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{"bare loop", "loadgen  ", "ratio", "result      OK"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(stderr, "round ") != 4 {
		t.Errorf("want 4 legs on stderr:\n%s", stderr)
	}
	if st := s.Stats(); st.ConnectionsTotal != 4 || st.Publishes == 0 {
		t.Errorf("server saw %d connections, %d publishes", st.ConnectionsTotal, st.Publishes)
	}
	code, out, _ = runT(t, nil, "selfcheck", "--uri", s.URI("json"), "--duration", "50ms", "--rounds", "1", "--min-ratio", "1000", "--quiet")
	if code != exitFailed || !strings.Contains(out, "FAILED") {
		t.Errorf("--min-ratio 1000: exit %d\n%s", code, out)
	}
	for _, bad := range [][]string{{"selfcheck", "--rounds", "0"}, {"selfcheck", "x"}, {"selfcheck", "--size", "1Q"}} {
		if code, _, _ := runT(t, nil, bad...); code != exitUsage {
			t.Errorf("%q: exit %d", bad, code)
		}
	}
	if code, _, stderr := runT(t, nil, "selfcheck", "-h"); code != exitOK || !strings.Contains(stderr, "Usage: loadgen selfcheck") {
		t.Errorf("-h: exit %d %q", code, stderr)
	}
}
