package ampstest

import (
	"testing"
	"time"

	"github.com/fastpub/fastpub/frame"
)

// The heartbeat tests take seconds (the unit is one second), so they run in parallel.

func TestHeartbeatServerBeatsWhenIdle(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	c := dial(t, s, "tcp")
	c.logon("pub")
	c.send(rawFrame(`{"c":"heartbeat","cid":"h","a":"received","o":"start,1"}`, ""))
	c.nextAck("h", "received", "success", "")
	start := time.Now()
	// Keep the connection alive with beats while waiting for the server's heartbeat.
	deadline := time.Now().Add(waitTimeout)
	for {
		select {
		case g, ok := <-c.frames:
			if !ok {
				t.Fatalf("closed: %v", <-c.errc)
			}
			if g.Header != `{"c":"heartbeat"}` || g.Payload != "" {
				t.Fatalf("got %s, want a server heartbeat", g)
			}
			if el := time.Since(start); el < 900*time.Millisecond {
				t.Fatalf("heartbeat after %v, want about 1 s of outbound silence", el)
			}
			return
		case <-time.After(300 * time.Millisecond):
			c.send(frame.AppendHeartbeatBeat(nil))
		}
		if time.Now().After(deadline) {
			t.Fatal("no server heartbeat")
		}
	}
}

func TestHeartbeatDropsSilentClient(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	c := dial(t, s, "unix")
	c.logon("pub")
	c.send(frame.AppendHeartbeatStart(nil, 1))
	// Beats keep the connection alive past 2N...
	for i := 0; i < 8; i++ {
		time.Sleep(300 * time.Millisecond)
		c.send(frame.AppendHeartbeatBeat(nil))
	}
	// ...then silence: the server drops the connection after about 2 s.
	silent := time.Now()
	gs := c.expectClosed()
	el := time.Since(silent)
	if el < 1800*time.Millisecond { // no upper bound but expectClosed's watchdog
		t.Fatalf("dropped %v after the last inbound frame, want about 2 s", el)
	}
	for _, g := range gs {
		if g.Header != `{"c":"heartbeat"}` {
			t.Fatalf("unexpected frame %s", g)
		}
	}
	if len(gs) == 0 {
		t.Fatal("no server heartbeat during 4 s of outbound silence")
	}
	waitFor(t, "close counted", func() bool { return s.Stats().Closes[CloseHeartbeatTimeout] == 1 })
}

func TestBeatNeverAnswered(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	for _, armed := range []bool{false, true} {
		c := dial(t, s, "tcp")
		c.logon("pub")
		if armed {
			c.send(frame.AppendHeartbeatStart(nil, 5))
		}
		for i := 0; i < 5; i++ {
			c.send(frame.AppendHeartbeatBeat(nil))
		}
		c.sync() // the flush ack is the next frame: no heartbeat answered a beat
		c.expectNone(200 * time.Millisecond)
		c.close()
	}
}

func TestHeartbeatOptions(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	c := dial(t, s, "tcp")
	c.logon("pub")
	tests := []struct {
		opts, status, reason string
	}{
		{"start,30", "success", ""},
		{"beat", "success", ""},
		{"stop", "success", ""},
		{"start,0", "success", ""},
		{"start,x", "failure", "invalid options"},
		{"start,", "failure", "invalid options"},
		{"start,1234567890", "failure", "invalid options"},
		{"bogus", "failure", "invalid options"},
		{"", "failure", "invalid options"},
	}
	for _, tt := range tests {
		c.send(rawFrame(`{"c":"heartbeat","cid":"h","a":"processed","o":"`+tt.opts+`"}`, ""))
		c.nextAck("h", "processed", tt.status, tt.reason)
	}
	if hb := func() int64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		for cn := range s.conns {
			if cn.name == "pub" {
				return cn.hbNanos.Load()
			}
		}
		return -1
	}(); hb != 0 {
		t.Fatalf("heartbeat still armed (%d ns) after stop / start,0", hb)
	}
}
