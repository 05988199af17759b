//go:build !race

package main

import (
	"context"
	"testing"
	"time"
)

// Zero-allocation proofs for what loadgen adds to every message: the race
// detector allocates, so these run without it.

func TestRenderAllocatesNothing(t *testing.T) {
	full, err := parseTemplate([]byte(`{"sym":"{{symbol}}","seq":{{seq}},"ts":{{ts}},"p":{{producer}},"v":"{{stamp}}"}`))
	if err != nil {
		t.Fatal(err)
	}
	symbols := []string{"AAPL", "MSFT"}
	for name, tm := range map[string]*template{"full": full, "sized-128": sizedTemplate(128), "sized-16": sizedTemplate(16)} {
		buf := make([]byte, 0, tm.maxLen(symbols))
		f := fields{producer: 3, run: 9, symbol: "AAPL"}
		allocs := testing.AllocsPerRun(1000, func() {
			f.seq++
			f.ts += 1000
			buf = tm.render(buf[:0], &f)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per render", name, allocs)
		}
	}
}

func TestRecordAllocatesNothing(t *testing.T) {
	h := newHistogram()
	v := int64(1)
	if allocs := testing.AllocsPerRun(1000, func() { v = v*3 + 7; record(h, v%int64(1e12)) }); allocs != 0 {
		t.Errorf("%v allocations per record", allocs)
	}
}

func TestVerifierHandleAllocatesNothing(t *testing.T) {
	v := newVerifier(nil, 5, []string{"a", "b"}, 1, 1)
	payload := sizedTemplate(128)
	f := fields{run: 5}
	buf := make([]byte, 0, 128)
	topic := []byte("b")
	// Warm the bitmap so the measured deliveries fall inside it.
	for i := 1; i <= 2000; i++ {
		f.seq = uint64(i)
		v.handle(topic, payload.render(buf[:0], &f), 1)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		f.seq++
		if f.seq > 1900 {
			f.seq = 1 // duplicates from here on: still no allocation
		}
		v.handle(topic, payload.render(buf[:0], &f), 1)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per delivery", allocs)
	}
}

// TestWireSamplerAllocatesNothing: sampling (Queued), queueing and the
// resolution passes (Stats, WireTime, the shared histogram) against a real
// client allocate nothing.
func TestWireSamplerAllocatesNothing(t *testing.T) {
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	client := logonClient(t, ctx, s, "wire-allocs")
	c := &connection{client: client}
	c.wire.h = newHistogram()
	src := (*clientWire)(c)
	w := newWireSampler(wirePlan{every: 4, resolveEvery: 16, capacity: 1024})
	payload := []byte(`{"x":1}`)
	start := time.Now()
	var j uint64
	allocs := testing.AllocsPerRun(4000, func() {
		due := time.Since(start)
		if err := client.Publish("t", payload); err != nil {
			t.Fatal(err)
		}
		if j&w.mask == 0 {
			w.push(client.Queued(), due)
		}
		if j++; j&w.resolveMask == 0 {
			w.resolve(src, start, &c.wire)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per message", allocs)
	}
	if err := client.PublishFlush(ctx); err != nil {
		t.Fatal(err)
	}
	w.drain(src, start, &c.wire, time.Now().Add(wireDrainWait))
	if w.counts.resolved == 0 || w.counts.resolved+w.counts.rolledOver != w.counts.sampled {
		t.Errorf("counts %+v: the passes resolved nothing", w.counts)
	}
}

// TestPublishLoopAllocatesNothing runs the real producer loop against the
// embedded server: allocations over the whole process must not grow with
// the number of messages.
func TestPublishLoopAllocatesNothing(t *testing.T) {
	for _, api := range []string{"publish", "try", "message"} {
		code, r, stderr := runJSON(t, nil, "--count", "200k", "--api", api, "--quiet")
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if r.Runtime.Allocs > 2000 {
			t.Errorf("--api %s: %d allocations for %d messages (%.4f/msg)", api, r.Runtime.Allocs, r.Messages, r.Runtime.AllocsPerMsg)
		}
	}
}
