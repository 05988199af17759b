package ampstest

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fastpub/fastpub/frame"
)

// testSeed returns a fresh seed for a seeded fault and logs it, so that a failure can be
// reproduced by putting the printed value in its place.
func testSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	return seed
}

// killRounds connects a publisher named "pub" kills times; each time it publishes more
// frames than maxFrames in one write and waits for the kill. It returns the number of frames
// each connection had processed when it was killed (from the next logon ack's L). With sub
// set it also checks that the killed connection's frames were fully processed (delivered to
// sub) and makes sub send a frame each round, which must not count.
func killRounds(t *testing.T, s *Server, kills, maxFrames int, sub *rawConn) []uint64 {
	t.Helper()
	var ks []uint64
	var last uint64
	for round := 0; round <= kills; round++ {
		pub := dial(t, s, "tcp")
		g := pub.logon("pub")
		if round > 0 {
			ks = append(ks, g.Seq-last)
			if sub != nil {
				var want []uint64
				for seq := last + 1; seq <= g.Seq; seq++ {
					want = append(want, seq)
				}
				// Its sync is a frame that must not count: the subscriber is never killed.
				expectDeliveries(t, sub, "pub", want...)
			}
		}
		last = g.Seq
		if round == kills {
			pub.close()
			break
		}
		var fs [][]byte
		for seq := last + 1; seq <= last+uint64(maxFrames)+5; seq++ {
			fs = append(fs, persistedPub(t, "t", seq))
		}
		pub.send(fs...)
		for _, a := range pub.expectClosed() {
			if a.Seq <= last || a.Seq > last+uint64(maxFrames) {
				t.Fatalf("round %d: ack %s outside (%d, %d]", round, a, last, last+uint64(maxFrames))
			}
		}
	}
	return ks
}

func TestKillPublishers(t *testing.T) {
	checkNoLeak(t)
	seed := testSeed(t)
	const minFrames, maxFrames, kills = 3, 9, 12
	s := startServer(t, Config{})
	sub := subscribeRaw(t, s, "unix", "sub", "t")
	s.KillPublishers(seed, minFrames, maxFrames)
	ks := killRounds(t, s, kills, maxFrames, sub)
	t.Logf("frames before each kill: %v", ks)
	for _, k := range ks {
		if k < minFrames || k > maxFrames {
			t.Fatalf("killed after %d frames, want [%d, %d]: %v", k, minFrames, maxFrames, ks)
		}
	}
	if slices.Min(ks) == slices.Max(ks) {
		t.Fatalf("every kill after %d frames: not drawn at random", ks[0])
	}
	st := s.Stats()
	if st.Faults.Kills != kills || st.Closes[CloseKilled] != kills {
		t.Fatalf("kills counted %d, closes %d, want %d", st.Faults.Kills, st.Closes[CloseKilled], kills)
	}

	// The same seed on another server, without a subscriber: the same kill points.
	s2 := startServer(t, Config{})
	s2.KillPublishers(seed, minFrames, maxFrames)
	if ks2 := killRounds(t, s2, kills, maxFrames, nil); !slices.Equal(ks, ks2) {
		t.Fatalf("same seed, different kills: %v and %v", ks, ks2)
	}

	// Disarmed: a publisher sends far more than maxFrames and survives.
	s.KillPublishers(seed, 0, 0)
	pub := dial(t, s, "tcp")
	last := pub.logon("pub").Seq
	var seqs []uint64
	for seq := last + 1; seq <= last+4*maxFrames; seq++ {
		seqs = append(seqs, seq)
	}
	publishAcked(t, pub, "", seqs...)
	expectDeliveries(t, sub, "pub", seqs...)
	if n := s.Stats().Faults.Kills; n != kills {
		t.Fatalf("kills after disarming: %d", n)
	}
}

func TestDropPersistedAcksImmediate(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{})
	c := dial(t, s, "tcp")
	c.logon("pub")
	// expect sends seqs and checks that exactly the persisted acks in want arrive, in order,
	// before the processed ack of a flush.
	expect := func(seqs []uint64, want ...uint64) {
		t.Helper()
		var fs [][]byte
		for _, seq := range seqs {
			fs = append(fs, persistedPub(t, "t", seq))
		}
		c.send(fs...)
		c.send(flushFrame(t, "sync", frame.AckProcessed))
		for _, seq := range want {
			if g := c.next(); g.A != "persisted" || g.Seq != seq {
				t.Fatalf("got %s, want the persisted ack s=%d", g, seq)
			}
		}
		c.nextAck("sync", "processed", "success", "")
	}
	s.DropPersistedAcks(2)
	expect([]uint64{1, 2, 3, 4}, 3, 4)
	s.DropPersistedAcks(1)
	s.DropPersistedAcks(1) // calls add up
	expect([]uint64{5, 6, 7}, 7)
	s.DropPersistedAcks(3)
	s.DropPersistedAcks(0) // cancels
	expect([]uint64{8}, 8)
	// A duplicate's ack is not dropped; the next success is.
	s.DropPersistedAcks(1)
	c.send(persistedPub(t, "t", 8))
	if g := c.nextAck("", "persisted", "success", "duplicate"); g.Seq != 8 {
		t.Fatalf("got %s", g)
	}
	expect([]uint64{9, 10}, 10)
	if f := s.Stats().Faults; f.DroppedAcks != 5 {
		t.Fatalf("dropped acks counted %d, want 5", f.DroppedAcks)
	}
}

func TestDropPersistedAcksConflated(t *testing.T) {
	checkNoLeak(t)
	// An interval longer than any test: only flushes force the conflated ack out.
	s := startServer(t, Config{Persisted: Conflated{Interval: time.Hour}})
	c := dial(t, s, "tcp")
	c.logon("pub")
	s.DropPersistedAcks(1)
	c.send(persistedPub(t, "t", 1), persistedPub(t, "t", 2), persistedPub(t, "t", 3),
		flushFrame(t, "f1", frame.AckPersisted))
	c.nextAck("f1", "persisted", "success", "") // the merged s=3 was dropped; the flush's own ack was not
	c.send(persistedPub(t, "t", 4), persistedPub(t, "t", 5), flushFrame(t, "f2", frame.AckPersisted))
	if g := c.nextAck("", "persisted", "success", ""); g.Seq != 5 || g.Bookmark != bm("pub", 5) {
		t.Fatalf("got %s, want s=5 covering the dropped ack", g)
	}
	c.nextAck("f2", "persisted", "success", "")
	if f := s.Stats().Faults; f.DroppedAcks != 1 {
		t.Fatalf("dropped acks counted %d, want 1", f.DroppedAcks)
	}
}

func TestDropPersistedAcksRandomly(t *testing.T) {
	checkNoLeak(t)
	seed := testSeed(t)
	const n = 100
	run := func() []uint64 {
		s := startServer(t, Config{})
		c := dial(t, s, "tcp")
		c.logon("pub")
		s.DropPersistedAcksRandomly(seed, 0.5)
		var fs [][]byte
		for seq := uint64(1); seq <= n; seq++ {
			fs = append(fs, persistedPub(t, "t", seq))
		}
		c.send(append(fs, flushFrame(t, "sync", frame.AckProcessed))...)
		var acked []uint64
		for i := 0; i <= n; i++ {
			g := c.next()
			if g.Cid == "sync" {
				break
			}
			if g.A != "persisted" || g.Status != "success" || len(acked) > 0 && g.Seq <= acked[len(acked)-1] {
				t.Fatalf("got %s after acks %v", g, acked)
			}
			acked = append(acked, g.Seq)
		}
		if d := s.Stats().Faults.DroppedAcks; d+uint64(len(acked)) != n {
			t.Fatalf("%d acks received and %d counted as dropped, want %d in all", len(acked), d, n)
		}
		s.DropPersistedAcksRandomly(seed, 0) // disarmed: every ack again
		publishAcked(t, c, "", n+1, n+2, n+3)
		return acked
	}
	a := run()
	if len(a) == 0 || len(a) == n {
		t.Fatalf("%d of %d acks received with p=0.5", len(a), n)
	}
	if b := run(); !slices.Equal(a, b) {
		t.Fatalf("same seed, different drops:\n%v\n%v", a, b)
	}
}

// TestDelayAcksPersisted: DelayAcks applies to persisted acks in both modes.
func TestDelayAcksPersisted(t *testing.T) {
	checkNoLeak(t)
	const d = 200 * time.Millisecond
	for _, tt := range []struct {
		name string
		mode PersistMode
		min  time.Duration // the ack leaves no earlier than this after the publish was sent
	}{
		{"immediate", Immediate{}, d},
		{"conflated", Conflated{Interval: 50 * time.Millisecond}, 50*time.Millisecond + d},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, Config{Persisted: tt.mode})
			c := dial(t, s, "tcp")
			c.logon("pub")
			s.DelayAcks(d)
			start := time.Now()
			c.send(persistedPub(t, "t", 1))
			if g := c.nextAck("", "persisted", "success", ""); g.Seq != 1 {
				t.Fatalf("got %s", g)
			}
			if el := time.Since(start); el < tt.min {
				t.Fatalf("persisted ack after %v, want at least %v", el, tt.min)
			}
			if f := s.Stats().Faults; f.DelayedAcks != 1 {
				t.Fatalf("delayed acks counted %d, want 1", f.DelayedAcks)
			}
		})
	}
}

func TestFailSequence(t *testing.T) {
	checkNoLeak(t)
	const reason = "tx store failure"
	for _, tt := range []struct {
		name string
		mode PersistMode
		// what follows publishes 1..5 (3 failed, with a processed ack too) and a persisted
		// flush "f": the persisted acks' s and reason, in order
		acks []string
	}{
		{"immediate", Immediate{}, []string{"1", "2", "3 " + reason, "4", "5"}},
		{"conflated", Conflated{Interval: time.Hour}, []string{"2", "3 " + reason, "5"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, Config{Persisted: tt.mode})
			sub := subscribeRaw(t, s, "unix", "sub", "t")
			c := dial(t, s, "tcp")
			c.logon("pub")
			s.FailSequence("pub", 3, reason)
			s.FailSequence("other", 4, "not for pub")
			var fs [][]byte
			for seq := uint64(1); seq <= 5; seq++ {
				p := frame.Publish{Topic: "t", Seq: seq, Ack: frame.AckPersisted}
				if seq == 3 {
					p.CommandID, p.Ack = "p3", frame.AckProcessed|frame.AckPersisted
				}
				fs = append(fs, pubFrame(t, p, fmt.Sprint(seq)))
			}
			c.send(append(fs, flushFrame(t, "f", frame.AckPersisted))...)
			var got []string
			for i := 0; i < 10; i++ {
				g := c.next()
				if g.Cid == "f" {
					break
				}
				switch {
				case g.Cid == "p3":
					if g.A != "processed" || g.Status != "failure" || g.Reason != reason {
						t.Fatalf("processed ack of 3: %s", g)
					}
				case g.A == "persisted" && g.Reason == "" && g.Status == "success":
					got = append(got, fmt.Sprint(g.Seq))
				case g.A == "persisted" && g.Status == "failure":
					got = append(got, fmt.Sprint(g.Seq, " ", g.Reason))
				default:
					t.Fatalf("unexpected %s", g)
				}
			}
			if !slices.Equal(got, tt.acks) {
				t.Fatalf("persisted acks %q, want %q", got, tt.acks)
			}
			expectDeliveries(t, sub, "pub", 1, 2, 4, 5)
			st := s.Stats()
			if s.LastSequence("pub") != 5 || st.Publishes != 4 || st.Rejected != 1 ||
				st.PerClient["pub"].Rejected != 1 || st.Faults.FailedSequences != 1 {
				t.Fatalf("last %d, stats %+v", s.LastSequence("pub"), st)
			}

			// One-shot, and the failed sequence does not move L: a replay of it is accepted.
			s.FailSequence("pub", 7, "")
			c.send(pubFrame(t, frame.Publish{Topic: "t", Seq: 7, CommandID: "a", Ack: frame.AckProcessed}, "7"))
			c.nextAck("a", "processed", "failure", DefaultFailReason)
			if got := s.LastSequence("pub"); got != 5 {
				t.Fatalf("LastSequence %d after a failed 7, want 5", got)
			}
			c.send(pubFrame(t, frame.Publish{Topic: "t", Seq: 7, CommandID: "b", Ack: frame.AckProcessed}, "7"))
			c.nextAck("b", "processed", "success", "")
			expectDeliveries(t, sub, "pub", 7)
		})
	}
}

// TestLowerLastSequenceGap: SetLastSequence below what was accepted makes the next logon ack
// report the lower L, and the sequences above it are accepted (and delivered) again.
func TestLowerLastSequenceGap(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{})
	sub := subscribeRaw(t, s, "unix", "sub", "t")
	c := dial(t, s, "tcp")
	c.logon("pub")
	publishAcked(t, c, "", 1, 2, 3, 4, 5, 6)
	expectDeliveries(t, sub, "pub", 1, 2, 3, 4, 5, 6)
	c.close()
	s.SetLastSequence("pub", 3)
	c = dial(t, s, "tcp")
	if g := c.logon("pub"); !g.HasSeq || g.Seq != 3 || g.Bookmark != bm("pub", 3) {
		t.Fatalf("logon ack %s, want s=3 and bm %s", g, bm("pub", 3))
	}
	publishAcked(t, c, "duplicate", 3)
	publishAcked(t, c, "", 4, 5)
	expectDeliveries(t, sub, "pub", 4, 5)
	if got := s.LastSequence("pub"); got != 5 {
		t.Fatalf("LastSequence %d, want 5", got)
	}
	if f := s.Stats().Faults; f.LastSequenceSets != 1 {
		t.Fatalf("faults %+v", f)
	}
}

func TestSendGarbage(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{})
	if s.SendGarbage("pub") {
		t.Fatal("SendGarbage to a name that never logged on reported true")
	}
	nc, err := net.DialTimeout("tcp", s.Addr().String(), waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(waitTimeout)) // watchdog
	rd := frame.NewReader(nc, 0, 0)
	nc.Write(logonFrame(t, "L1", "pub", "", ""))
	if _, err := rd.Next(); err != nil {
		t.Fatal(err)
	}
	// Queued behind an ack already queued.
	nc.Write(pubFrame(t, frame.Publish{Topic: "t", CommandID: "p", Ack: frame.AckProcessed}, "x"))
	waitFor(t, "publish processed", func() bool { return s.Stats().Publishes == 1 })
	if !s.SendGarbage("pub") {
		t.Fatal("SendGarbage to a live connection reported false")
	}
	var h frame.Header
	body, err := rd.Next()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Parse(body); err != nil || string(h.CommandID) != "p" {
		t.Fatalf("first frame %q (%v), want the ack of p", body, err)
	}
	body, err = rd.Next()
	if err != nil {
		t.Fatalf("the garbage is not framed: %v", err)
	}
	if string(body) != Garbage[frame.PrefixLen:] {
		t.Fatalf("garbage body %q", body)
	}
	if _, err := h.Parse(body); err == nil {
		t.Fatalf("the garbage %q parses as a header", body)
	}
	// The server keeps the connection and keeps serving it.
	nc.Write(flushFrame(t, "sync", frame.AckProcessed))
	if body, err := rd.Next(); err != nil || !strings.Contains(string(body), `"cid":"sync"`) {
		t.Fatalf("after the garbage: %q, %v", body, err)
	}
	if f := s.Stats().Faults; f.Garbage != 1 {
		t.Fatalf("garbage counted %d, want 1", f.Garbage)
	}
}

// TestStall: a stalled server reads, processes and writes nothing, not even heartbeats, and
// drops no connection for silence; after Unstall everything resumes.
func TestStall(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})
	hb := dial(t, s, "tcp")
	hb.logon("hb")
	hb.send(rawFrame(`{"c":"heartbeat","cid":"h","a":"received","o":"start,1"}`, ""))
	hb.nextAck("h", "received", "success", "")
	other := dial(t, s, "unix")
	other.logon("other")

	s.Stall()
	s.Stall() // no-op
	if !s.Stalled() {
		t.Fatal("Stalled() false")
	}
	hb.send(pubFrame(t, frame.Publish{Topic: "t", CommandID: "p", Seq: 1, Ack: frame.AckProcessed | frame.AckPersisted}, "x"))
	other.send(flushFrame(t, "o", frame.AckProcessed))
	late := dial(t, s, "tcp") // accepted, but not served
	late.send(logonFrame(t, "L1", "late", "", ""))
	// More than 2 intervals: a running server would have sent a heartbeat after 1 s and
	// dropped hb, which sends nothing, after 2 s.
	hb.expectNone(2500 * time.Millisecond)
	other.expectNone(time.Millisecond)
	late.expectNone(time.Millisecond)
	if st := s.Stats(); st.Publishes != 0 || len(st.Closes) != 0 || st.Connections != 3 {
		t.Fatalf("while stalled: %+v", st)
	}

	s.Unstall()
	var acks []string
	for i := 0; i < 10 && len(acks) < 2; i++ {
		g := hb.next()
		if g.Header == `{"c":"heartbeat"}` {
			continue // due: 2.5 s of outbound silence
		}
		acks = append(acks, g.A)
	}
	if !slices.Equal(acks, []string{"processed", "persisted"}) {
		t.Fatalf("acks after Unstall %v", acks)
	}
	other.nextAck("o", "processed", "success", "")
	late.nextAck("L1", "processed", "success", "")
	// The inbound silence of the stall is not held against hb.
	hb.send(frame.AppendHeartbeatBeat(nil))
	hb.send(flushFrame(t, "sync", frame.AckProcessed))
	// hb's heartbeat is armed (1 s), so a server heartbeat may come first: the one due from
	// the stall if the server sent the acks before it, or a new one if a slow run (-race on
	// 2 busy cores) took more than 1 s since the acks. CI saw the first.
	for i := 0; ; i++ {
		g := hb.next()
		if g.Header == `{"c":"heartbeat"}` && i < 3 {
			continue
		}
		if g.Cmd != frame.CmdAck || g.Cid != "sync" || g.A != "processed" || g.Status != "success" {
			t.Fatalf("got %s, want the sync ack", g)
		}
		break
	}
	if st := s.Stats(); st.Closes[CloseHeartbeatTimeout] != 0 || st.Faults.Stalls != 1 {
		t.Fatalf("after Unstall: %+v", st)
	}
}

func TestStopAndCloseWhileStalled(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{})
	c := dial(t, s, "tcp")
	c.logon("pub")
	s.Stall()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	c.expectClosed()
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	c = dial(t, s, "tcp")
	c.send(logonFrame(t, "L1", "pub", "", ""))
	c.expectNone(50 * time.Millisecond) // the stall outlasts the restart
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Close blocked while stalled")
	}
	c.expectClosed()
}
