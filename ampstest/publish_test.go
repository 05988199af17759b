package ampstest

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/fastpub/fastpub/frame"
)

func TestPublishNoAck(t *testing.T) {
	checkNoLeak(t)
	for _, cmd := range []frame.Command{frame.CmdPublish, frame.CmdDeltaPublish} {
		t.Run(cmd.String(), func(t *testing.T) {
			s := startServer(t, Config{})
			c := dial(t, s, "tcp")
			c.logon("pub")
			c.send(pubFrame(t, frame.Publish{Command: cmd, Topic: "orders"}, `{"id":1}`),
				pubFrame(t, frame.Publish{Command: cmd, Topic: "orders", Seq: 5}, `{"id":2}`),
				rawFrame(`{"c":"publish","t":"orders"}`, `{"id":3}`))
			c.sync() // the flush ack is the first frame: no ack for the publishes
			st := s.Stats()
			if st.Publishes != 3 || st.PerTopic["orders"].Publishes != 3 || st.PerTopic["orders"].Bytes != 24 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestPublishAcks(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{})
	c := dial(t, s, "unix")
	c.logon("pub")
	c.send(pubFrame(t, frame.Publish{Topic: "orders", CommandID: "p1",
		Ack: frame.AckReceived | frame.AckProcessed}, "x"))
	c.nextAck("p1", "received", "success", "")
	c.nextAck("p1", "processed", "success", "")
	c.send(pubFrame(t, frame.Publish{Command: frame.CmdDeltaPublish, Topic: "orders", CommandID: "p2",
		Ack: frame.AckProcessed}, "y"))
	c.nextAck("p2", "processed", "success", "")
	// Long key spellings and a quoted "s" are accepted (§3).
	c.send(rawFrame(`{"cmd":"publish","topic":"orders","cmd_id":"p3","ack_type":"processed","seq":"8"}`, "z"))
	c.nextAck("p3", "processed", "success", "")
	if got := s.LastSequence("pub"); got != 8 {
		t.Fatalf("LastSequence = %d, want 8", got)
	}
	// An empty topic is refused.
	c.send(rawFrame(`{"c":"p","t":"","cid":"p4","a":"processed"}`, "z"))
	c.nextAck("p4", "processed", "failure", "invalid topic")
}

func TestPersistedImmediate(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{Persisted: Immediate{}})
	c := dial(t, s, "tcp")
	c.logon("pub")
	for seq := uint64(1); seq <= 3; seq++ {
		c.send(pubFrame(t, frame.Publish{Topic: "t", Ack: frame.AckPersisted, Seq: seq}, "x"))
	}
	for seq := uint64(1); seq <= 3; seq++ {
		g := c.next()
		want := fmt.Sprintf(`{"c":"ack","a":"persisted","status":"success","s":%d,"bm":"%s"}`, seq, bm("pub", seq))
		if g.Header != want {
			t.Fatalf("got %s\nwant %s", g, want)
		}
	}
	// A persisted publish without "s" is acked with the client's last sequence.
	c.send(pubFrame(t, frame.Publish{Topic: "t", Ack: frame.AckPersisted}, "x"))
	if g := c.nextAck("", "persisted", "success", ""); g.Seq != 3 {
		t.Fatalf("got %s, want s=3", g)
	}
}

func TestPersistedConflated(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{Persisted: Conflated{Interval: 200 * time.Millisecond}})
	c := dial(t, s, "tcp")
	c.logon("pub")
	var frames [][]byte
	for seq := uint64(1); seq <= 100; seq++ {
		frames = append(frames, pubFrame(t, frame.Publish{Topic: "t", Ack: frame.AckPersisted, Seq: seq}, "x"))
	}
	start := time.Now()
	c.send(frames...)
	var acks []uint64
	for len(acks) == 0 || acks[len(acks)-1] < 100 {
		g := c.nextAck("", "persisted", "success", "")
		if g.Bookmark != bm("pub", g.Seq) {
			t.Fatalf("bookmark of %s", g)
		}
		if len(acks) > 0 && g.Seq <= acks[len(acks)-1] {
			t.Fatalf("acks not increasing: %v then %d", acks, g.Seq)
		}
		acks = append(acks, g.Seq)
	}
	if len(acks) > 2 {
		t.Fatalf("%d acks for 100 publishes sent in one write, want 1 (2 at worst): %v", len(acks), acks)
	}
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Fatalf("conflated ack after %v, want about the 200ms interval", el)
	}
}

func TestDuplicates(t *testing.T) {
	checkNoLeak(t)
	for _, status := range []string{"", "failure"} {
		t.Run("status="+status, func(t *testing.T) {
			wantStatus := status
			if wantStatus == "" {
				wantStatus = "success"
			}
			s := startServer(t, Config{DuplicateStatus: status})
			sub := dial(t, s, "tcp")
			sub.logon("sub")
			sub.send(subFrame(t, frame.CmdSubscribe, "s", "orders", "s1"))
			sub.nextAck("s", "processed", "success", "")

			pub := dial(t, s, "unix")
			pub.logon("pub")
			pub.send(pubFrame(t, frame.Publish{Topic: "orders", Ack: frame.AckPersisted, Seq: 5}, "five"),
				pubFrame(t, frame.Publish{Topic: "orders", Ack: frame.AckPersisted, Seq: 6}, "six"),
				pubFrame(t, frame.Publish{Topic: "orders", CommandID: "dup", Ack: frame.AckProcessed | frame.AckPersisted, Seq: 5}, "five again"),
				pubFrame(t, frame.Publish{Topic: "orders", Ack: frame.AckPersisted, Seq: 7}, "seven"))
			if g := pub.nextAck("", "persisted", "success", ""); g.Seq != 5 {
				t.Fatalf("got %s", g)
			}
			if g := pub.nextAck("", "persisted", "success", ""); g.Seq != 6 {
				t.Fatalf("got %s", g)
			}
			pub.nextAck("dup", "processed", wantStatus, "duplicate")
			if g := pub.nextAck("", "persisted", wantStatus, "duplicate"); g.Seq != 5 || g.Bookmark != bm("pub", 5) {
				t.Fatalf("got %s", g)
			}
			if g := pub.nextAck("", "persisted", "success", ""); g.Seq != 7 {
				t.Fatalf("got %s", g)
			}
			for _, want := range []string{"five", "six", "seven"} {
				if g := sub.next(); g.Payload != want {
					t.Fatalf("delivery %s, want payload %q", g, want)
				}
			}
			sub.sync() // nothing else was delivered

			// Kept across connections: a reconnect learns 7, and 7 is a duplicate.
			pub.close()
			pub2 := dial(t, s, "tcp")
			if g := pub2.logon("pub"); g.Seq != 7 {
				t.Fatalf("logon ack %s, want s=7", g)
			}
			pub2.send(pubFrame(t, frame.Publish{Topic: "orders", CommandID: "again", Ack: frame.AckProcessed, Seq: 7}, "seven"))
			pub2.nextAck("again", "processed", wantStatus, "duplicate")
			sub.sync()
			st := s.Stats()
			if st.Duplicates != 2 || st.Publishes != 3 || st.PerClient["pub"].Duplicates != 2 ||
				st.PerClient["pub"].LastSequence != 7 || st.PerTopic["orders"].Duplicates != 2 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestNotEntitled(t *testing.T) {
	checkNoLeak(t)
	type ack struct {
		status, reason string
		seq            uint64
	}
	tests := []struct {
		name    string
		persist PersistMode
		want    []ack
	}{
		{"conflated", Conflated{Interval: time.Hour}, []ack{
			{"success", "", 2}, {"failure", "not entitled", 3}, {"success", "", 5}}},
		{"immediate", Immediate{}, []ack{
			{"success", "", 1}, {"success", "", 2}, {"failure", "not entitled", 3}, {"success", "", 4}, {"success", "", 5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, Config{Persisted: tt.persist})
			s.RejectTopic("secret")
			c := dial(t, s, "tcp")
			c.logon("pub")
			var fs [][]byte
			for seq := uint64(1); seq <= 5; seq++ {
				topic := "open"
				if seq == 3 {
					topic = "secret"
				}
				fs = append(fs, pubFrame(t, frame.Publish{Topic: topic, Ack: frame.AckPersisted, Seq: seq}, "x"))
			}
			fs = append(fs, flushFrame(t, "f", frame.AckPersisted))
			c.send(fs...)
			for _, w := range tt.want {
				if g := c.nextAck("", "persisted", w.status, w.reason); g.Seq != w.seq || g.Bookmark != bm("pub", w.seq) {
					t.Fatalf("got %s, want s=%d", g, w.seq)
				}
			}
			c.nextAck("f", "persisted", "success", "")

			c.send(pubFrame(t, frame.Publish{Topic: "secret", CommandID: "p", Ack: frame.AckProcessed}, "x"))
			c.nextAck("p", "processed", "failure", "not entitled")
			c.send(subFrame(t, frame.CmdSubscribe, "s", "secret", "s1"))
			c.nextAck("s", "processed", "failure", "not entitled")

			s.AllowTopic("secret")
			c.send(pubFrame(t, frame.Publish{Topic: "secret", CommandID: "p2", Ack: frame.AckProcessed}, "x"))
			c.nextAck("p2", "processed", "success", "")
			st := s.Stats()
			if st.Rejected != 2 || st.PerTopic["secret"].Rejected != 2 || st.Publishes != 5 || s.LastSequence("pub") != 5 ||
				st.Faults.NotEntitled != 2 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestFlush(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{Persisted: Conflated{Interval: time.Hour}})
	c := dial(t, s, "tcp")
	c.logon("pub")
	c.send(flushFrame(t, "f1", frame.AckReceived|frame.AckProcessed|frame.AckCompleted))
	c.nextAck("f1", "received", "success", "")
	c.nextAck("f1", "processed", "success", "")
	c.nextAck("f1", "completed", "success", "")

	// persisted: the pending conflated ack (interval: an hour) is forced out first.
	c.send(pubFrame(t, frame.Publish{Topic: "t", Ack: frame.AckPersisted, Seq: 1}, "x"),
		pubFrame(t, frame.Publish{Topic: "t", Ack: frame.AckPersisted, Seq: 2}, "x"),
		pubFrame(t, frame.Publish{Topic: "t", Ack: frame.AckPersisted, Seq: 3}, "x"),
		flushFrame(t, "f2", frame.AckProcessed|frame.AckPersisted))
	c.nextAck("f2", "processed", "success", "")
	if g := c.nextAck("", "persisted", "success", ""); g.Seq != 3 {
		t.Fatalf("got %s, want the conflated ack s=3", g)
	}
	g := c.nextAck("f2", "persisted", "success", "")
	if g.Header != `{"c":"ack","cid":"f2","a":"persisted","status":"success"}` {
		t.Fatalf("flush ack %s", g)
	}
	// Nothing pending: the flush ack alone.
	c.send(flushFrame(t, "f3", frame.AckPersisted))
	c.nextAck("f3", "persisted", "success", "")
	// No ack requested: nothing.
	c.send(flushFrame(t, "f4", frame.AckNone))
	c.sync()
}

func TestUnknownCommand(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{})
	c := dial(t, s, "tcp")
	c.logon("pub")
	c.send(rawFrame(`{"c":"sow","cid":"q1","t":"orders","a":"processed"}`, ""),
		rawFrame(`{"c":"bogus","cid":"q2","a":"received"}`, ""),
		rawFrame(`{"c":"bogus","cid":"q3"}`, ""),
		rawFrame(`{"c":"ack","cid":"q4","a":"received,processed"}`, ""))
	c.nextAck("q1", "processed", "failure", "not supported")
	c.nextAck("q2", "received", "failure", "not supported")
	c.nextAck("q4", "processed", "failure", "not supported")
	c.sync()
}

var tsPattern = regexp.MustCompile(`^\d{8}T\d{6}\.\d{6}Z$`)

func TestSubscribe(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{})
	sub := dial(t, s, "unix")
	sub.logon("sub")
	sub.send(subFrame(t, frame.CmdSubscribe, "c1", "orders", "s1"))
	sub.nextAck("c1", "processed", "success", "")
	pub := dial(t, s, "tcp")
	pub.logon("pub")

	pub.send(pubFrame(t, frame.Publish{Topic: "orders", Seq: 10, CorrelationID: "corr", SowKey: "key1"}, `{"id":1}`),
		pubFrame(t, frame.Publish{Topic: "other"}, `{"id":2}`))
	pub.sync()
	g := sub.next()
	want := `{"c":"p","t":"orders","sub_id":"s1","bm":"` + bm("pub", 10) + `","ts":"` + g.TS + `","x":"corr","k":"key1"}`
	if g.Header != want || g.Payload != `{"id":1}` || !tsPattern.MatchString(g.TS) {
		t.Fatalf("delivery %s\nwant %s{\"id\":1}", g, want)
	}

	// Two subscriptions of one connection on one topic: one frame with sids.
	sub.send(subFrame(t, frame.CmdSubscribe, "c2", "orders", "s2"))
	sub.nextAck("c2", "processed", "success", "")
	pub.send(pubFrame(t, frame.Publish{Topic: "orders"}, "two"))
	pub.sync()
	if g := sub.next(); g.SubIDs != "s1,s2" || g.SubID != "" || g.Payload != "two" || g.Bookmark != bm("pub", 3) {
		t.Fatalf("delivery %s, want sids s1,s2 and bm of ordinal 3", g)
	}

	// Errors.
	sub.send(subFrame(t, frame.CmdSubscribe, "c3", "orders", "s2"))
	sub.nextAck("c3", "processed", "failure", "subid in use")
	sub.send(rawFrame(`{"c":"subscribe","cid":"c4","a":"processed"}`, ""))
	sub.nextAck("c4", "processed", "failure", "no topic or filter")
	sub.send(rawFrame(`{"c":"subscribe","t":"x","a":"processed"}`, ""))
	sub.nextAck("", "processed", "failure", "invalid subid")
	// Without sub_id the cid names the subscription.
	sub.send(rawFrame(`{"c":"subscribe","cid":"c5","t":"cid-topic","a":"processed"}`, ""))
	sub.nextAck("c5", "processed", "success", "")
	pub.send(pubFrame(t, frame.Publish{Topic: "cid-topic"}, "by cid"))
	pub.sync()
	if g := sub.next(); g.SubID != "c5" || g.Payload != "by cid" {
		t.Fatalf("delivery %s", g)
	}

	// Unsubscribe one, then all.
	sub.send(rawFrame(`{"c":"unsubscribe","cid":"u1","sub_id":"s1","a":"processed"}`, ""))
	sub.nextAck("u1", "processed", "success", "")
	pub.send(pubFrame(t, frame.Publish{Topic: "orders"}, "three"))
	pub.sync()
	if g := sub.next(); g.SubID != "s2" || g.Payload != "three" {
		t.Fatalf("delivery %s", g)
	}
	sub.send(rawFrame(`{"c":"unsubscribe","cid":"u2","sub_id":"all","a":"processed"}`, ""))
	sub.nextAck("u2", "processed", "success", "")
	pub.send(pubFrame(t, frame.Publish{Topic: "orders"}, "four"), pubFrame(t, frame.Publish{Topic: "cid-topic"}, "five"))
	pub.sync()
	sub.sync() // no delivery before the flush ack
	st := s.Stats()
	if st.Delivered != 4 || st.PerTopic["orders"].Delivered != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSubscriberClosesRemovesSubscription(t *testing.T) {
	checkNoLeak(t)
	s := startServer(t, Config{})
	sub := dial(t, s, "tcp")
	sub.logon("sub")
	sub.send(subFrame(t, frame.CmdSubscribe, "c1", "orders", "s1"))
	sub.nextAck("c1", "processed", "success", "")
	sub.close()
	waitFor(t, "subscription removed", func() bool { return s.flags.Load()&flagSubs == 0 })
	pub := dial(t, s, "tcp")
	pub.logon("pub")
	pub.send(pubFrame(t, frame.Publish{Topic: "orders"}, "x"))
	pub.sync()
	if st := s.Stats(); st.Delivered != 0 || st.Publishes != 1 {
		t.Fatalf("stats %+v", st)
	}
}
