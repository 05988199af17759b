package bench

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// Frames returns count pre-encoded publish frames of the given payload size
// for topic, back to back in one buffer, as fastpub would put them on the
// wire: {"c":"p","t":"<topic>"} followed by the payload.
func Frames(topic string, payloadSize, count int) []byte {
	header := `{"c":"p","t":"` + topic + `"}`
	n := len(header) + payloadSize
	buf := make([]byte, 0, count*(4+n))
	payload := Payload(payloadSize)
	for i := 0; i < count; i++ {
		buf = binary.BigEndian.AppendUint32(buf, uint32(n))
		buf = append(buf, header...)
		buf = append(buf, payload...)
	}
	return buf
}

// Payload returns a JSON-looking payload of exactly size bytes (size ≥ 2 makes
// it valid JSON: {"v":"xxx..."} when size allows).
func Payload(size int) []byte {
	p := make([]byte, size)
	for i := range p {
		p[i] = 'x'
	}
	if size >= 8 {
		copy(p, `{"v":"`)
		copy(p[size-2:], `"}`)
	}
	return p
}

// DiscardServer accepts one connection on a loopback listener and reads
// and drops every byte: the far end of the ceiling measurement.
type DiscardServer struct {
	ln       net.Listener
	bytes    atomic.Int64
	accepted chan struct{} // closed once Accept has returned
	done     chan struct{}
}

// acceptWait bounds how long Wait waits for the connection to be accepted
// before it closes the listener.
const acceptWait = 10 * time.Second

// NewDiscardServer listens on 127.0.0.1:0.
func NewDiscardServer() (*DiscardServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &DiscardServer{ln: ln, accepted: make(chan struct{}), done: make(chan struct{})}
	go s.serve()
	return s, nil
}

func (s *DiscardServer) serve() {
	defer close(s.done)
	conn, err := s.ln.Accept()
	close(s.accepted)
	if err != nil {
		return
	}
	defer conn.Close()
	buf := make([]byte, 256<<10)
	for {
		n, err := conn.Read(buf)
		s.bytes.Add(int64(n))
		if err != nil {
			return
		}
	}
}

// Addr is the listener's address.
func (s *DiscardServer) Addr() string { return s.ln.Addr().String() }

// Wait waits until the connection has ended (the writer closed it and
// every byte was read), returning the bytes read. A writer can dial, write
// everything the socket buffers hold and close before the server's
// goroutine has accepted (the connection waits in the listen backlog), so
// Wait first waits for the accept (at most acceptWait), and only then
// closes the listener: closing it first would drop the queued connection
// with its bytes unread.
func (s *DiscardServer) Wait() int64 {
	select {
	case <-s.accepted:
	case <-time.After(acceptWait):
	}
	s.ln.Close()
	<-s.done
	return s.bytes.Load()
}

// Close closes the listener at once and waits for the server to end: for a
// writer whose dial failed.
func (s *DiscardServer) Close() {
	s.ln.Close()
	<-s.done
}

// Ceiling writes frames pre-encoded publish frames of payloadSize bytes
// contiguously over loopback TCP to a reader that discards them, in large
// writes, and returns how long that took from the first write until the
// reader had read the last byte. It is the most a publisher can do on this
// machine: no encoding, no queue, no ack.
func Ceiling(topic string, payloadSize, frames int) (time.Duration, error) {
	const chunk = 4096 // frames per write: hundreds of KiB per syscall
	per := chunk
	if frames < per {
		per = frames
	}
	buf := Frames(topic, payloadSize, per)
	frameLen := len(buf) / per
	srv, err := NewDiscardServer()
	if err != nil {
		return 0, err
	}
	conn, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		srv.Close()
		return 0, err
	}
	start := time.Now()
	for left := frames; left > 0; left -= per {
		n := per
		if left < n {
			n = left
		}
		if _, err := conn.Write(buf[:n*frameLen]); err != nil {
			conn.Close()
			srv.Wait()
			return 0, err
		}
	}
	conn.Close()
	got := srv.Wait()
	elapsed := time.Since(start)
	if want := int64(frames) * int64(frameLen); got != want {
		return 0, fmt.Errorf("bench: discard server read %d bytes, want %d: %w", got, want, io.ErrUnexpectedEOF)
	}
	return elapsed, nil
}
