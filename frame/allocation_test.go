//go:build !race

package frame

import "testing"

// loopReader serves data over and over, without allocating.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

func TestAllocations(t *testing.T) {
	payload := make([]byte, 128)
	pub := &Publish{Topic: "orders", CommandID: "a\"b", Ack: AckPersisted, Expiration: 30,
		CorrelationID: "x", SowKey: "k", Seq: 1 << 62}
	dst := make([]byte, 0, 4096)
	var h Header
	parseBuf := make([]byte, 0, 256)
	frame, _ := AppendLogon(nil, &exampleLogon)

	var stream []byte
	for i := range 7 {
		stream, _ = AppendPublish(stream, pub, payload[:i*17])
	}
	r := NewReader(&loopReader{data: stream}, 100, 1<<10)
	for range 20 { // reach steady state: the buffer has grown to the largest frame
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}

	cases := []struct {
		name string
		fn   func()
	}{
		{"AppendPublish", func() { dst, _ = AppendPublish(dst[:0], pub, payload) }},
		{"AppendPublishString", func() { dst, _ = AppendPublishString(dst[:0], pub, "payload") }},
		{"PublishLen", func() { _, _ = PublishLen(pub, len(payload)) }},
		{"AppendPublish exact capacity", func() {
			n, _ := PublishLen(pub, len(payload))
			if _, err := AppendPublish(dst[:0:n], pub, payload); err != nil {
				t.Fatal(err)
			}
		}},
		{"AppendLogon", func() { dst, _ = AppendLogon(dst[:0], &exampleLogon) }},
		{"AppendFlush", func() { dst, _ = AppendFlush(dst[:0], &Flush{CommandID: "2", ClientName: "pub-1", Ack: AckPersisted}) }},
		{"AppendHeartbeatStart", func() { dst = AppendHeartbeatStart(dst[:0], 5) }},
		{"AppendAck", func() { dst, _ = AppendAck(dst[:0], &exampleLogonAck) }},
		{"AppendDelivery", func() {
			dst, _ = AppendDelivery(dst[:0], &Delivery{Topic: "t", SubID: "s", Seq: 1, HasSeq: true}, payload)
		}},
		{"AppendSubscribe", func() { dst, _ = AppendSubscribe(dst[:0], &Subscribe{Topic: "t", SubID: "s"}) }},
		{"ParseAckType", func() { _, _ = ParseAckType([]byte("processed,persisted")) }},
		{"Header.Parse", func() {
			parseBuf = append(parseBuf[:0], frame[PrefixLen:]...)
			if _, err := h.Parse(parseBuf); err != nil {
				t.Fatal(err)
			}
		}},
		{"Header.Parse escapes", func() {
			parseBuf = append(parseBuf[:0], `{"c":"p","t":"a\"b","cid":"\\","s":"43"}x`...)
			if _, err := h.Parse(parseBuf); err != nil {
				t.Fatal(err)
			}
		}},
		{"Reader.Next", func() {
			if _, err := r.Next(); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		if n := testing.AllocsPerRun(200, c.fn); n != 0 {
			t.Errorf("%s: %v allocations per run, want 0", c.name, n)
		}
	}
}

func TestAppendPublishHeaderAllocatesNothing(t *testing.T) {
	h := Publish{Topic: "orders", CorrelationID: "abc"}
	var scratch [256]byte
	allocs := testing.AllocsPerRun(1000, func() {
		hdr, _ := AppendPublishHeader(scratch[:0], &h)
		SetLength(hdr)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations, want 0", allocs)
	}
}
