package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/loadreport"
)

// testTimeout bounds every end-to-end run.
const testTimeout = 20 * time.Second

// syncBuffer is a bytes.Buffer safe for the goroutines that write to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runT runs loadgen with args and returns its exit status, stdout and
// stderr.
func runT(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	if ctx == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
	}
	var stdout, stderr syncBuffer
	code := run(ctx, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// runJSON runs loadgen with --json and decodes the report.
func runJSON(t *testing.T, ctx context.Context, args ...string) (int, *loadreport.Report, string) {
	t.Helper()
	code, out, errOut := runT(t, ctx, append(args, "--json")...)
	var r loadreport.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("exit %d, stdout is not a JSON report: %v\nstdout:\n%s\nstderr:\n%s", code, err, out, errOut)
	}
	return code, &r, errOut
}

// startServer starts an ampstest server the test controls.
func startServer(t testing.TB) *ampstest.Server {
	t.Helper()
	s, err := ampstest.StartTCP(ampstest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestEmbeddedRun is the default mode: no --uri, the embedded server.
func TestEmbeddedRun(t *testing.T) {
	code, r, stderr := runJSON(t, nil, "--count", "3000", "--size", "100", "--producers", "2", "--topics", "t:3")
	if code != exitOK || !r.OK {
		t.Fatalf("exit %d, failures %v\n%s", code, r.Failures, stderr)
	}
	if !strings.Contains(stderr, "started the embedded ampstest server at tcp://127.0.0.1:") {
		t.Errorf("stderr does not announce the embedded server:\n%s", stderr)
	}
	if r.Messages != 3000 || r.PayloadBytes != 300_000 || r.WireBytes <= r.PayloadBytes {
		t.Errorf("messages %d payload %d wire %d", r.Messages, r.PayloadBytes, r.WireBytes)
	}
	if !r.Target.Embedded || r.Server == nil || r.Server.Publishes != 3000 {
		t.Errorf("target %+v server %+v", r.Target, r.Server)
	}
	// Flat out, 1 message in 64 per producer is timed (its enqueue
	// latency) and sampled for publish-to-wire, every sample accounted
	// for; two producers share the connection, so the report calls the
	// wire values an over-estimate.
	ws := r.Latency.WireSampling
	if l := r.Latency.Publish; l == nil || l.Count != 2*((1500+63)/64) || l.Max < l.P50 || !strings.Contains(l.What, "1 message in 64") {
		t.Errorf("publish latency %+v", l)
	}
	if ws.Every != 64 || ws.Sampled != 2*((1500+63)/64) || ws.Resolved+ws.Unresolved != ws.Sampled ||
		ws.Unresolved != ws.RolledOver+ws.Unwritten+ws.QueueFull || ws.Resolved == 0 || !ws.UpperBound || ws.LogWrites != 1024 {
		t.Errorf("wire sampling %+v", ws)
	}
	if w := r.Latency.Wire; w == nil || uint64(w.Count) != ws.Resolved || w.Min < 1 || w.Max < w.P50 ||
		!strings.Contains(w.What, "over-estimate") || !strings.Contains(w.What, "WireTime") {
		t.Errorf("wire latency %+v", w)
	}
	if r.Transport.BytesWritten < r.WireBytes || r.Transport.Writes == 0 {
		t.Errorf("transport %+v, wire bytes %d", r.Transport, r.WireBytes)
	}
	if r.Duration <= 0 || r.MsgsPerSec <= 0 || r.Runtime.PeakRSS == 0 || r.Machine.GoVersion == "" {
		t.Errorf("duration %v rate %v runtime %+v", r.Duration, r.MsgsPerSec, r.Runtime)
	}
	if r.Verify != nil || r.Latency.Delivery != nil {
		t.Error("verification ran without --verify")
	}
}

func TestTextReportAndProgress(t *testing.T) {
	code, out, stderr := runT(t, nil, "--duration", "300ms", "--rate", "2000", "--interval", "50ms")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	if !strings.HasPrefix(out, "loadgen report\n") || !strings.Contains(out, "result      OK") {
		t.Errorf("text report:\n%s", out)
	}
	// stderr is not a terminal: plain lines, no carriage returns.
	var lines int
	sc := bufio.NewScanner(strings.NewReader(stderr))
	for sc.Scan() {
		if l := sc.Text(); strings.Contains(l, "msg/s") {
			lines++
			for _, want := range []string{"MB/s", "total", "ring ", "%", "errors 0"} {
				if !strings.Contains(l, want) {
					t.Errorf("progress line %q lacks %q", l, want)
				}
			}
		}
	}
	if lines < 2 || strings.Contains(stderr, "\r") {
		t.Errorf("%d progress lines (want ≥ 2, no \\r):\n%q", lines, stderr)
	}
}

func TestQuiet(t *testing.T) {
	code, out, stderr := runT(t, nil, "--count", "100", "--quiet")
	if code != exitOK || stderr != "" || !strings.Contains(out, "result      OK") {
		t.Errorf("exit %d, stderr %q, stdout:\n%s", code, stderr, out)
	}
}

// TestPacedRun: at a fixed rate the run lasts count/rate, not less.
func TestPacedRun(t *testing.T) {
	code, r, stderr := runJSON(t, nil, "--count", "400", "--rate", "2000", "--producers", "2", "--quiet")
	if code != exitOK {
		t.Fatalf("exit %d: %v\n%s", code, r.Failures, stderr)
	}
	// Message 399 is due at 199.5 ms; nothing goes out early.
	if r.SendDuration < 0.1995 || r.SendDuration > 5 {
		t.Errorf("sending took %.3fs, want ≥ 0.1995s", r.SendDuration)
	}
	if r.Messages != 400 || !strings.Contains(r.Latency.Publish.What, "due time") {
		t.Errorf("messages %d, latency %+v", r.Messages, r.Latency.Publish)
	}
	// Paced, the wire latency counts from the due time too, and at 2000
	// msg/s every sample resolves (the writer is idle between messages).
	if w, ws := r.Latency.Wire, r.Latency.WireSampling; w == nil || !strings.Contains(w.What, "due time") ||
		ws.Sampled != 2*(200/16+1) || ws.Resolved != ws.Sampled {
		t.Errorf("wire latency %+v, sampling %+v", w, ws)
	}
}

func TestAckProcessedAndAPIs(t *testing.T) {
	for _, api := range []string{"publish", "try", "message"} {
		t.Run(api, func(t *testing.T) {
			code, r, stderr := runJSON(t, nil, "--count", "2000", "--ack", "processed", "--flush-every", "100",
				"--api", api, "--connections", "2", "--quiet")
			if code != exitOK {
				t.Fatalf("exit %d: %v\n%s", code, r.Failures, stderr)
			}
			if f := r.Latency.Flush; f == nil || f.Count != 20 {
				t.Errorf("flush latency %+v, want 20 flushes", f)
			}
			if r.Server.Publishes != 2000 || r.Workload.API != api {
				t.Errorf("server %+v workload %+v", r.Server, r.Workload)
			}
		})
	}
}

func TestVerifySuccess(t *testing.T) {
	s := startServer(t)
	code, r, stderr := runJSON(t, nil, "--uri", s.URI("json"), "--verify", "--count", "5000",
		"--producers", "2", "--connections", "2", "--topics", "v:3", "--quiet")
	if code != exitOK {
		t.Fatalf("exit %d: %v\n%s", code, r.Failures, stderr)
	}
	v := r.Verify
	if v == nil || v.Expected != 5000 || v.Received != 5000 || v.Lost != 0 || v.Duplicated != 0 || v.OutOfOrder != 0 || v.Topics != 3 {
		t.Fatalf("verify %+v", v)
	}
	if !strings.HasPrefix(v.Tail, "complete") {
		t.Errorf("tail %q: the end markers should end the wait", v.Tail)
	}
	if d := r.Latency.Delivery; d == nil || d.Count != 5000 {
		t.Errorf("delivery latency %+v", d)
	}
	if r.Target.Embedded || r.Server != nil {
		t.Error("an external --uri reported as embedded")
	}
}

// TestVerifyDetectsLoss: the server accepts and acks message 10 but never
// delivers it; loadgen must say so and exit 1.
func TestVerifyDetectsLoss(t *testing.T) {
	s := startServer(t)
	s.DropDelivery(10)
	start := time.Now()
	code, r, stderr := runJSON(t, nil, "--uri", s.URI("json"), "--verify", "--count", "1000",
		"--verify-timeout", "5s", "--quiet")
	if code != exitFailed || r.OK {
		t.Fatalf("exit %d OK %v, want exit 1\n%s", code, r.OK, stderr)
	}
	if v := r.Verify; v == nil || v.Lost != 1 || v.Received != 999 || v.Expected != 1000 {
		t.Fatalf("verify %+v", r.Verify)
	}
	if !strings.Contains(strings.Join(r.Failures, ";"), "1 message(s) lost") {
		t.Errorf("failures %v", r.Failures)
	}
	if !strings.HasPrefix(r.Verify.Tail, "complete") || time.Since(start) > 4*time.Second {
		t.Errorf("tail %q after %v: the markers should end the wait before the timeout", r.Verify.Tail, time.Since(start))
	}
	// The text report says it too.
	s2 := startServer(t)
	s2.DropDelivery(3)
	code, out, _ := runT(t, nil, "--uri", s2.URI("json"), "--verify", "--count", "50", "--quiet")
	if code != exitFailed || !strings.Contains(out, "lost 1") || !strings.Contains(out, "result      FAILED") {
		t.Errorf("exit %d, text report:\n%s", code, out)
	}
}

// TestVerifyWithTemplate runs the shipped example template.
func TestVerifyWithTemplate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join("templates", "tick.json")
	s := startServer(t)
	code, r, stderr := runJSON(t, nil, "--uri", s.URI("json"), "--template", path, "--verify", "--count", "500", "--quiet",
		"--hist", filepath.Join(dir, "lat.hgrm"))
	if code != exitOK || r.Verify.Received != 500 {
		t.Fatalf("exit %d verify %+v\n%s", code, r.Verify, stderr)
	}
	for _, f := range []string{"lat.hgrm", "lat-enqueue.hgrm", "lat-delivery.hgrm"} {
		if b, err := os.ReadFile(filepath.Join(dir, f)); err != nil || !bytes.Contains(b, []byte("Percentile")) {
			t.Errorf("%s: %v %q", f, err, b)
		}
	}
}

// TestVerifyIgnoresForeign: another publisher on a verified topic does not
// fail the run.
func TestVerifyIgnoresForeign(t *testing.T) {
	v := newVerifier(nil, 7, []string{"a"}, 1, 2)
	now := int64(1000)
	msg := func(run uint32, prod, seq uint64) []byte {
		return appendStamp([]byte(`{"v":"`), run, 'P', prod, seq, 500)
	}
	v.handle([]byte("a"), []byte("no stamp"), now)
	v.handle([]byte("a"), msg(8, 0, 1), now) // another run
	v.handle([]byte("b"), msg(7, 0, 1), now) // a topic not ours
	v.handle([]byte("a"), msg(7, 5, 1), now) // no such producer
	v.handle([]byte("a"), msg(7, 0, 0), now) // sequence 0
	v.handle([]byte("a"), msg(7, 0, 1<<40), now)
	v.handle([]byte("a"), msg(7, 0, 1), now)
	v.handle([]byte("a"), msg(7, 0, 3), now)
	v.handle([]byte("a"), msg(7, 0, 2), now) // late: out of order
	v.handle([]byte("a"), msg(7, 0, 3), now) // again: duplicate
	v.handle([]byte("a"), msg(7, 1, 1), now)
	close(v.done)
	res := v.result([]uint64{4, 1}, 1)
	want := loadreport.Verify{Topics: 1, Expected: 5, Received: 4, Lost: 1, Duplicated: 1, OutOfOrder: 1, Foreign: 6}
	if *res != want {
		t.Errorf("result %+v\nwant   %+v", *res, want)
	}
	if v.hist.TotalCount() != 4 || v.hist.Max() < 500 {
		t.Errorf("delivery histogram: %d values, max %d", v.hist.TotalCount(), v.hist.Max())
	}
}

// TestPublishErrorFails: the server drops the connection mid-run.
func TestPublishErrorFails(t *testing.T) {
	s := startServer(t)
	s.CloseAfterFrames(200)
	code, r, stderr := runJSON(t, nil, "--uri", s.URI("json"), "--count", "1M", "--quiet")
	if code != exitFailed || r.OK || r.Errors.Count == 0 || r.Errors.First == "" {
		t.Fatalf("exit %d OK %v errors %+v\n%s", code, r.OK, r.Errors, stderr)
	}
	if r.Messages >= 1_000_000 {
		t.Errorf("%d messages published through a closed connection", r.Messages)
	}
}

func TestConnectFailure(t *testing.T) {
	s := startServer(t)
	uri := s.URI("json")
	s.Close()
	code, out, stderr := runT(t, nil, "--uri", uri, "--count", "10", "--connect-timeout", "2s")
	if code != exitFailed || out != "" || !strings.Contains(stderr, "connection 0") {
		t.Errorf("exit %d stdout %q stderr %q", code, out, stderr)
	}
	code, r, _ := runJSON(t, nil, "--uri", uri, "--count", "10", "--connect-timeout", "2s")
	if code != exitFailed || r.OK || len(r.Failures) != 1 {
		t.Errorf("exit %d report %+v", code, r)
	}
}

// TestInterrupt: cancelling the context (SIGINT in main) stops the run
// cleanly, prints the report and exits 130.
func TestInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Generous: connecting and subscribing under -race on a loaded 2-core
	// machine took more than 300 ms, and the run had sent nothing yet.
	time.AfterFunc(1500*time.Millisecond, cancel)
	start := time.Now()
	code, r, stderr := runJSON(t, ctx, "--duration", "1m", "--rate", "5000", "--verify")
	if code != exitInterrupted || !r.Interrupted || !r.OK {
		t.Fatalf("exit %d interrupted %v failures %v\n%s", code, r.Interrupted, r.Failures, stderr)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("took %v to stop", time.Since(start))
	}
	if r.Messages == 0 || r.Verify == nil || r.Verify.Lost != 0 || r.Verify.Received != r.Messages {
		t.Errorf("messages %d verify %+v", r.Messages, r.Verify)
	}
	if !strings.Contains(stderr, "interrupted") {
		t.Errorf("stderr:\n%s", stderr)
	}
}

func TestUsageExitCodes(t *testing.T) {
	if code, _, stderr := runT(t, nil, "--count", "x"); code != exitUsage || !strings.Contains(stderr, "--count") || !strings.Contains(stderr, "loadgen -h") {
		t.Errorf("exit %d stderr %q", code, stderr)
	}
	if code, _, stderr := runT(t, nil, "--ack", "persisted", "--buffer", "1MiB"); code != exitUsage || !strings.Contains(stderr, "--store-bytes") {
		t.Errorf("exit %d stderr %q", code, stderr)
	}
	if code, _, stderr := runT(t, nil, "-h"); code != exitOK || !strings.Contains(stderr, "Usage: loadgen") {
		t.Errorf("exit %d stderr %q", code, stderr)
	}
}

func TestDiagnostics(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "cpu.out")
	code, _, stderr := runT(t, nil, "--count", "1000", "--cpuprofile", prof, "--pprof", "127.0.0.1:0")
	if code != exitOK || !strings.Contains(stderr, "pprof at http://127.0.0.1:") {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if st, err := os.Stat(prof); err != nil || st.Size() == 0 {
		t.Errorf("cpu profile: %v", err)
	}
	if code, _, _ := runT(t, nil, "--count", "10", "--pprof", "256.0.0.1:x"); code != exitFailed {
		t.Errorf("bad --pprof address: exit %d", code)
	}
}

// TestServe runs `loadgen serve`, publishes to it with a second loadgen, and
// stops it.
func TestServe(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			args := []string{"serve", "--listen", "127.0.0.1:0", "--interval", "20ms"}
			if network == "unix" {
				args = []string{"serve", "--unix", filepath.Join(t.TempDir(), "amps.sock"), "--quiet"}
			}
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			var stdout, stderr syncBuffer
			done := make(chan int, 1)
			go func() { done <- run(ctx, args, &stdout, &stderr) }()
			var uri string
			for deadline := time.Now().Add(5 * time.Second); uri == "" && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				if line, _, ok := strings.Cut(stdout.String(), "\n"); ok {
					uri = line
				}
			}
			if !strings.HasPrefix(uri, network+"://") {
				cancel()
				t.Fatalf("no %s URI on stdout: %q\n%s", network, stdout.String(), stderr.String())
			}
			code, r, errOut := runJSON(t, nil, "--uri", uri, "--count", "500", "--verify", "--quiet")
			if code != exitOK || r.Verify.Received != 500 {
				t.Errorf("publishing to serve: exit %d %+v\n%s", code, r.Verify, errOut)
			}
			time.Sleep(50 * time.Millisecond)
			cancel()
			select {
			case code := <-done:
				if code != exitOK {
					t.Errorf("serve exit %d", code)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("serve did not stop")
			}
			if !strings.Contains(stderr.String(), "stopped after") || !strings.Contains(stderr.String(), "publish with:") {
				t.Errorf("serve stderr:\n%s", stderr.String())
			}
			if network == "tcp" && !strings.Contains(stderr.String(), "connections") {
				t.Errorf("no counters line:\n%s", stderr.String())
			}
		})
	}
}

func TestServeUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"serve", "-h"}, exitOK, "Usage: loadgen serve"},
		{[]string{"serve", "--bogus"}, exitUsage, "flag provided but not defined"},
		{[]string{"serve", "x"}, exitUsage, "unexpected argument"},
		{[]string{"serve", "--listen", ""}, exitUsage, "nothing to listen on"},
		{[]string{"serve", "--interval", "1ms"}, exitUsage, "--interval"},
		{[]string{"serve", "--listen", "256.1.1.1:0"}, exitFailed, "listen"},
	} {
		code, _, stderr := runT(t, nil, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("%q: exit %d stderr %q, want %d and %q", tt.args, code, stderr, tt.code, tt.want)
		}
	}
}

func TestProgressTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, tty: true, stopCh: make(chan struct{})}
	p.print("one")
	p.print("two")
	p.stopLoop()
	if got, want := buf.String(), "\rone\x1b[K\rtwo\x1b[K\n"; got != want {
		t.Errorf("terminal output %q, want %q", got, want)
	}
	buf.Reset()
	p = &progress{w: &buf, stopCh: make(chan struct{})}
	p.print("one")
	p.print("two")
	p.stopLoop()
	if got, want := buf.String(), "one\ntwo\n"; got != want {
		t.Errorf("plain output %q, want %q", got, want)
	}
	if isTerminal(&buf) {
		t.Error("a buffer is not a terminal")
	}
}

// TestNoGoroutineLeak: a run leaves no goroutine behind (clients, server,
// subscriber, progress, pprof are all closed and waited for).
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	code, _, stderr := runT(t, nil, "--count", "2000", "--verify", "--connections", "2", "--pprof", "127.0.0.1:0", "--quiet")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

func TestInterruptWhileConnecting(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, _, stderr := runT(t, ctx, "--count", "10")
	if code != exitInterrupted {
		t.Errorf("exit %d, want %d\n%s", code, exitInterrupted, stderr)
	}
}

// TestStalledServerFails: a server that stops reading cannot hang a run,
// even one bounded only by --count: a publish blocked for --flush-timeout
// fails it.
func TestStalledServerFails(t *testing.T) {
	s := startServer(t)
	t.Cleanup(s.ResumeReading)
	// Stop the server reading once the client has logged on.
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
	start := time.Now()
	code, r, stderr := runJSON(t, nil, "--uri", s.URI("json"), "--count", "100M", "--flush-timeout", "300ms",
		"--buffer", "64KiB", "--quiet")
	if code != exitFailed || !strings.Contains(r.Errors.First, "blocked for longer than --flush-timeout") {
		t.Fatalf("exit %d errors %+v\n%s", code, r.Errors, stderr)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v", el)
	}
}

// TestFlushTimeoutFails: flush acks that never come fail the run after
// --flush-timeout.
func TestFlushTimeoutFails(t *testing.T) {
	s := startServer(t)
	s.WithholdAcks(true)
	t.Cleanup(func() { s.WithholdAcks(false) })
	start := time.Now()
	code, r, stderr := runJSON(t, nil, "--uri", s.URI("json"), "--count", "100", "--ack", "processed", "--flush-every", "10",
		"--flush-timeout", "200ms", "--quiet")
	if code != exitFailed || !strings.Contains(r.Errors.First, "--flush-timeout") {
		t.Fatalf("exit %d errors %+v\n%s", code, r.Errors, stderr)
	}
	if r.Messages != 10 {
		t.Errorf("%d messages: the producer should stop at its first flush", r.Messages)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v", el)
	}
}

// TestFlatRun is the default run's loop (loopFlat: one topic, one payload,
// flat out): exactly --count messages, a count that is not a multiple of
// the 64-message batch, 1 message in 64 timed and sampled, every sample
// accounted for.
func TestFlatRun(t *testing.T) {
	const n = 100_003
	code, r, stderr := runJSON(t, nil, "--count", "100003")
	if code != exitOK || !r.OK {
		t.Fatalf("exit %d, failures %v\n%s", code, r.Failures, stderr)
	}
	if r.Messages != n || r.Server == nil || r.Server.Publishes != n {
		t.Fatalf("messages %d, server %+v: want %d", r.Messages, r.Server, n)
	}
	want := uint64((n + 63) / 64)
	ws := r.Latency.WireSampling
	if l := r.Latency.Publish; l == nil || uint64(l.Count) != want || l.Max < l.P50 {
		t.Errorf("publish latency %+v, want %d samples", l, want)
	}
	if ws.Every != 64 || ws.Sampled != want || ws.Resolved+ws.Unresolved != ws.Sampled || ws.Resolved == 0 {
		t.Errorf("wire sampling %+v, want %d samples", ws, want)
	}
}
