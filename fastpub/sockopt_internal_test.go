package fastpub

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/sockopt"
)

// Every transport option of the URI reaches the client's socket.
func TestURIOptionsReachTheSocket(t *testing.T) {
	s, err := ampstest.StartTCP(ampstest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, _ := NewClient("opts")
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	uri := "tcp://" + s.Addr().String() + "/amps/json?tcp_nodelay=false&tcp_sndbuf=131072&tcp_rcvbuf=65536&tcp_linger=3&tcp_keepalive=false&bind=127.0.0.1"
	if err := c.Connect(ctx, uri); err != nil {
		t.Fatal(err)
	}
	raw, err := c.pending.conn.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var nodelay, keepalive, lingerOn bool
	var snd, rcv, linger int
	var gerr error
	raw.Control(func(fd uintptr) {
		f := int(fd)
		if nodelay, gerr = sockopt.NoDelay(f); gerr != nil {
			return
		}
		if keepalive, gerr = sockopt.KeepAlive(f); gerr != nil {
			return
		}
		if snd, gerr = sockopt.SendBuffer(f); gerr != nil {
			return
		}
		if rcv, gerr = sockopt.RecvBuffer(f); gerr != nil {
			return
		}
		linger, lingerOn, gerr = sockopt.Linger(f)
	})
	if gerr != nil {
		t.Fatal(gerr)
	}
	// Linux reports SO_SNDBUF/SO_RCVBUF doubled.
	if nodelay || keepalive || snd < 131072 || rcv < 65536 || !lingerOn || linger != 3 {
		t.Fatalf("socket: nodelay %v keepalive %v sndbuf %d rcvbuf %d linger %v/%d", nodelay, keepalive, snd, rcv, lingerOn, linger)
	}
	// Defaults: TCP_NODELAY and SO_KEEPALIVE on.
	c2, _ := NewClient("defaults")
	defer c2.Close()
	if err := c2.Connect(ctx, s.URI("json")); err != nil {
		t.Fatal(err)
	}
	raw, _ = c2.pending.conn.(syscall.Conn).SyscallConn()
	raw.Control(func(fd uintptr) {
		nodelay, _ = sockopt.NoDelay(int(fd))
		keepalive, _ = sockopt.KeepAlive(int(fd))
	})
	if !nodelay || !keepalive {
		t.Fatalf("default socket: nodelay %v keepalive %v, want both on", nodelay, keepalive)
	}
}
