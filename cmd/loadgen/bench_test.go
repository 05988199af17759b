package main

import (
	"context"
	"testing"
	"time"

	"github.com/fastpub/fastpub/fastpub"
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

// BenchmarkWireSampling is a publish on a real client (embedded server)
// without and with publish-to-wire sampling at the default plan: the
// difference is what sampling adds per message (Queued every 16th message,
// a resolution pass every 256).
func BenchmarkWireSampling(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			s := startServer(b)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			client, err := fastpub.NewClient("wire-bench")
			if err != nil {
				b.Fatal(err)
			}
			defer client.Close()
			if err := client.Connect(ctx, s.URI("json")); err != nil {
				b.Fatal(err)
			}
			if err := client.Logon(ctx); err != nil {
				b.Fatal(err)
			}
			c := &connection{client: client}
			c.wire.h = newHistogram()
			src := (*clientWire)(c)
			w := newWireSampler(planWire(fastpub.DefaultBufferSize, 155, 1, false))
			payload := make([]byte, 128)
			start := time.Now()
			b.ReportAllocs()
			b.ResetTimer()
			for j := uint64(0); j < uint64(b.N); j++ {
				due := time.Since(start)
				if err := client.Publish("t", payload); err != nil {
					b.Fatal(err)
				}
				if !on {
					continue
				}
				if j&w.mask == 0 {
					w.push(client.Queued(), due)
				}
				if (j+1)&w.resolveMask == 0 {
					w.resolve(src, start, &c.wire)
				}
			}
			if err := client.PublishFlush(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			w.drain(src, start, &c.wire, time.Now().Add(wireDrainWait))
			if on && w.counts.resolved == 0 {
				b.Fatalf("nothing resolved: %+v", w.counts)
			}
		})
	}
}
