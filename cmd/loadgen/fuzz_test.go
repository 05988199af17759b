package main

import (
	"testing"
)

// FuzzParseTemplate: any file either fails to parse or renders within
// maxLen, with every field filled.
func FuzzParseTemplate(f *testing.F) {
	f.Add([]byte(`{"s":"{{symbol}}","n":{{seq}},"t":{{ts}},"p":{{producer}},"v":"{{stamp}}"}`), uint64(7), int64(-5))
	f.Add([]byte("{{"), uint64(0), int64(0))
	f.Add([]byte("a}}b{{seq}}"), uint64(1<<63), int64(1<<62))
	f.Fuzz(func(t *testing.T, src []byte, seq uint64, ts int64) {
		tm, err := parseTemplate(src)
		if err != nil {
			return
		}
		symbols := []string{"AAPL", "X"}
		out := tm.render(nil, &fields{seq: seq, ts: ts, producer: 1023, symbol: "AAPL", run: 1})
		if len(out) > tm.maxLen(symbols) {
			t.Fatalf("rendered %d bytes, maxLen %d", len(out), tm.maxLen(symbols))
		}
	})
}

// FuzzVerifierHandle: whatever a server delivers, the verifier neither
// panics nor counts it as one of this run's messages unless it carries a
// valid stamp.
func FuzzVerifierHandle(f *testing.F) {
	good := appendStamp([]byte(`{"lg":"`), 9, 'P', 0, 1, 100)
	marker := appendStamp(nil, 9, 'E', 0, 0, 100)
	f.Add([]byte("t"), good)
	f.Add([]byte("t"), marker)
	f.Add([]byte("u"), good)
	f.Add([]byte("t"), []byte("LG00000009P"))
	f.Fuzz(func(t *testing.T, topic, payload []byte) {
		v := newVerifier(nil, 9, []string{"t"}, 1, 2)
		v.handle(topic, payload, 1000)
		v.handle(topic, payload, 1000)
		close(v.done)
		r := v.result([]uint64{3, 3}, 1)
		if r.Received > 1 || r.Duplicated > 1 || r.Foreign > 2 || r.Received+r.Lost != 6 {
			t.Fatalf("one payload twice gave %+v", r)
		}
	})
}
