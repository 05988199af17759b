package fastpub_test

import (
	"testing"
	"time"

	"github.com/fastpub/fastpub/ampstest"
)

func TestWireTime(t *testing.T) {
	s := startServer(t, ampstest.Config{})
	c := connect(t, s.URI("json"), "wire-time")
	if _, ok := c.WireTime(c.Queued() + 1); ok {
		t.Fatal("WireTime of a position not queued yet reported ok")
	}
	before := time.Now()
	if err := c.PublishString("t", "payload"); err != nil {
		t.Fatal(err)
	}
	pos := c.Queued()
	if pos == 0 {
		t.Fatal("Queued is 0 after a publish")
	}
	if err := c.PublishFlush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	at, ok := c.WireTime(pos)
	if !ok {
		t.Fatalf("WireTime(%d) not found after a flush; written %d", pos, c.Stats().BytesWritten)
	}
	if at.Before(before) || at.After(time.Now()) {
		t.Fatalf("WireTime %v outside [%v, now]", at, before)
	}
	// After more than the log's length of writes, an old position is gone.
	for i := 0; i < 3000; i++ {
		c.PublishString("t", "x")
		if err := c.PublishFlush(ctxT(t, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := c.WireTime(pos); ok {
		t.Fatal("WireTime of a position 3000 writes old still reported ok")
	}
}
