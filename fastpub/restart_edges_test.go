package fastpub_test

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/fastpub"
	"github.com/fastpub/fastpub/frame"
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

// An idle publisher with a store answers the server's heartbeats with beats
// for as long as it runs. A beat needs no persisting, and no ack frees it:
// persisted acks come for publishes only. Kept until a later publish was
// persisted, an idle client's beats filled the store's Messages limit and
// then Publish blocked (found by a review). Sent beats at the head of the
// ring are freed at once.
func TestIdleBeatsDoNotFillTheStore(t *testing.T) {
	const heartbeats = 1000 // 4 × the store's 256 messages
	answered, published := make(chan int, 1), make(chan struct{})
	uri := startScripted(t, func(s *scripted) {
		if _, _, err := s.next(); err != nil {
			return
		}
		s.send(logonAckOK + `,"s":"41"}`)
		n := 0
		for i := 0; i < heartbeats; i++ {
			s.send(`{"c":"heartbeat"}`)
			// The client answers each one (no heartbeat interval of its
			// own); wait for the beat so that the next one is not merged.
			s.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			cmd, _, err := s.next()
			if err != nil {
				break
			}
			if cmd == frame.CmdHeartbeat {
				n++
			}
		}
		answered <- n
		// Then one publish (a beat may still come first).
		s.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			cmd, _, err := s.next()
			if err != nil || cmd == frame.CmdPublish {
				close(published)
				return
			}
		}
	})
	ms, err := store.NewMemory(store.Limits{Bytes: store.MinBytes, Messages: store.MinMessages})
	if err != nil {
		t.Fatal(err)
	}
	c := connect(t, uri, "idle", fastpub.WithStore(ms))
	if n := <-answered; n != heartbeats {
		t.Fatalf("the client answered %d of %d server heartbeats", n, heartbeats)
	}
	if err := c.TryPublish("t", []byte("x")); err != nil {
		t.Fatalf("TryPublish after %d beats with a store of %d messages: %v", heartbeats, store.MinMessages, err)
	}
	<-published
	if st := c.Stats(); st.Beats != heartbeats || st.Unpersisted > 2 {
		t.Fatalf("Stats() Beats %d, Unpersisted %d; want %d beats and at most the publish and a last beat unpersisted", st.Beats, st.Unpersisted, heartbeats)
	}
}

// A file store the first state layout ("FSTA") left after a clean Close is
// opened by this version: that layout's one value counted the Close flush,
// so taken as what the server holds it made the first logon a false gap
// (found by a review). The test writes the state slots back in that layout,
// as the earlier version wrote them.
func TestRestartAfterCleanCloseUpgradedStore(t *testing.T) {
	const name = "upgrader2"
	dir := t.TempDir()
	open := func() *filestore.Store {
		fs, err := filestore.Open(dir, name, filestore.Options{Limits: store.Limits{Bytes: 1 << 20, Messages: 1024}})
		if err != nil {
			t.Fatal(err)
		}
		return fs
	}
	s := startServer(t, ampstest.Config{})
	ctx := ctxT(t, 10*time.Second)
	run := func() error {
		c, err := fastpub.NewClient(name, fastpub.WithStore(open()))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Connect(ctx, s.URI("json")); err != nil {
			t.Fatal(err)
		}
		if err := c.Logon(ctx); err != nil {
			return err
		}
		for i := 0; i < 100; i++ {
			if err := c.PublishString("t", "x"); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.PublishFlush(ctx); err != nil {
			t.Fatal(err)
		}
		return c.Close()
	}
	if err := run(); err != nil {
		t.Fatal(err)
	}
	// Rewrite each FST2 slot as an FSTA slot (persisted = the freed seq).
	path := filepath.Join(dir, "state")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	c32 := crc32.MakeTable(crc32.Castagnoli)
	out := make([]byte, 0, 544)
	for i := 0; i*512+40 <= len(b); i++ {
		v := b[i*512 : i*512+40]
		if le.Uint32(v) != 0x32545346 {
			t.Fatalf("slot %d is not FST2", i)
		}
		t.Logf("slot %d: gen %d persisted %d last %d acked %d", i, le.Uint64(v[4:]), le.Uint64(v[12:]), le.Uint64(v[20:]), le.Uint64(v[28:]))
		var o [512]byte
		le.PutUint32(o[0:], 0x41545346)
		copy(o[4:28], v[4:28])
		le.PutUint32(o[28:], crc32.Checksum(o[:28], c32))
		if i == 0 {
			out = append(out, o[:]...)
		} else {
			out = append(out, o[:32]...)
		}
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(); err != nil {
		t.Fatalf("server's last sequence %d: Logon of a store the first layout left after a clean Close: %v", s.LastSequence(name), err)
	}
}
