package fastpub_test

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/fastpub/fastpub/subscriber"
)

// AMPSURIEnv names a real AMPS server for the integration tests, e.g.
// FASTPUB_AMPS_URI=tcp://user:pw@amps-host:9007/amps/json. Without it they
// skip and say so; everything else runs against the in-process test server.
const AMPSURIEnv = "FASTPUB_AMPS_URI"

func realAMPS(t *testing.T) string {
	t.Helper()
	uri := os.Getenv(AMPSURIEnv)
	if uri == "" {
		t.Skipf("%s is not set: skipping the run against a real AMPS server (the same scenario runs against ampstest elsewhere)", AMPSURIEnv)
	}
	return uri
}

// Against a real AMPS: log on, subscribe, publish in order, flush, and check
// that every message arrived once and in order.
func TestIntegrationRealAMPS(t *testing.T) {
	uri := realAMPS(t)
	ctx := ctxT(t, time.Minute)
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	topic := "fastpub-it-" + run
	sub, err := subscriber.Dial(ctx, uri, "fastpub-it-sub-"+run)
	if err != nil {
		t.Fatalf("subscriber: %v", err)
	}
	defer sub.Close()
	if _, err := sub.Subscribe(ctx, topic); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	c := connect(t, uri, "fastpub-it-pub-"+run)
	const n = 10000
	for i := 0; i < n; i++ {
		if err := c.PublishString(topic, fmt.Sprintf(`{"n":%d}`, i)); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	if err := c.PublishFlush(ctx); err != nil {
		t.Fatalf("PublishFlush: %v", err)
	}
	for i := 0; i < n; i++ {
		m, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("after %d messages: %v", i, err)
		}
		if want := fmt.Sprintf(`{"n":%d}`, i); string(m.Payload) != want {
			t.Fatalf("message %d: %q, want %q", i, m.Payload, want)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}
