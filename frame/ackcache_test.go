package frame

import (
	"bytes"
	"testing"
)

// parsed parses a copy of body (Parse rewrites escapes in place).
func parsed(body []byte) (*Header, []byte, error) {
	var h Header
	p, err := h.Parse(append([]byte(nil), body...))
	return &h, p, err
}

// learn is what a reader does with a body it had to parse.
func learn(a *PersistedAckCache, body []byte) {
	h, p, err := parsed(body)
	if err == nil {
		a.Learn(body, bytes.IndexByte(body, '\\') >= 0, h, p)
	}
}

// TestPersistedAckCache: the two shapes frame.AppendAck writes (with and
// without a bookmark) are learned and then matched for other sequences;
// other acks and other bodies are not.
func TestPersistedAckCache(t *testing.T) {
	ack := func(seq uint64, bm string) []byte {
		b, err := AppendAck(nil, &Ack{Type: AckPersisted, Status: "success", Seq: seq, HasSeq: true, Bookmark: bm})
		if err != nil {
			t.Fatal(err)
		}
		return b[PrefixLen:]
	}
	for _, withBM := range []bool{false, true} {
		bm := func(seq uint64) string {
			if !withBM {
				return ""
			}
			return "123|" + string(appendUint(nil, seq)) + "|"
		}
		var a PersistedAckCache
		learn(&a, ack(1764680000000000123, bm(1764680000000000123)))
		for _, seq := range []uint64{1, 9, 10, 1764680000000000124, 9999999999999999999} {
			if got, ok := a.Match(ack(seq, bm(seq))); !ok || got != seq {
				t.Errorf("bookmark %v: Match(ack %d) = %d, %v", withBM, seq, got, ok)
			}
		}
		for _, other := range [][]byte{
			ack(10000000000000000000, bm(10000000000000000000)), // 20 digits: left to Parse
			[]byte(`{"c":"ack","a":"persisted","s":012,"status":"success"}`),
			[]byte(`{"c":"ack","a":"persisted","status":"success","s":5,"bm":"1|5|x"}`),
			[]byte(`{"c":"ack","a":"persisted","status":"success","s":5,"bm":"1|5|"}payload`),
			[]byte(`{"c":"ack","a":"persisted","s":5,"status":"failure"}`),
			[]byte(`{"c":"ack","a":"persisted","s":5,"status":"success","seq":6}`),
			[]byte(`{"c":"ack","a":"persisted","status":"success","s":}`),
		} {
			if got, ok := a.Match(other); ok {
				if h, _, err := parsed(other); err != nil || h.Seq != got {
					t.Errorf("bookmark %v: Match(%q) = %d, true; Parse: %+v, %v", withBM, other, got, h, err)
				}
			}
		}
	}
	for _, body := range []string{
		`{"c":"ack","a":"persisted","cid":"f1","status":"success","s":5}`,
		`{"c":"ack","a":"persisted","status":"failure","reason":"duplicate","s":5}`,
		`{"c":"ack","a":"processed","status":"success","s":5}`,
		`{"c":"ack","a":"persisted","status":"success","s":5,"seq":5}`,
		`{"c":"ack","a":"persisted","status":"succ\u0065ss","s":5}`,
		`{"c":"ack","a":"persisted","status":"success","s":"5"}`,
	} {
		var a PersistedAckCache
		learn(&a, []byte(body))
		if len(a.prefix) != 0 {
			t.Errorf("learned %q", body)
		}
	}
}

// FuzzPersistedAckCache: whatever Match accepts after learning from any
// first body, Parse reads as a successful persisted ack with that sequence,
// no command id, no reason and no payload; and the learned body itself
// matches with its own sequence.
func FuzzPersistedAckCache(f *testing.F) {
	for _, s := range [][2]string{
		{`{"c":"ack","a":"persisted","status":"success","s":1764680000000000123,"bm":"123|1764680000000000123|"}`, `{"c":"ack","a":"persisted","status":"success","s":1764680000000000124,"bm":"123|1764680000000000124|"}`},
		{`{"c":"ack","a":"persisted","s":43,"status":"success"}`, `{"c":"ack","a":"persisted","s":44,"status":"success"}`},
		{`{"c":"ack","a":"persisted","s":43,"status":"success"}`, `{"c":"ack","a":"persisted","s":44,"status":"success","s":1}`},
		{`{"c":"ack","s":1,"a":"persisted","s":43,"status":"success"}`, `{"c":"ack","s":1,"a":"persisted","s":0,"status":"success"}`},
		{`{"cmd":"ack","ack":"persisted","status":"success","s":7}`, `{"cmd":"ack","ack":"persisted","status":"success","s":8}`},
		{`{"c":"ack","a":"persisted","status":"success","s":7,"x":"s"}`, `{"c":"ack","a":"persisted","status":"success","s":70,"x":"s"}`},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, first, second []byte) {
		var a PersistedAckCache
		learn(&a, first)
		if len(a.prefix) == 0 {
			return
		}
		h1, _, _ := parsed(first)
		if seq, ok := a.Match(first); !ok || seq != h1.Seq {
			t.Fatalf("learned %q, then Match(it) = %d, %v; Parse said %d", first, seq, ok, h1.Seq)
		}
		seq, ok := a.Match(second)
		if !ok {
			return
		}
		h, p, err := parsed(second)
		if err != nil || h.Command != CmdAck || h.Ack != AckPersisted || string(h.Status) != "success" ||
			len(h.Reason) != 0 || len(h.CommandID) != 0 || !h.HasSeq || h.Seq != seq || len(p) != 0 {
			t.Fatalf("learned %q; Match(%q) = %d; Parse: %+v, payload %q, %v", first, second, seq, h, p, err)
		}
	})
}
