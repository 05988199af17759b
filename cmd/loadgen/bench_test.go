package main

import (
	"testing"
	"time"
)

// What loadgen itself costs per message, next to the publish it measures.

func BenchmarkRenderSized128(b *testing.B) {
	b.ReportAllocs()
	tm := sizedTemplate(128)
	buf := make([]byte, 0, 128)
	f := fields{producer: 1, run: 2}
	for i := 0; i < b.N; i++ {
		f.seq++
		f.ts += 1000
		buf = tm.render(buf[:0], &f)
	}
}

func BenchmarkRenderTick(b *testing.B) {
	b.ReportAllocs()
	tm, err := parseTemplate([]byte(`{"symbol":"{{symbol}}","seq":{{seq}},"ts":{{ts}},"bid":101.25,"lg":"{{stamp}}"}`))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, tm.maxLen([]string{"AAPL"}))
	f := fields{producer: 1, run: 2, symbol: "AAPL"}
	for i := 0; i < b.N; i++ {
		f.seq++
		f.ts += 1000
		buf = tm.render(buf[:0], &f)
	}
}

// BenchmarkHarness is the loop without the publish: render, clock, record.
func BenchmarkHarness(b *testing.B) {
	b.ReportAllocs()
	tm := sizedTemplate(128)
	h := newHistogram()
	buf := make([]byte, 0, 128)
	f := fields{producer: 1, run: 2}
	start := time.Now()
	prev := time.Since(start)
	for i := 0; i < b.N; i++ {
		f.seq++
		f.ts = int64(prev)
		buf = tm.render(buf[:0], &f)
		now := time.Since(start)
		record(h, int64(now-prev))
		prev = now
	}
}

func BenchmarkVerifierHandle(b *testing.B) {
	b.ReportAllocs()
	v := newVerifier(nil, 5, []string{"t"}, 1, 1)
	tm := sizedTemplate(128)
	buf := make([]byte, 0, 128)
	f := fields{run: 5}
	topic := []byte("t")
	for i := 0; i < b.N; i++ {
		f.seq++
		v.handle(topic, tm.render(buf[:0], &f), 1)
	}
}
