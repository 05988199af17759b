package sidebyside

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/fastpub/fastpub/frame"
)

// Topic is the topic every row publishes to.
const Topic = "sidebyside"

// payload returns size bytes that look like JSON ({"v":"xxx…"} from 8
// bytes up). In latency rows the first 8 bytes are overwritten by the stamp.
func payload(size int) []byte {
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

// publishHeader is the header fastpub sends without a store.
const publishHeader = `{"c":"p","t":"` + Topic + `"}`

// preEncoded returns n publish frames of payloads of size bytes, back to back,
// byte for byte what fastpub puts on the wire without a store, and the
// length of one frame.
func preEncoded(size, n int) ([]byte, int) {
	p := payload(size)
	l := len(publishHeader) + size
	buf := make([]byte, 0, n*(4+l))
	for i := 0; i < n; i++ {
		buf = binary.BigEndian.AppendUint32(buf, uint32(l))
		buf = append(buf, publishHeader...)
		buf = append(buf, p...)
	}
	return buf, 4 + l
}

// rawConn is a bare protocol connection for the rows that write
// pre-encoded frames themselves: logon, then writes, then a flush whose
// ack says the sink has read everything.
type rawConn struct {
	c   net.Conn
	hdr frame.Header
	in  []byte
}

func dialRaw(s *Sink, network, name string) (*rawConn, error) {
	c, err := s.Dial(network)
	if err != nil {
		return nil, err
	}
	rc := &rawConn{c: c, in: make([]byte, 0, 4096)}
	msg, err := frame.AppendLogon(nil, &frame.Logon{CommandID: "l1", ClientName: name, MessageType: "json",
		Ack: frame.AckProcessed, Version: "sidebyside:go"})
	if err == nil {
		_, err = c.Write(msg)
	}
	if err == nil {
		err = rc.waitAck("l1", 10*time.Second)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("sidebyside: raw logon: %w", err)
	}
	return rc, nil
}

// flush sends a flush asking for a processed ack and waits for it.
func (rc *rawConn) flush(cid string, timeout time.Duration) error {
	msg, err := frame.AppendFlush(nil, &frame.Flush{CommandID: cid, Ack: frame.AckProcessed})
	if err != nil {
		return err
	}
	if _, err := rc.c.Write(msg); err != nil {
		return err
	}
	return rc.waitAck(cid, timeout)
}

// waitAck reads frames until the ack for cid; a status other than success
// is an error.
func (rc *rawConn) waitAck(cid string, timeout time.Duration) error {
	_ = rc.c.SetReadDeadline(time.Now().Add(timeout))
	defer rc.c.SetReadDeadline(time.Time{})
	var lenBuf [4]byte
	for i := 0; i < 1<<16; i++ {
		if _, err := io.ReadFull(rc.c, lenBuf[:]); err != nil {
			return err
		}
		n := int(binary.BigEndian.Uint32(lenBuf[:]))
		if n > 1<<20 {
			return fmt.Errorf("sidebyside: a %d-byte frame from the sink", n)
		}
		if cap(rc.in) < n {
			rc.in = make([]byte, n)
		}
		body := rc.in[:n]
		if _, err := io.ReadFull(rc.c, body); err != nil {
			return err
		}
		rc.hdr.Reset()
		if _, err := rc.hdr.Parse(body); err != nil {
			return err
		}
		if rc.hdr.Command == frame.CmdAck && string(rc.hdr.CommandID) == cid {
			if string(rc.hdr.Status) != "success" {
				return fmt.Errorf("sidebyside: ack %s: status %q, reason %q", cid, rc.hdr.Status, rc.hdr.Reason)
			}
			return nil
		}
	}
	return fmt.Errorf("sidebyside: no ack for %s", cid)
}

func (rc *rawConn) Close() error { return rc.c.Close() }
