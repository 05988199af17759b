package ampstest

import (
	"errors"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fastpub/fastpub/frame"
)

func TestListenAndURIs(t *testing.T) {
	checkNoLeak(t)
	s, err := StartTCP(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URI("json"), "tcp://127.0.0.1:") || !strings.HasSuffix(s.URI("json"), "/amps/json") {
		t.Fatalf("URI %q", s.URI("json"))
	}
	if s.UnixURI("json") != "" || s.UnixPath() != "" {
		t.Fatal("unix URI without a unix listener")
	}
	path := filepath.Join(t.TempDir(), "s.sock")
	u, err := StartUnix(Config{}, path)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if got, want := u.UnixURI("json"), "unix://localhost:0/amps/json?path="+path; got != want {
		t.Fatalf("UnixURI %q, want %q", got, want)
	}
	if u.URI("") != "" || u.Addr() != nil {
		t.Fatal("tcp URI without a tcp listener")
	}
	if got := s.URI(""); !strings.HasSuffix(got, "/amps") {
		t.Fatalf("URI without message type %q", got)
	}
	if _, err := StartUnix(Config{}, path); err == nil {
		t.Fatal("second listener on the same path succeeded")
	}
	u.Close()
	if err := u.Listen("tcp", "127.0.0.1:0"); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Listen after Close: %v", err)
	}
	if err := u.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestServeConnPipe(t *testing.T) {
	checkNoLeak(t)
	s := NewServer(Config{})
	defer s.Close()
	a, b := net.Pipe()
	s.ServeConn(a)
	c := newRawConn(t, b)
	c.logon("pipe")
	c.send(pubFrame(t, frame.Publish{Topic: "t", CommandID: "p", Ack: frame.AckProcessed}, "x"))
	c.nextAck("p", "processed", "success", "")
	s.Close()
	c.expectClosed()
	x, y := net.Pipe()
	defer y.Close()
	s.ServeConn(x) // after Close: just closed
	if _, err := y.Write([]byte{0}); err == nil {
		t.Fatal("ServeConn after Close left the connection open")
	}
}

// TestCloseNoLeak drives every kind of goroutine and blocked state, then checks that Close
// returns promptly and every goroutine is gone.
func TestCloseNoLeak(t *testing.T) {
	base := runtime.NumGoroutine()
	var logMu sync.Mutex
	logged := 0
	s := NewServer(Config{Persisted: Conflated{Interval: time.Hour}, MaxOutbound: 32 << 10,
		Logf: func(format string, args ...any) {
			logMu.Lock()
			logged++
			logMu.Unlock()
		}})
	if err := s.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if err := s.Listen("unix", filepath.Join(t.TempDir(), "s.sock")); err != nil {
		t.Fatal(err)
	}
	sub := dial(t, s, "unix")
	sub.logon("sub")
	sub.send(subFrame(t, frame.CmdSubscribe, "s", "t", "s1"))
	sub.nextAck("s", "processed", "success", "")
	hb := dial(t, s, "tcp")
	hb.logon("hb")
	hb.send(frame.AppendHeartbeatStart(nil, 1))
	pub := dial(t, s, "tcp")
	pub.logon("pub")
	pub.send(pubFrame(t, frame.Publish{Topic: "t", Ack: frame.AckPersisted, Seq: 1}, "x")) // conflated ack pending
	s.DelayAcks(time.Hour)
	pub.send(pubFrame(t, frame.Publish{Topic: "t", CommandID: "p", Ack: frame.AckProcessed}, "x")) // delayed ack
	pub.send(subFrame(t, frame.CmdSubscribe, "barrier", "other", "b1"))                            // its ack is never delayed
	pub.nextAck("barrier", "processed", "success", "")
	s.PauseReading()
	idle, err := net.Dial("tcp", s.Addr().String()) // paused before its first frame
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	waitFor(t, "4 connections", func() bool { return s.Stats().Connections == 4 })

	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select { // a watchdog: Close must not wait for any of the blocked states above
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Close blocked")
	}
	sub.expectClosed()
	hb.expectClosed()
	pub.expectClosed()
	for _, c := range []*rawConn{sub, hb, pub} {
		c.close()
	}
	idle.Close()
	deadline := time.Now().Add(waitTimeout)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines %d > baseline %d\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := s.Stats(); st.Closes[CloseServerClosed] != 4 || st.Connections != 0 {
		t.Fatalf("stats %+v", st)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if logged == 0 {
		t.Fatal("Logf never called")
	}
}
