package ampstest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fastpub/fastpub/frame"
)

func TestCloseAfterFrames(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{})
	c := dial(t, s, "tcp")
	c.logon("pub")
	s.CloseAfterFrames(3)
	var fs [][]byte
	for seq := uint64(1); seq <= 5; seq++ {
		fs = append(fs, pubFrame(t, frame.Publish{Topic: "t", Seq: seq, Ack: frame.AckPersisted}, "x"))
	}
	c.send(fs...)
	for _, g := range c.expectClosed() {
		if g.Seq > 3 {
			t.Fatalf("ack for a frame after the 3rd: %s", g)
		}
	}
	waitFor(t, "close counted", func() bool { return s.Stats().Closes[CloseHook] == 1 })
	if f := s.Stats().Faults; f.ClosedAfterFrames != 1 {
		t.Fatalf("faults %+v", f)
	}
	if got := s.LastSequence("pub"); got != 3 {
		t.Fatalf("LastSequence = %d, want 3 (frames 1..3 processed, then the drop)", got)
	}
	// One-shot: the next connection is not affected.
	c2 := dial(t, s, "tcp")
	if g := c2.logon("pub"); g.Seq != 3 {
		t.Fatalf("logon ack %s", g)
	}
	c2.send(fs[3:]...)
	c2.nextAck("", "persisted", "success", "")
	c2.nextAck("", "persisted", "success", "")
	c2.sync()
	if st := s.Stats(); st.Publishes != 5 {
		t.Fatalf("stats %+v", st)
	}
	s.CloseAfterFrames(0) // disarming an unarmed hook is harmless
}

func TestPauseReadingBackpressure(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{})
	c := dial(t, s, "tcp")
	c.logon("pub")
	s.PauseReading()

	var chunk []byte
	const perChunk = 512
	for i := 0; i < perChunk; i++ {
		chunk = append(chunk, pubFrame(t, frame.Publish{Topic: "t"}, strings.Repeat("x", 128))...)
	}
	sentFrames := 0
	blocked := false
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; i < 4096 && time.Now().Before(deadline); i++ { // at most ~80 MB
		c.nc.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := c.nc.Write(chunk)
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatal(err)
			}
			// Keep the stream frame-aligned: finish the chunk once reading resumes.
			blocked = true
			s.ResumeReading()
			c.nc.SetWriteDeadline(time.Time{})
			if _, err := c.nc.Write(chunk[n:]); err != nil {
				t.Fatal(err)
			}
			sentFrames += perChunk
			break
		}
		sentFrames += perChunk
		if st := s.Stats(); st.Publishes != 0 {
			t.Fatalf("frames processed while paused: %+v", st)
		}
	}
	if !blocked {
		t.Fatal("writes never blocked while the server was paused")
	}
	c.sync()
	if st := s.Stats(); st.Publishes != uint64(sentFrames) {
		t.Fatalf("publishes %d, sent %d", st.Publishes, sentFrames)
	}
}

func TestPauseBuffersFramesAlreadyRead(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{})
	c := dial(t, s, "tcp")
	c.logon("pub")
	s.PauseReading()
	c.send(pubFrame(t, frame.Publish{Topic: "t", CommandID: "p", Ack: frame.AckProcessed}, "x"))
	c.expectNone(100 * time.Millisecond)
	if st := s.Stats(); st.Publishes != 0 || st.Faults.Pauses != 1 {
		t.Fatalf("while paused: %+v", st)
	}
	s.ResumeReading()
	c.nextAck("p", "processed", "success", "")
}

func TestWithholdAcks(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{})
	c := dial(t, s, "tcp")
	c.logon("pub")
	s.WithholdAcks(true)
	c.send(pubFrame(t, frame.Publish{Topic: "t", CommandID: "p1", Ack: frame.AckProcessed}, "x"),
		pubFrame(t, frame.Publish{Topic: "t", Ack: frame.AckPersisted, Seq: 1}, "x"),
		flushFrame(t, "f", frame.AckProcessed))
	// Acks of other commands are not held. Frames are processed in order, so the acks of the
	// three commands above, unless held, would arrive before this one.
	c.send(subFrame(t, frame.CmdSubscribe, "s", "elsewhere", "s1"))
	c.nextAck("s", "processed", "success", "")
	s.WithholdAcks(false)
	c.nextAck("p1", "processed", "success", "")
	if g := c.nextAck("", "persisted", "success", ""); g.Seq != 1 {
		t.Fatalf("got %s", g)
	}
	c.nextAck("f", "processed", "success", "")
	// Released: acks flow again.
	c.send(pubFrame(t, frame.Publish{Topic: "t", CommandID: "p2", Ack: frame.AckProcessed}, "x"))
	c.nextAck("p2", "processed", "success", "")
	if f := s.Stats().Faults; f.WithheldAcks != 3 {
		t.Fatalf("withheld acks counted %d, want 3", f.WithheldAcks)
	}
}

func TestWithholdAcksBoundedByMaxOutbound(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{MaxOutbound: 4096})
	c := dial(t, s, "tcp")
	c.logon("pub")
	s.WithholdAcks(true)
	var fs [][]byte
	for i := 0; i < 500; i++ { // ~60 bytes of ack each: more than 4 KiB held
		fs = append(fs, pubFrame(t, frame.Publish{Topic: "t", CommandID: fmt.Sprint(i), Ack: frame.AckProcessed}, "x"))
	}
	c.send(fs...)
	waitFor(t, "reader blocked on held acks", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for cn := range s.conns {
			cn.mu.Lock()
			held := len(cn.ackBuf) - cn.ackStart
			cn.mu.Unlock()
			if held >= 4096 {
				return true
			}
		}
		return false
	})
	if st := s.Stats(); st.Publishes >= 500 {
		t.Fatalf("all publishes processed although acks were held beyond MaxOutbound: %+v", st)
	}
	s.WithholdAcks(false)
	for i := 0; i < 500; i++ {
		c.nextAck(fmt.Sprint(i), "processed", "success", "")
	}
}

func TestDelayAcks(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{})
	c := dial(t, s, "tcp")
	c.logon("pub")
	const d = 300 * time.Millisecond
	s.DelayAcks(d)
	start := time.Now()
	c.send(pubFrame(t, frame.Publish{Topic: "t", CommandID: "p1", Ack: frame.AckProcessed}, "x"),
		pubFrame(t, frame.Publish{Topic: "t", Ack: frame.AckPersisted, Seq: 1}, "x"))
	c.nextAck("p1", "processed", "success", "")
	if el := time.Since(start); el < d {
		t.Fatalf("ack after %v, want ≥ %v", el, d)
	}
	c.nextAck("", "persisted", "success", "")
	// A delay far beyond the wait's watchdog, removed before the next ack is produced: the
	// ack arriving at all shows that DelayAcks(0) removed it.
	s.DelayAcks(time.Hour)
	s.DelayAcks(0)
	c.send(pubFrame(t, frame.Publish{Topic: "t", CommandID: "p2", Ack: frame.AckProcessed}, "x"))
	c.nextAck("p2", "processed", "success", "")
}

func TestDropDelivery(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{})
	sub := dial(t, s, "tcp")
	sub.logon("sub")
	sub.send(subFrame(t, frame.CmdSubscribe, "s", "t", "s1"))
	sub.nextAck("s", "processed", "success", "")
	s.DropDelivery(2)
	s.DropDelivery(0) // ignored
	pub := dial(t, s, "unix")
	pub.logon("pub")
	pub.send(pubFrame(t, frame.Publish{Topic: "t", CommandID: "a", Ack: frame.AckProcessed}, "1"),
		pubFrame(t, frame.Publish{Topic: "t", CommandID: "b", Ack: frame.AckProcessed}, "2"),
		pubFrame(t, frame.Publish{Topic: "t", CommandID: "c", Ack: frame.AckProcessed}, "3"))
	pub.nextAck("a", "processed", "success", "")
	pub.nextAck("b", "processed", "success", "") // still accepted and acked
	pub.nextAck("c", "processed", "success", "")
	for _, want := range []string{"1", "3"} {
		if g := sub.next(); g.Payload != want {
			t.Fatalf("delivery %s, want payload %s", g, want)
		}
	}
	sub.sync()
	if st := s.Stats(); st.Dropped != 1 || st.Delivered != 2 || st.Publishes != 3 {
		t.Fatalf("stats %+v", st)
	}
	if s.flags.Load()&flagDrop != 0 {
		t.Fatal("drop flag still set after its ordinal passed")
	}
	if f := s.Stats().Faults; f.DroppedDeliveries != 1 {
		t.Fatalf("faults %+v", f)
	}
}

func TestRecord(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{})
	s.Record(2)
	c := dial(t, s, "tcp")
	c.logon("pub")
	c.send(rawFrame(`{"c":"p","t":"a\"b"}`, "payload"))
	c.sync()
	got := s.Received()
	if len(got) != 2 || got[0].Command != frame.CmdLogon || got[1].ClientName != "pub" ||
		string(got[1].Header) != `{"c":"p","t":"a\"b"}` || string(got[1].Payload) != "payload" {
		t.Fatalf("recorded %+v", got)
	}
	if s.flags.Load()&flagRecord != 0 {
		t.Fatal("record flag still set after max frames")
	}
}

func TestCounters(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{})
	a := dial(t, s, "tcp")
	b := dial(t, s, "unix")
	var bytesA, bytesB uint64
	la := logonFrame(t, "L1", "a", "", "")
	lb := logonFrame(t, "L1", "b", "", "")
	a.send(la)
	a.nextAck("L1", "processed", "success", "")
	b.send(lb)
	b.nextAck("L1", "processed", "success", "")
	var fa, fb [][]byte
	for i := 0; i < 10; i++ {
		fa = append(fa, pubFrame(t, frame.Publish{Topic: "t1"}, "12345"))
		fa = append(fa, pubFrame(t, frame.Publish{Topic: "t2"}, "1234567890"))
	}
	for i := 0; i < 7; i++ {
		fb = append(fb, pubFrame(t, frame.Publish{Topic: "t2", Seq: uint64(i + 1)}, "xy"))
	}
	for _, f := range fa {
		bytesA += uint64(len(f))
	}
	for _, f := range fb {
		bytesB += uint64(len(f))
	}
	sync := flushFrame(t, "sync", frame.AckProcessed)
	a.send(fa...)
	a.sync()
	b.send(fb...)
	b.sync()
	st := s.Stats()
	wantFrames := uint64(2 + 20 + 7 + 2)
	wantBytes := uint64(len(la)+len(lb)+2*len(sync)) + bytesA + bytesB
	if st.Frames != wantFrames || st.Bytes != wantBytes || st.Publishes != 27 {
		t.Fatalf("frames %d bytes %d publishes %d; want %d %d 27", st.Frames, st.Bytes, st.Publishes, wantFrames, wantBytes)
	}
	if got, want := st.PerTopic["t1"], (TopicStats{Publishes: 10, Bytes: 50}); got != want {
		t.Fatalf("t1 %+v, want %+v", got, want)
	}
	if got, want := st.PerTopic["t2"], (TopicStats{Publishes: 17, Bytes: 114}); got != want {
		t.Fatalf("t2 %+v, want %+v", got, want)
	}
	wantA := ClientStats{Frames: 21, Bytes: bytesA + uint64(len(sync)), Publishes: 20, Logons: 1, Connected: true}
	if got := st.PerClient["a"]; got != wantA {
		t.Fatalf("client a %+v, want %+v", got, wantA)
	}
	wantB := ClientStats{Frames: 8, Bytes: bytesB + uint64(len(sync)), Publishes: 7, Logons: 1, LastSequence: 7, Connected: true}
	if got := st.PerClient["b"]; got != wantB {
		t.Fatalf("client b %+v, want %+v", got, wantB)
	}
	if st.Connections != 2 || st.ConnectionsTotal != 2 {
		t.Fatalf("connections %d total %d", st.Connections, st.ConnectionsTotal)
	}
	// The snapshot is a copy.
	st.PerTopic["t1"] = TopicStats{}
	if s.Stats().PerTopic["t1"].Publishes != 10 {
		t.Fatal("Stats maps alias the server's")
	}
}

// TestSlowSubscriberBackpressure: a subscriber that never reads makes the publisher's
// processing block (bounded memory), and Close still returns with no goroutine left.
func TestSlowSubscriberBackpressure(t *testing.T) {
	checkNoLeak(t)
	s := NewServer(Config{MaxOutbound: 64 << 10})
	if err := s.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	// A subscriber that never reads a byte.
	quiet, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	quiet.Write(logonFrame(t, "L", "quiet", "", ""))
	quiet.Write(subFrame(t, frame.CmdSubscribe, "s", "t", "q1"))
	waitFor(t, "quiet subscribed", func() bool { return s.flags.Load()&flagSubs != 0 })

	pub, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	pub.Write(logonFrame(t, "L", "pub", "", ""))
	f := pubFrame(t, frame.Publish{Topic: "t"}, strings.Repeat("x", 4096))
	chunk := bytes.Repeat(f, 64)
	blocked := false
	for i := 0; i < 4096; i++ { // bounded: at most ~1 GB, normally a few MB
		pub.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := pub.Write(chunk); err != nil {
			blocked = true
			break
		}
	}
	if !blocked {
		t.Fatal("publisher never blocked behind a subscriber that does not read")
	}
	// Close must not wait for the publisher's blocked delivery to drain (a watchdog, not a
	// timing claim).
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Close blocked behind a subscriber that does not read")
	}
}
