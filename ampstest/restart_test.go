package ampstest

import (
	"errors"
	"net"
	"path/filepath"
	"testing"
)

// addrOf returns the address of s's listener of network ("tcp" or "unix").
func addrOf(s *Server, network string) string {
	if network == "tcp" {
		return s.Addr().String()
	}
	return s.UnixPath()
}

// publishAcked publishes seqs with persisted acks and checks each ack's s and reason.
func publishAcked(t *testing.T, c *rawConn, reason string, seqs ...uint64) {
	t.Helper()
	var fs [][]byte
	for _, seq := range seqs {
		fs = append(fs, persistedPub(t, "t", seq))
	}
	c.send(fs...)
	for _, seq := range seqs {
		if g := c.nextAck("", "persisted", "success", reason); g.Seq != seq {
			t.Fatalf("got %s, want s=%d", g, seq)
		}
	}
}

func TestStopStartSameAddress(t *testing.T) {
	checkNoLeak(t)
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			s := startServer(t, Config{})
			addr := addrOf(s, network)
			sub := subscribeRaw(t, s, network, "sub", "t")
			pub := dial(t, s, network)
			pub.logon("pub")
			publishAcked(t, pub, "", 1, 2, 3)
			expectDeliveries(t, sub, "pub", 1, 2, 3)

			if err := s.Stop(); err != nil {
				t.Fatal(err)
			}
			// Stop returns once every connection is gone.
			if st := s.Stats(); st.Connections != 0 || st.Closes[CloseServerStopped] != 2 || st.Faults.Stops != 1 {
				t.Fatalf("after Stop: %+v", st)
			}
			pub.expectClosed()
			sub.expectClosed()
			if !s.Stopped() {
				t.Fatal("Stopped() false after Stop")
			}
			if s.flags.Load()&flagSubs != 0 {
				t.Fatal("subscriptions of the dropped connections survived Stop")
			}
			if nc, err := net.DialTimeout(network, addr, waitTimeout); err == nil {
				nc.Close()
				t.Fatal("dial succeeded while stopped")
			}
			if err := s.Listen("tcp", "127.0.0.1:0"); !errors.Is(err, ErrServerStopped) {
				t.Fatalf("Listen while stopped: %v", err)
			}
			x, y := net.Pipe()
			s.ServeConn(x)
			if _, err := y.Write([]byte{0}); err == nil {
				t.Fatal("ServeConn while stopped left the connection open")
			}
			y.Close()
			if err := s.Stop(); err != nil { // idempotent
				t.Fatal(err)
			}

			if err := s.Start(); err != nil {
				t.Fatal(err)
			}
			if s.Stopped() || addrOf(s, network) != addr {
				t.Fatalf("after Start: stopped %v, address %s, want %s", s.Stopped(), addrOf(s, network), addr)
			}
			if err := s.Start(); err != nil { // idempotent
				t.Fatal(err)
			}
			nc, err := net.DialTimeout(network, addr, waitTimeout)
			if err != nil {
				t.Fatalf("dial after Start on the same address: %v", err)
			}
			pub2 := newRawConn(t, nc)
			if g := pub2.logon("pub"); g.Seq != 3 {
				t.Fatalf("logon ack after Start %s, want s=3 (the state survives)", g)
			}
			sub2 := subscribeRaw(t, s, network, "sub", "t")
			publishAcked(t, pub2, "duplicate", 3)
			publishAcked(t, pub2, "", 4)
			expectDeliveries(t, sub2, "pub", 4)
		})
	}
}

func TestRestartKeepState(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{})
	pub := dial(t, s, "tcp")
	pub.logon("pub")
	publishAcked(t, pub, "", 1, 2, 3, 4, 5)
	if err := s.Restart(true); err != nil {
		t.Fatal(err)
	}
	pub.expectClosed()
	sub := subscribeRaw(t, s, "unix", "sub", "t")
	pub = dial(t, s, "tcp")
	if g := pub.logon("pub"); g.Seq != 5 || g.Bookmark != bm("pub", 5) {
		t.Fatalf("logon ack %s, want s=5", g)
	}
	publishAcked(t, pub, "duplicate", 4, 5) // replayed: still dropped
	publishAcked(t, pub, "", 6)
	expectDeliveries(t, sub, "pub", 6)
	if f := s.Stats().Faults; f.Stops != 1 || f.StateResets != 0 {
		t.Fatalf("faults %+v", f)
	}
}

// TestRestartForgetsState: a server that lost its log answers the logon with a lower L (a
// gap) and accepts sequences it had seen before.
func TestRestartForgetsState(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{})
	pub := dial(t, s, "tcp")
	pub.logon("pub")
	publishAcked(t, pub, "", 1, 2, 3, 4, 5)
	if err := s.Restart(false); err != nil {
		t.Fatal(err)
	}
	pub.expectClosed()
	sub := subscribeRaw(t, s, "unix", "sub", "t")
	pub = dial(t, s, "tcp")
	if g := pub.logon("pub"); g.Seq != 0 || g.Bookmark != bm("pub", 0) {
		t.Fatalf("logon ack %s, want s=0", g)
	}
	publishAcked(t, pub, "", 4, 5, 6)
	expectDeliveries(t, sub, "pub", 4, 5, 6)
	if f := s.Stats().Faults; f.Stops != 1 || f.StateResets != 1 {
		t.Fatalf("faults %+v", f)
	}
}

func TestStartFailsWhileAddressTaken(t *testing.T) {
	checkNoLeak(t)
	s := NewServer(Config{})
	t.Cleanup(func() { s.Close() })
	// The unix listener first, so that Start has opened it when the TCP port fails.
	if err := s.Listen("unix", filepath.Join(t.TempDir(), "amps.sock")); err != nil {
		t.Fatal(err)
	}
	if err := s.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr().String()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	squatter, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("could not take the port for the test: %v", err)
	}
	if err := s.Start(); err == nil {
		t.Fatal("Start succeeded on a taken port")
	}
	if !s.Stopped() {
		t.Fatal("a failed Start left the server running")
	}
	// The unix listener that did open was closed again: its path is free.
	if nc, err := net.Dial("unix", s.UnixPath()); err == nil {
		nc.Close()
		t.Fatal("unix listener left open by a failed Start")
	}
	squatter.Close()
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	c := dial(t, s, "tcp")
	c.logon("pub")
}

func TestStopAndClose(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{})
	c := dial(t, s, "tcp")
	c.logon("pub")
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close after Stop: %v", err)
	}
	for name, f := range map[string]func() error{"Stop": s.Stop, "Start": s.Start,
		"Restart": func() error { return s.Restart(true) }} {
		if err := f(); !errors.Is(err, ErrServerClosed) {
			t.Fatalf("%s after Close: %v", name, err)
		}
	}
}

// TestGroupStopOneKeepsOthers: stopping or restarting one member of a group leaves the
// connections to the others alone, and the restarted member still shares the state.
func TestGroupStopOneKeepsOthers(t *testing.T) {
	checkNoLeak(t)
	st := NewState()
	a := startServer(t, Config{State: st})
	b := startServer(t, Config{State: st})
	subB := subscribeRaw(t, b, "tcp", "subB", "t")
	pubA := dial(t, a, "tcp")
	pubA.logon("pubA")
	pubB := dial(t, b, "unix")
	pubB.logon("pubB")

	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	pubA.expectClosed()
	publishAcked(t, pubB, "", 1)
	expectDeliveries(t, subB, "pubB", 1)

	if err := a.Restart(true); err != nil { // restart while stopped: just starts
		t.Fatal(err)
	}
	pubA = dial(t, a, "tcp")
	pubA.logon("pubA")
	publishAcked(t, pubA, "", 1)
	expectDeliveries(t, subB, "pubA", 1)
	if err := a.Restart(true); err != nil {
		t.Fatal(err)
	}
	pubA.expectClosed()
	publishAcked(t, pubB, "", 2)
	expectDeliveries(t, subB, "pubB", 2)
	pubA = dial(t, a, "unix")
	if g := pubA.logon("pubB"); g.Seq != 2 {
		t.Fatalf("logon ack on a for pubB %s, want s=2 from the shared state", g)
	}
	if sb := b.Stats(); sb.Closes[CloseServerStopped] != 0 || sb.Connections != 2 {
		t.Fatalf("b affected by a's stop: %+v", sb)
	}
}

// TestGroupRestartForgetsGroupState: Restart(false) of one member forgets the group's
// records (documented: the group lost its log), and leaves the other member's connections up.
func TestGroupRestartForgetsGroupState(t *testing.T) {
	checkNoLeak(t)
	st := NewState()
	a := startServer(t, Config{State: st})
	b := startServer(t, Config{State: st})
	pubB := dial(t, b, "tcp")
	pubB.logon("pubB")
	publishAcked(t, pubB, "", 1, 2, 3)
	if err := a.Restart(false); err != nil {
		t.Fatal(err)
	}
	if got := b.LastSequence("pubB"); got != 0 {
		t.Fatalf("b's LastSequence after a lost the group's log: %d", got)
	}
	publishAcked(t, pubB, "", 2) // still connected; 2 is not a duplicate any more
	if f := a.Stats().Faults; f.StateResets != 1 {
		t.Fatalf("faults of a %+v", f)
	}
	if f := b.Stats().Faults; f.StateResets != 0 || f.Stops != 0 {
		t.Fatalf("faults of b %+v", f)
	}
}
