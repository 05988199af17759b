package fastpub_test

import (
	"testing"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/fastpub"
	"github.com/fastpub/fastpub/store"
	"github.com/fastpub/fastpub/store/filestore"
)

// A restart after a clean Close is no publish gap. Close ends with a flush
// (and an idle client sends heartbeat beats): control frames take sequence
// numbers in the store's stream that the server never sees, so the highest
// sequence a store may free is above the server's last sequence. Only what
// the server said it has may count against the next logon (found by a
// review: the file store's next Logon failed with a gap L+1..L+1).
func TestRestartAfterCleanClose(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flush bool
		open  func(t *testing.T) func() store.Store
	}{
		{"keepStore", false, func(*testing.T) func() store.Store {
			ks := newKeepStore()
			return func() store.Store { return ks }
		}},
		{"keepStore/flush", true, func(*testing.T) func() store.Store {
			ks := newKeepStore()
			return func() store.Store { return ks }
		}},
		{"filestore", false, fileStoreOpener},
		{"filestore/flush", true, fileStoreOpener},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, ampstest.Config{})
			ta := newTally(1)
			subscribe(t, s.URI("json"), "clean", ta)
			open := tc.open(t)
			ctx := ctxT(t, 30*time.Second)
			var buf [8]byte
			n := uint32(0)
			for run := 0; run < 3; run++ {
				c, err := fastpub.NewClient("clean-restarter", fastpub.WithStore(open()))
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Connect(ctx, s.URI("json")); err != nil {
					t.Fatal(err)
				}
				if err := c.Logon(ctx); err != nil {
					t.Fatalf("run %d (server's last sequence %d): Logon: %v", run, s.LastSequence("clean-restarter"), err)
				}
				for i := 0; i < 100; i++ {
					if err := c.Publish("clean", payload(&buf, 0, n)); err != nil {
						t.Fatal(err)
					}
					n++
				}
				if tc.flush {
					if err := c.PublishFlush(ctx); err != nil {
						t.Fatal(err)
					}
				}
				if err := c.Close(); err != nil {
					t.Fatalf("run %d: Close: %v", run, err)
				}
			}
			ta.waitTotal(t, int(n), 10*time.Second)
		})
	}
}

// fileStoreOpener returns a function that opens the same file store
// directory again each time (after the previous client closed it).
func fileStoreOpener(t *testing.T) func() store.Store {
	dir := t.TempDir()
	return func() store.Store {
		fs, err := filestore.Open(dir, "clean-restarter", filestore.Options{Limits: store.Limits{Bytes: 1 << 20, Messages: 1024}})
		if err != nil {
			t.Fatal(err)
		}
		return fs
	}
}
