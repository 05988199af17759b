package fastpub_test

import (
	"errors"
	"testing"
	"time"

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
		{"heartbeat under a second", []fastpub.Option{fastpub.WithHeartbeat(500 * time.Millisecond)}},
	}
	for _, tc := range bad {
		if c, err := fastpub.NewClient("v", tc.opts...); err == nil || c != nil {
			t.Errorf("%s: NewClient = %v, %v; want an error", tc.name, c, err)
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
