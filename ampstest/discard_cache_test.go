package ampstest

import (
	"testing"

	"github.com/fastpub/fastpub/frame"
)

// The discard path remembers the last plain-publish header it validated and
// compares instead of scanning when the next frame repeats it. Frames that
// repeat it, switch topics, or only share a prefix with it are all counted
// against the right topic, and a header that differs goes the strict way.
func TestDiscardHeaderCache(t *testing.T) {
	s := startServer(t, Config{})
	r := dial(t, s, "tcp")
	r.logon("cache")
	r.send(
		rawFrame(`{"c":"p","t":"orders"}`, "1"),
		rawFrame(`{"c":"p","t":"orders"}`, "22"),
		rawFrame(`{"c":"p","t":"orders"}`, ""),
		rawFrame(`{"c":"p","t":"trades"}`, "333"),
		rawFrame(`{"c":"publish","t":"trades"}`, "4444"),
		rawFrame(`{"c":"p","t":"orders"}`, "55555"),
		// Shares the cached header's first bytes but is another header: the
		// strict parser handles it (and acks it).
		rawFrame(`{"c":"p","t":"orders","cid":"x1","a":"processed"}`, "666666"),
		rawFrame(`{"c":"p","t":"ordersX"}`, "7"),
	)
	r.nextAck("x1", "processed", "success", "")
	r.send(flushFrame(t, "f1", frame.AckProcessed))
	r.nextAck("f1", "processed", "success", "")
	st := s.Stats()
	want := map[string]TopicStats{
		"orders":  {Publishes: 5, Bytes: 1 + 2 + 0 + 5 + 6},
		"trades":  {Publishes: 2, Bytes: 3 + 4},
		"ordersX": {Publishes: 1, Bytes: 1},
	}
	for topic, w := range want {
		g := st.PerTopic[topic]
		if g.Publishes != w.Publishes || g.Bytes != w.Bytes {
			t.Errorf("topic %q: %d publishes, %d bytes; want %d, %d", topic, g.Publishes, g.Bytes, w.Publishes, w.Bytes)
		}
	}
	// A malformed header after a cached one still closes the connection.
	r.send(rawFrame(`{"c":"p", "t":"orders"}`, "x"))
	r.expectClosed()
}
