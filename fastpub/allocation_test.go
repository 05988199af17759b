//go:build !race

package fastpub_test

import (
	"strings"
	"testing"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/fastpub"
)

// The publish path allocates nothing, over a real loopback connection to the
// test server. testing.AllocsPerRun counts every allocation in the process
// during the runs, so this also covers the client's writer and reader
// goroutines and the server.
func TestPublishAllocatesNothing(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	c := connect(t, s.URI("json"), "alloc-test")
	payload := []byte(`{"id":1,"px":101.25,"sym":"MSFT","side":"buy","qty":100}`)
	const payloadString = `{"id":1,"px":101.25,"sym":"MSFT","side":"buy","qty":100}`
	ctx := ctxT(t, 30*time.Second)
	longTopic := strings.Repeat("t", 300)

	cases := []struct {
		name string
		f    func() error
	}{
		{"Publish []byte", func() error { return c.Publish("orders", payload) }},
		{"PublishString", func() error { return c.PublishString("orders", payloadString) }},
		{"DeltaPublish", func() error { return c.DeltaPublish("orders", payload) }},
		{"TryPublish", func() error {
			for i := 0; i < 1000; i++ {
				if err := c.TryPublish("orders", payload); err == nil {
					return nil
				}
				time.Sleep(time.Millisecond)
			}
			return fastpub.ErrBufferFull
		}},
		{"PublishContext", func() error { return c.PublishContext(ctx, "orders", payload) }},
		{"PublishMessage []byte with expiration", func() error {
			m := fastpub.Message{Topic: "orders", Data: payload, Expiration: 30 * time.Second}
			return c.PublishMessage(ctx, &m)
		}},
		{"PublishMessage string with expiration and correlation id", func() error {
			m := fastpub.Message{Topic: "orders", DataString: payloadString, Expiration: time.Minute, CorrelationID: "abc123"}
			return c.PublishMessage(ctx, &m)
		}},
		{"Publish with a 300-byte topic (sized, then encoded in place)", func() error {
			return c.Publish(longTopic, payload)
		}},
		{"PublishMessage string without expiration", func() error {
			m := fastpub.Message{Topic: "orders", DataString: payloadString}
			return c.PublishMessage(ctx, &m)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			allocs := testing.AllocsPerRun(20000, func() {
				if e := tc.f(); e != nil {
					err = e
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if allocs != 0 {
				t.Fatalf("%v allocations per publish, want 0", allocs)
			}
		})
	}
	if err := c.PublishFlush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().Publishes; got < 9*20000 {
		t.Fatalf("server counted %d publishes, want at least %d", got, 9*20000)
	}
}

// A message larger than the arena's inline limit travels in a pooled buffer
// of its own: still no allocation once the pool is warm.
func TestOversizedPublishAllocatesNothing(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	c := connect(t, s.URI("json"), "alloc-big", fastpub.WithBufferSize(64<<10))
	big := make([]byte, 16<<10) // > 64 KiB / 16
	for i := range big {
		big[i] = 'a'
	}
	for i := 0; i < 100; i++ { // warm the pool
		if err := c.Publish("big", big); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(2000, func() {
		if err := c.Publish("big", big); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per oversized publish, want 0", allocs)
	}
}
