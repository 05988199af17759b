//go:build !race

// (It reads the reader goroutine's buffer size from the test goroutine: the
// beat the server receives orders the two, but not for the race detector.)

package fastpub

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// After a stray large frame, the client's reader goes back to its small
// buffer: the large one is not kept for the life of the connection.
func TestInboundBufferGivenBackAfterALargeFrame(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	beat := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			beat <- err
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		readFrame := func() ([]byte, error) {
			var p [4]byte
			if _, err := io.ReadFull(conn, p[:]); err != nil {
				return nil, err
			}
			b := make([]byte, binary.BigEndian.Uint32(p[:]))
			_, err := io.ReadFull(conn, b)
			return b, err
		}
		if _, err := readFrame(); err != nil { // the logon
			beat <- err
			return
		}
		frame := func(h string, payload int) []byte {
			f := binary.BigEndian.AppendUint32(nil, uint32(len(h)+payload))
			return append(append(f, h...), make([]byte, payload)...)
		}
		conn.Write(frame(`{"c":"ack","cid":"auto1","a":"processed","status":"success","s":0,"bm":"1|0|","version":"5.3.4.0"}`, 0))
		conn.Write(frame(`{"c":"p","t":"stray"}`, 2<<20))
		conn.Write(frame(`{"c":"heartbeat"}`, 0))
		// The client answers the heartbeat with a beat once its reader has
		// read past the large frame.
		b, err := readFrame()
		if err == nil && string(b) != `{"c":"heartbeat","o":"beat"}` {
			err = io.ErrUnexpectedEOF
		}
		beat <- err
		io.Copy(io.Discard, conn)
	}()
	c, err := NewClient("stray-buffer", WithMaxInboundFrame(4<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Connect(ctx, "tcp://"+ln.Addr().String()+"/amps/json"); err != nil {
		t.Fatal(err)
	}
	if err := c.Logon(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-beat:
		if err != nil {
			t.Fatalf("server: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("no beat from the client")
	}
	if n := c.last.fr.BufferSize(); n != inboundBuffer {
		t.Fatalf("after a 2 MiB frame the reader holds %d bytes, want %d", n, inboundBuffer)
	}
}
