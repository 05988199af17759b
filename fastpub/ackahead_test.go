package fastpub_test

import (
	"testing"
	"time"

	"github.com/fastpub/fastpub/fastpub"
	"github.com/fastpub/fastpub/frame"
	"github.com/fastpub/fastpub/store"
)

// A persisted ack for a sequence above every frame sent (a nonconforming
// server, another publisher on the name) frees no frame that was not sent:
// found by a review, where every publish committed after such an ack was
// freed before the writer sent it, each Publish returning nil. Now an ack
// frees at most what was sent whole; the server receives the later ones.
func TestAckBeyondSentFreesNothingUnsent(t *testing.T) {
	got := make(chan int, 1)
	first := make(chan struct{})
	uri := startScripted(t, func(s *scripted) {
		if _, _, err := s.next(); err != nil {
			return
		}
		s.send(logonAckOK + `,"s":41}`)
		for { // the first publish (s 42; a beat may come first)
			cmd, _, err := s.next()
			if err != nil {
				return
			}
			if cmd == frame.CmdPublish {
				break
			}
		}
		s.send(`{"c":"ack","a":"persisted","status":"success","s":100}`)
		close(first)
		n := 0
		s.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		for n < 5 {
			cmd, _, err := s.next()
			if err != nil {
				break
			}
			if cmd == frame.CmdPublish {
				n++
			}
		}
		got <- n
	})
	ms, err := store.NewMemory(store.Limits{Bytes: 1 << 20, Messages: 1024})
	if err != nil {
		t.Fatal(err)
	}
	c := connect(t, uri, "ack-ahead", fastpub.WithStore(ms), fastpub.WithInlineWrite(0)) // the writer goroutine sends
	if err := c.PublishString("t", "x"); err != nil {
		t.Fatal(err)
	}
	<-first
	time.Sleep(100 * time.Millisecond) // the ack is read and applied
	for i := 0; i < 5; i++ {
		if err := c.PublishString("t", "y"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := <-got; n != 5 {
		t.Fatalf("the server received %d of the 5 publishes made after an ack beyond what was committed (each returned nil); Stats %+v", n, c.Stats())
	}
}
