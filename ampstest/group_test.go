package ampstest

import (
	"fmt"
	"testing"

	"github.com/fastpub/fastpub/frame"
)

// subscribeRaw logs a raw connection on as name and subscribes it to topic.
func subscribeRaw(t *testing.T, s *Server, network, name, topic string) *rawConn {
	t.Helper()
	c := dial(t, s, network)
	c.logon(name)
	c.send(subFrame(t, frame.CmdSubscribe, "s", topic, name+"-1"))
	c.nextAck("s", "processed", "success", "")
	return c
}

// expectDeliveries reads exactly the given payloads, in order, from a subscriber, then syncs
// to show that nothing else was delivered before.
func expectDeliveries(t *testing.T, sub *rawConn, from string, seqs ...uint64) {
	t.Helper()
	for _, seq := range seqs {
		g := sub.next()
		if g.Cmd != frame.CmdPublish || g.Payload != fmt.Sprint(seq) || g.Bookmark != bm(from, seq) {
			t.Fatalf("delivery %s, want payload %d with bookmark %s", g, seq, bm(from, seq))
		}
	}
	sub.sync()
}

// persistedPub is a publish of payload seq with sequence seq, requesting a persisted ack.
func persistedPub(t *testing.T, topic string, seq uint64) []byte {
	return pubFrame(t, frame.Publish{Topic: topic, Seq: seq, Ack: frame.AckPersisted}, fmt.Sprint(seq))
}

func TestGroupSharedState(t *testing.T) {
	checkNoLeak(t)
	st := NewState()
	a := startServer(t, Config{State: st})
	b := startServer(t, Config{State: st})
	if a.State() != st || b.State() != st {
		t.Fatal("State() is not the configured state")
	}
	subA := subscribeRaw(t, a, "tcp", "subA", "t")
	subB := subscribeRaw(t, b, "unix", "subB", "t")

	pubA := dial(t, a, "tcp")
	pubA.logon("pub")
	pubA.send(persistedPub(t, "t", 1), persistedPub(t, "t", 2), persistedPub(t, "t", 3))
	for seq := uint64(1); seq <= 3; seq++ {
		if g := pubA.nextAck("", "persisted", "success", ""); g.Seq != seq {
			t.Fatalf("got %s, want s=%d", g, seq)
		}
	}
	expectDeliveries(t, subA, "pub", 1, 2, 3)
	expectDeliveries(t, subB, "pub", 1, 2, 3)

	// Fail over to b with the same name while the connection to a is still up: b knows L=3,
	// drops the replayed 2 and 3 as duplicates, accepts 4, and 4 reaches both servers'
	// subscribers once.
	pubB := dial(t, b, "tcp")
	if g := pubB.logon("pub"); g.Seq != 3 || g.Bookmark != bm("pub", 3) {
		t.Fatalf("logon ack on b %s, want s=3", g)
	}
	pubB.send(persistedPub(t, "t", 2), persistedPub(t, "t", 3), persistedPub(t, "t", 4))
	for _, want := range []struct {
		seq    uint64
		reason string
	}{{2, "duplicate"}, {3, "duplicate"}, {4, ""}} {
		if g := pubB.nextAck("", "persisted", "success", want.reason); g.Seq != want.seq {
			t.Fatalf("got %s, want s=%d", g, want.seq)
		}
	}
	expectDeliveries(t, subA, "pub", 4)
	expectDeliveries(t, subB, "pub", 4)
	pubA.sync() // the name's connection to a was not replaced by the logon on b

	// And back: a sees b's 4 as the last sequence.
	pubA.send(persistedPub(t, "t", 4), persistedPub(t, "t", 5))
	pubA.nextAck("", "persisted", "success", "duplicate")
	pubA.nextAck("", "persisted", "success", "")
	expectDeliveries(t, subA, "pub", 5)
	expectDeliveries(t, subB, "pub", 5)

	if a.LastSequence("pub") != 5 || b.LastSequence("pub") != 5 || st.LastSequence("pub") != 5 {
		t.Fatalf("last sequence a=%d b=%d state=%d, want 5", a.LastSequence("pub"), b.LastSequence("pub"), st.LastSequence("pub"))
	}
	sa, sb := a.Stats(), b.Stats()
	if sa.Publishes != 4 || sa.Duplicates != 1 || sa.Delivered != 8 ||
		sb.Publishes != 1 || sb.Duplicates != 2 || sb.Delivered != 2 {
		t.Fatalf("stats a %+v\nb %+v", sa, sb)
	}
}

func TestGroupSubscriptionFlagFollowsOtherMembers(t *testing.T) {
	checkNoLeak(t)
	st := NewState()
	a := startServer(t, Config{State: st})
	sub := subscribeRaw(t, a, "tcp", "sub", "t")
	// A member created after the subscription sees it.
	b := startServer(t, Config{State: st})
	if b.flags.Load()&flagSubs == 0 {
		t.Fatal("a new member does not see the group's subscription")
	}
	pub := dial(t, b, "tcp")
	pub.logon("pub")
	pub.send(pubFrame(t, frame.Publish{Topic: "t"}, "1")) // the plain shape of the discard path
	pub.sync()
	expectDeliveries(t, sub, "pub", 1)
	sub.close()
	waitFor(t, "subscription gone on every member", func() bool {
		return a.flags.Load()&flagSubs == 0 && b.flags.Load()&flagSubs == 0
	})
}
