//go:build !race

package fastpub_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/fastpub"
	"github.com/fastpub/fastpub/store"
	"github.com/fastpub/fastpub/store/filestore"
)

// The publish path allocates nothing, over a real loopback connection to the
// test server, for every publish variant: see checkPublishAllocatesNothing.
func TestPublishAllocatesNothing(t *testing.T) {
	checkPublishAllocatesNothing(t)
}

// The same with a memory store: every publish carries its sequence number
// and waits in the ring for its persisted ack, which the writer applies;
// still nothing allocates.
func TestPublishWithStoreAllocatesNothing(t *testing.T) {
	checkPublishAllocatesNothing(t, fastpub.WithStore(memStore(t, gateBuffer, 1024)))
}

// The same with a file store: each frame is also copied into an mmap'd
// segment with its CRC, segments are made ready ahead and deleted once
// persisted by the store's own goroutine; still nothing allocates.
func TestPublishWithFileStoreAllocatesNothing(t *testing.T) {
	fs, err := filestore.Open(t.TempDir(), "gate", filestore.Options{Limits: store.Limits{Bytes: gateBuffer, Messages: 1024}})
	if err != nil {
		t.Fatal(err)
	}
	checkPublishAllocatesNothing(t, fastpub.WithStore(fs))
}

// gatePublishes is how many publishes each variant makes while the gate
// counts allocations.
const gatePublishes = 100_000

// gateSlack is how many allocations in the whole process the gate tolerates
// per variant. They are the runtime's and the buffer pool's, not the publish
// path's: a goroutine that parked on one P and wakes on another moves its
// wait records (sudogs) between the Ps' caches, and refilling a cache
// allocates; a GC cycle's workers allocate; bytebufferpool recalibrates.
// Measured: 0 to 72 per 100,000 publishes. The gate also checks that the
// writer made at least 10 × gateSlack system calls, so that one allocation
// per writev (or per publish) cannot hide in the slack.
const gateSlack = 128

// gateBuffer is the gate's send buffer: small, so that the writer makes many
// system calls.
const gateBuffer = 64 << 10

// publishVariant is one way to publish, as the gate calls it.
type publishVariant struct {
	name string
	size int // the payload's size, about
	f    func(c *fastpub.Client) error
}

// publishVariants lists every publish entry point, with the message shapes
// that take different paths: headers encoded on the stack, long headers
// sized and encoded in place, oversized frames in pooled buffers.
func publishVariants(ctx context.Context) []publishVariant {
	payload := []byte(`{"id":1,"px":101.25,"sym":"MSFT","side":"buy","qty":100}`)
	const payloadString = `{"id":1,"px":101.25,"sym":"MSFT","side":"buy","qty":100}`
	longTopic := strings.Repeat("t", 300)
	big := []byte(strings.Repeat("b", 5000)) // over a sixteenth of the gate's 64 KiB buffer: a pooled buffer of its own
	try := func(f func() error) error {
		// A bounded spin: the buffer is small, so TryPublish often finds it full.
		var err error
		for i := 0; i < 10_000_000; i++ {
			if err = f(); err != fastpub.ErrBufferFull {
				return err
			}
			runtime.Gosched()
		}
		return err
	}
	return []publishVariant{
		{"Publish", len(payload), func(c *fastpub.Client) error { return c.Publish("orders", payload) }},
		{"PublishString", len(payload), func(c *fastpub.Client) error { return c.PublishString("orders", payloadString) }},
		{"DeltaPublish", len(payload), func(c *fastpub.Client) error { return c.DeltaPublish("orders", payload) }},
		{"DeltaPublishString", len(payload), func(c *fastpub.Client) error { return c.DeltaPublishString("orders", payloadString) }},
		{"PublishContext", len(payload), func(c *fastpub.Client) error { return c.PublishContext(ctx, "orders", payload) }},
		{"TryPublish", len(payload), func(c *fastpub.Client) error {
			return try(func() error { return c.TryPublish("orders", payload) })
		}},
		{"PublishMessage with every header", len(payload), func(c *fastpub.Client) error {
			m := fastpub.Message{Topic: "orders", Data: payload, Delta: true, Expiration: 30 * time.Second, CorrelationID: "abc123", SowKey: "k1"}
			return c.PublishMessage(ctx, &m)
		}},
		{"PublishMessage string", len(payload), func(c *fastpub.Client) error {
			m := fastpub.Message{Topic: "orders", DataString: payloadString}
			return c.PublishMessage(ctx, &m)
		}},
		{"TryPublishMessage", len(payload), func(c *fastpub.Client) error {
			m := fastpub.Message{Topic: "orders", DataString: payloadString, Expiration: time.Minute}
			return try(func() error { return c.TryPublishMessage(&m) })
		}},
		{"Publish with a 300-byte topic", 300 + len(payload), func(c *fastpub.Client) error { return c.Publish(longTopic, payload) }},
		{"Publish oversized", len(big), func(c *fastpub.Client) error { return c.Publish("big", big) }},
	}
}

// checkPublishAllocatesNothing is the zero-allocation gate: it logs a client
// on to a test server over loopback TCP (a gateBuffer send buffer, so that
// the writer makes thousands of writev calls; opts come after it and must
// not change the buffer size) and, for every publish variant, counts
// runtime.MemStats.Mallocs for the whole process (publisher, writer, reader,
// server) over gatePublishes publishes and until the writer has written them
// all. It fails on more than gateSlack allocations per variant, or when the
// writer made too few calls for the slack to be smaller than one allocation
// per call.
// GOMAXPROCS is at least 2 while it runs, so that the writer runs on its own
// P alongside the publishing goroutine, as in production.
//
// It is a helper so that other configurations (the publish store) can pass
// their options through the same gate.
func checkPublishAllocatesNothing(t *testing.T, opts ...fastpub.Option) {
	t.Helper()
	if prev := runtime.GOMAXPROCS(0); prev < 2 {
		runtime.GOMAXPROCS(2)
		t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	}
	s := startServer(t, ampstest.Config{})
	c := connect(t, s.URI("json"), "alloc-gate", append([]fastpub.Option{fastpub.WithBufferSize(gateBuffer)}, opts...)...)
	// The blocking variants' context: every wait below has a watchdog of
	// its own (waitWritten's minute), so this one only has to outlast them
	// all. A shared 2-minute one expired under a loaded machine (the
	// oversized variant waits for each frame to be written: 100,000
	// hand-offs to the writer, 205 s in one CI-like run beside other tests).
	ctx := ctxT(t, 10*time.Minute)
	for _, v := range publishVariants(ctx) {
		t.Run(v.name, func(t *testing.T) {
			// Warm up (pooled buffers, the netpoller's first park), then
			// start counting.
			for i := 0; i < 1000; i++ {
				if err := v.f(c); err != nil {
					t.Fatal(err)
				}
			}
			waitWritten(t, c)
			writes0 := c.Stats().Writes
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			// Chunks of an eighth of the buffer, each written before the
			// next: no publish waits for room (a publish that does parks on
			// a channel, and the runtime allocates wait records as it
			// likes), and the writer makes thousands of calls.
			chunk := max(1, gateBuffer/8/(v.size+128))
			for i := 0; i < gatePublishes; i++ {
				if err := v.f(c); err != nil {
					t.Fatal(err)
				}
				if i%chunk == chunk-1 {
					waitWritten(t, c)
				}
			}
			waitWritten(t, c)
			runtime.ReadMemStats(&after)
			writes := c.Stats().Writes - writes0
			mallocs := after.Mallocs - before.Mallocs
			t.Logf("%d publishes, %d writev calls, %d allocations in the process", gatePublishes, writes, mallocs)
			if mallocs > gateSlack {
				t.Fatalf("%d allocations during %d publishes and %d writes, want at most %d", mallocs, gatePublishes, writes, gateSlack)
			}
			if writes < 10*gateSlack {
				t.Fatalf("only %d writev calls: too few for the gate to see one allocation per call", writes)
			}
		})
	}
	if err := c.PublishFlush(ctxT(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	if want := uint64(len(publishVariants(ctx)) * (gatePublishes + 1000)); s.Stats().Publishes != want {
		t.Fatalf("server counted %d publishes, want %d", s.Stats().Publishes, want)
	}
}

// waitWritten waits until the writer has written everything queued and,
// with a store, until the server's persisted acks have freed all but a
// quarter of it (so that the next chunk never waits for room), without
// allocating (Stats and Queued do not). A generous watchdog bounds it.
func waitWritten(t *testing.T, c *fastpub.Client) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	busy := func() bool {
		st := c.Stats()
		return st.BytesWritten != c.Queued() || st.UnpersistedBytes > uint64(st.BufferSize/4)
	}
	for i := 0; busy(); i++ {
		if i%1024 == 0 && time.Now().After(deadline) {
			t.Fatalf("the writer wrote %d of %d bytes in a minute", c.Stats().BytesWritten, c.Queued())
		}
		runtime.Gosched()
	}
}
