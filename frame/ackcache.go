package frame

import "bytes"

// PersistedAckCache recognises a server's successful persisted acks without
// parsing them: a server sends a publisher one per publish (or one per
// interval, conflated), all of the same shape but for the sequence number and
// a bookmark that repeats it, so that after one such ack has been parsed the
// next ones cost a comparison and their digits.
//
// Learn takes an ack that Header.Parse has read: a header with no escape,
// no payload, "a":"persisted", "status":"success", no "cid" and no "reason",
// whose last "s" is a bare number. The cache keeps the header up to that "s"
// and what follows its digits: either bytes to be repeated exactly, or a
// bookmark ,"bm":"…"} of digits and '|' only. Match accepts a body that is
// the cached start, 1 to 19 digits without a leading zero, and such an end:
// Header.Parse would read it as the same ack with that sequence
// (FuzzPersistedAckCache checks it). Anything else is for Header.Parse.
//
// The zero value is an empty cache. It is not safe for concurrent use (a
// connection's reader owns one) and does not allocate once it has learned.
type PersistedAckCache struct {
	prefix []byte // the header up to and including the last "s":
	tail   []byte // what follows the digits when it is to be repeated exactly
	bm     bool   // what follows the digits is ,"bm":"<digits and |>"}
}

// The bookmark end of a persisted ack.
const ackBookmark = `,"bm":"`

// Learn caches the shape of body, a frame body whose header h Parse read
// with no payload, when it is a successful persisted ack as described above;
// escaped must say whether body held a '\' before Parse (which rewrites
// escapes in place). Any other body leaves the cache as it was.
func (a *PersistedAckCache) Learn(body []byte, escaped bool, h *Header, payload []byte) {
	if escaped || len(payload) != 0 || h.Command != CmdAck || h.Ack != AckPersisted ||
		string(h.AckRaw) != "persisted" || string(h.Status) != "success" ||
		len(h.Reason) != 0 || len(h.CommandID) != 0 || !h.HasSeq || h.Seq == 0 {
		return
	}
	i := bytes.LastIndex(body, []byte(`"s":`))
	if i < 1 || (body[i-1] != ',' && body[i-1] != '{') {
		return
	}
	start := i + len(`"s":`)
	seq, n := scanAckSeq(body[start:])
	if n == 0 || seq != h.Seq {
		return
	}
	rest := body[start+n:]
	switch {
	case bookmarkEnd(rest):
		a.prefix, a.tail, a.bm = append(a.prefix[:0], body[:start]...), a.tail[:0], true
	case !bytes.Contains(rest, []byte(`"s"`)) && !bytes.Contains(rest, []byte(`"seq"`)):
		// Repeated exactly, the end cannot set the sequence again.
		a.prefix, a.tail, a.bm = append(a.prefix[:0], body[:start]...), append(a.tail[:0], rest...), false
	}
}

// Match returns the sequence number of body when it has the learned shape,
// or ok false.
func (a *PersistedAckCache) Match(body []byte) (seq uint64, ok bool) {
	p := a.prefix
	if len(p) == 0 || len(body) <= len(p) || string(body[:len(p)]) != string(p) {
		return 0, false
	}
	seq, n := scanAckSeq(body[len(p):])
	if n == 0 {
		return 0, false
	}
	rest := body[len(p)+n:]
	if a.bm {
		return seq, bookmarkEnd(rest)
	}
	return seq, string(rest) == string(a.tail)
}

// scanAckSeq reads the digits that start b: 1 to 19 of them, no leading
// zero, followed by a byte that is not a digit. It returns their value and
// count, or n 0.
func scanAckSeq(b []byte) (seq uint64, n int) {
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		if n == 19 {
			return 0, 0
		}
		seq = seq*10 + uint64(b[n]-'0')
		n++
	}
	if n == 0 || n == len(b) || b[0] == '0' {
		return 0, 0
	}
	return seq, n
}

// bookmarkEnd reports whether b is exactly ,"bm":"<digits and |>"}.
func bookmarkEnd(b []byte) bool {
	if len(b) < len(ackBookmark)+2 || string(b[:len(ackBookmark)]) != ackBookmark ||
		b[len(b)-2] != '"' || b[len(b)-1] != '}' {
		return false
	}
	for _, c := range b[len(ackBookmark) : len(b)-2] {
		if (c < '0' || c > '9') && c != '|' {
			return false
		}
	}
	return true
}
