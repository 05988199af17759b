package frame

import "encoding/binary"

// Ack is the header of an ack (server → client), for test servers. Wire order: c, cid, a,
// status, reason, client_name, user_id, pw, s, bm, version. Empty strings and AckNone are
// omitted.
//
// "s" is written as a bare number and never as the last key, because the official JS client
// only finds it when a comma follows (amps-protocol.md §2.2): when neither bm nor version
// follows it, s moves to just before the last key written, e.g.
// {"c":"ack","a":"persisted","s":43,"status":"success"}.
type Ack struct {
	CommandID  string  // "cid"
	Type       AckType // "a", normally a single type
	Status     string  // "status": success, failure, retry
	Reason     string  // "reason"
	ClientName string  // "client_name"
	UserID     string  // "user_id"
	Password   string  // "pw" (a retry challenge); never appears in errors
	Seq        uint64  // "s", written when HasSeq
	HasSeq     bool
	Bookmark   string // "bm"
	Version    string // "version"
}

// AppendAck appends one complete ack frame (no payload). On error dst is returned with its
// original length.
func AppendAck(dst []byte, a *Ack) ([]byte, error) {
	start := len(dst)
	at, err := ackText(a.Type)
	if err != nil {
		return dst, err
	}
	pre := [...]kv{
		{"cid", a.CommandID},
		{"a", at},
		{"status", a.Status},
		{"reason", a.Reason},
		{"client_name", a.ClientName},
		{"user_id", a.UserID},
		{"pw", a.Password},
	}
	post := [...]kv{
		{"bm", a.Bookmark},
		{"version", a.Version},
	}
	split := len(pre) // s goes between pre[:split] and pre[split:]
	if a.HasSeq && a.Bookmark == "" && a.Version == "" {
		split = -1
		for i := len(pre) - 1; i >= 0; i-- {
			if pre[i].val != "" {
				split = i
				break
			}
		}
	}
	if split < 0 {
		// Only "c" besides "s": put s first so that it is still followed by a comma.
		dst = append(dst, 0, 0, 0, 0, '{', '"', 's', '"', ':')
		dst = appendUint(dst, a.Seq)
		dst = append(dst, `,"c":"ack"}`...)
		return finish(dst, start)
	}
	dst = begin(dst, "ack")
	if dst, err = appendFields(dst, pre[:split]); err != nil {
		return dst[:start], err
	}
	if a.HasSeq {
		dst = append(dst, keyS...)
		dst = appendUint(dst, a.Seq)
	}
	if dst, err = appendFields(dst, pre[split:]); err != nil {
		return dst[:start], err
	}
	if dst, err = appendFields(dst, post[:]); err != nil {
		return dst[:start], err
	}
	return finish(append(dst, '}'), start)
}

// Delivery is the header of a message delivered to a subscriber (server → client), for test
// servers. Wire order: c ("p"), t, sub_id, sids, bm, ts, s, x, k. Topic is required.
type Delivery struct {
	Topic         string // "t"
	SubID         string // "sub_id"
	SubIDs        string // "sids" (several matching subscriptions)
	Bookmark      string // "bm"
	Timestamp     string // "ts"
	Seq           uint64 // "s", bare, written when HasSeq
	HasSeq        bool
	CorrelationID string // "x"
	SowKey        string // "k"
}

// AppendDelivery appends one complete delivery frame: prefix, header, payload. On error dst is
// returned with its original length.
func AppendDelivery(dst []byte, d *Delivery, payload []byte) ([]byte, error) {
	start := len(dst)
	if d.Topic == "" {
		return dst, invalid("t", reasonEmpty)
	}
	pre := [...]kv{
		{"t", d.Topic},
		{"sub_id", d.SubID},
		{"sids", d.SubIDs},
		{"bm", d.Bookmark},
		{"ts", d.Timestamp},
	}
	post := [...]kv{
		{"x", d.CorrelationID},
		{"k", d.SowKey},
	}
	dst = begin(dst, "p")
	var err error
	if dst, err = appendFields(dst, pre[:]); err != nil {
		return dst[:start], err
	}
	if d.HasSeq {
		dst = append(dst, keyS...)
		dst = appendUint(dst, d.Seq)
	}
	if dst, err = appendFields(dst, post[:]); err != nil {
		return dst[:start], err
	}
	dst = append(dst, '}')
	if body := uint64(len(dst)-start-PrefixLen) + uint64(len(payload)); body > maxBody {
		return dst[:start], &FrameTooLargeError{Size: body, Max: maxBody}
	}
	dst = append(dst, payload...)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-PrefixLen))
	return dst, nil
}
