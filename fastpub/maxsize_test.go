package fastpub_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/fastpub"
)

// WithMaxMessageSize bounds the frame, header included, with a store too:
// the sequence number counts at its longest. Before, the limit was checked
// without ,"s":N, and with a store a 1,048-byte frame went out under
// WithMaxMessageSize(1024). From a review.
func TestMaxMessageSizeWithAStore(t *testing.T) {
	const limit = 1024
	for _, withStore := range []bool{false, true} {
		srv := startServer(t, ampstest.Config{})
		opts := []fastpub.Option{fastpub.WithMaxMessageSize(limit)}
		name := "maxsize"
		if withStore {
			opts = append(opts, fastpub.WithStore(memStore(t, 1<<20, 1024)))
			name += "-store"
		}
		c := connect(t, srv.URI("json"), name, opts...)
		largest := 0
		for p := 900; p <= limit; p++ {
			before := c.Stats().BytesWritten
			err := c.TryPublish("t", []byte(strings.Repeat("a", p)))
			if err != nil {
				var tl *fastpub.MessageTooLargeError
				if !errors.Is(err, fastpub.ErrMessageTooLarge) || !errors.As(err, &tl) || tl.Max != limit || tl.Size <= limit {
					t.Fatalf("store=%v, %d-byte payload: %v", withStore, p, err)
				}
				break
			}
			waitUntil(t, func() bool { return c.Stats().BytesWritten > before && c.Stats().Buffered == 0 })
			if n := c.Stats().BytesWritten - before; n > limit {
				t.Fatalf("store=%v: a %d-byte payload made a %d-byte frame under WithMaxMessageSize(%d)", withStore, p, n, limit)
			}
			largest = p
		}
		t.Logf("store=%v: largest payload accepted %d bytes under WithMaxMessageSize(%d)", withStore, largest, limit)
		if largest < 900 {
			t.Fatalf("store=%v: no payload of 900 bytes or more accepted", withStore)
		}
	}
}
