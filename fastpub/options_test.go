package fastpub_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/fastpub"
)

func TestNewClientValidatesOptions(t *testing.T) {
	bad := []struct {
		name string
		opts []fastpub.Option
	}{
		{"buffer not a power of two", []fastpub.Option{fastpub.WithBufferSize(5000)}},
		{"buffer too small", []fastpub.Option{fastpub.WithBufferSize(1024)}},
		{"buffer too large", []fastpub.Option{fastpub.WithBufferSize(1<<30 + 4096)}},
		{"message size too small", []fastpub.Option{fastpub.WithMaxMessageSize(10)}},
		{"message size too large", []fastpub.Option{fastpub.WithMaxMessageSize(1<<30 + 1)}},
		{"buffer of 3 bytes", []fastpub.Option{fastpub.WithBufferSize(3)}},
		{"message size of 1 byte", []fastpub.Option{fastpub.WithMaxMessageSize(1)}},
		{"heartbeat under a second", []fastpub.Option{fastpub.WithHeartbeat(500 * time.Millisecond)}},
		{"heartbeat of 1ms", []fastpub.Option{fastpub.WithHeartbeat(time.Millisecond)}},
		{"heartbeat over the maximum", []fastpub.Option{fastpub.WithHeartbeat(fastpub.MaxHeartbeat + time.Second)}},
		{"heartbeat of MaxInt64", []fastpub.Option{fastpub.WithHeartbeat(math.MaxInt64)}},
		{"negative close timeout", []fastpub.Option{fastpub.WithCloseTimeout(-time.Second)}},
		{"zero close timeout", []fastpub.Option{fastpub.WithCloseTimeout(0)}},
	}
	for _, tc := range bad {
		c, err := fastpub.NewClient("v", tc.opts...)
		var oe *fastpub.OptionError
		if c != nil || !errors.Is(err, fastpub.ErrInvalidValue) || !errors.As(err, &oe) || oe.Option == "" {
			t.Errorf("%s: NewClient = %v, %v; want an *OptionError matching ErrInvalidValue", tc.name, c, err)
		}
	}
	if _, err := fastpub.NewClient(""); !errors.Is(err, fastpub.ErrInvalidValue) {
		t.Errorf("empty client name: %v, want ErrInvalidValue", err)
	}
	c, err := fastpub.NewClient("ok", fastpub.WithBufferSize(64<<10), fastpub.WithMaxMessageSize(1<<20),
		fastpub.WithHeartbeat(2*time.Second), fastpub.WithCloseTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.BufferSize != 64<<10 || st.BytesWritten != 0 {
		t.Fatalf("Stats before logon: %+v", st)
	}
	if c.Name() != "ok" || c.Queued() != 0 {
		t.Fatalf("Name %q, Queued %d", c.Name(), c.Queued())
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish("t", nil); !errors.Is(err, fastpub.ErrClosed) {
		t.Fatalf("Publish on a closed new client: %v", err)
	}
}

// The longest heartbeat goes out as it was given, and the client's silence
// timer (twice the interval) does not overflow: the connection works.
func TestHeartbeatMaximum(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	s.Record(10)
	c := connect(t, s.URI("json"), "hb-max", fastpub.WithHeartbeat(fastpub.MaxHeartbeat+999*time.Millisecond-time.Second))
	if err := c.PublishFlush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	got := s.Received()
	if len(got) < 2 || string(got[1].Header) != `{"c":"heartbeat","o":"start,86399"}` {
		t.Fatalf("frames after logon: %v, want the heartbeat start with 86399 s (whole seconds)", got)
	}
}
