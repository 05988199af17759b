package frame

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"unsafe"
)

// maxBody is the largest frame body the 4-byte length prefix can express.
const maxBody = 1<<32 - 1

// Publish is the header of a publish or delta_publish. Zero values mean "absent".
// Field order on the wire (as the official C client): c, t, cid, a, e, x, k, s.
type Publish struct {
	Command       Command // CmdPublish (sent as "p", also for the zero value) or CmdDeltaPublish
	Topic         string  // "t", required, non-empty
	CommandID     string  // "cid"
	Ack           AckType // "a"
	Expiration    uint32  // "e", seconds, written QUOTED as the C client does: "e":"30"
	HasExpiration bool    // Expiration 0 is written only when HasExpiration
	CorrelationID string  // "x"
	SowKey        string  // "k"
	Seq           uint64  // "s", bare number; 0 = absent
}

// Logon is the header of a logon command. Wire order: c, cid, client_name, user_id, mt, a,
// version, x, pw, o. Empty strings and AckNone are omitted.
type Logon struct {
	CommandID     string  // "cid"
	ClientName    string  // "client_name"
	UserID        string  // "user_id"
	MessageType   string  // "mt", e.g. "json"
	Ack           AckType // "a", usually AckProcessed
	Version       string  // "version", e.g. "0.1.0:go" (an opaque string)
	CorrelationID string  // "x"
	Password      string  // "pw"; never appears in errors
	Options       string  // "o", e.g. "pretty"
}

// Flush is the header of a flush command. Wire order: c, cid, client_name, a.
type Flush struct {
	CommandID  string  // "cid"
	ClientName string  // "client_name"
	Ack        AckType // "a"
}

// Subscribe is the header of subscribe-like commands. Wire order: c, cid, t, filter, a,
// sub_id, o. Command may be CmdSubscribe (also for the zero value), CmdUnsubscribe, CmdSOW,
// CmdSOWAndSubscribe, CmdDeltaSubscribe, CmdSOWAndDeltaSubscribe or CmdSOWDelete. Topic is
// required except for CmdUnsubscribe.
type Subscribe struct {
	Command   Command
	CommandID string  // "cid"
	Topic     string  // "t"
	SubID     string  // "sub_id"
	Filter    string  // "filter"
	Options   string  // "o"
	Ack       AckType // "a"
}

// Wire fragments. Keys are the "sent as" spellings of amps-protocol.md §3.
const (
	pubPrefix   = `{"c":"p","t":"`
	deltaPrefix = `{"c":"delta_publish","t":"`
	keyCID      = `,"cid":"`
	keyA        = `,"a":"`
	keyE        = `,"e":"`
	keyX        = `,"x":"`
	keyK        = `,"k":"`
	keyS        = `,"s":`

	// minPublish is the size of the smallest publish frame, less its topic and payload.
	minPublish = PrefixLen + len(pubPrefix) + 2

	// publishFixedMax bounds every fixed byte AppendPublish may write: prefix, deltaPrefix,
	// all keys, quotes, the longest ack list (52), 10 + 20 digits and the closing brace.
	publishFixedMax = PrefixLen + len(deltaPrefix) + 1 + len(keyCID) + 1 + len(keyA) + 52 + 1 +
		len(keyE) + 10 + 1 + len(keyX) + 1 + len(keyK) + 1 + len(keyS) + 20 + 1
)

// valueClass classifies a byte of a header string value: 0 copied as is, 1 needs a backslash
// (`"` and `\`), 2 forbidden (control characters < 0x20 and DEL 0x7f). Bytes >= 0x80 are copied
// verbatim; UTF-8 validity is not checked.
var valueClass = func() (t [256]uint8) {
	for c := 0; c < 0x20; c++ {
		t[c] = 2
	}
	t[0x7f] = 2
	t['"'] = 1
	t['\\'] = 1
	return t
}()

// appendEscaped appends s with `\` and `"` escaped. ok is false if s holds a control
// character; dst is then partially written and must be discarded by the caller.
func appendEscaped(dst []byte, s string) ([]byte, bool) {
	if i := firstSpecial(s); i >= 0 {
		return appendEscapedSlow(dst, s, i)
	}
	return append(dst, s...), true
}

// firstSpecial returns the index of the first byte of s that needs an escape or is forbidden,
// or -1. Small enough to inline.
func firstSpecial(s string) int {
	for i := 0; i < len(s); i++ {
		if valueClass[s[i]] != 0 {
			return i
		}
	}
	return -1
}

// appendEscapedSlow is kept out of line so that appendEscaped inlines.
//
//go:noinline
func appendEscapedSlow(dst []byte, s string, i int) ([]byte, bool) {
	last := 0
	for ; i < len(s); i++ {
		switch valueClass[s[i]] {
		case 1:
			dst = append(dst, s[last:i]...)
			dst = append(dst, '\\')
			last = i
		case 2:
			return dst, false
		}
	}
	return append(dst, s[last:]...), true
}

// escapedLen returns the length of s once escaped; ok is false if s holds a control character.
func escapedLen(s string) (n int, ok bool) {
	n = len(s)
	for i := 0; i < len(s); i++ {
		switch valueClass[s[i]] {
		case 1:
			n++
		case 2:
			return 0, false
		}
	}
	return n, true
}

var pow10 = [20]uint64{
	1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
}

// decLen returns the number of decimal digits of x (1 for 0).
func decLen(x uint64) int {
	x |= 1
	t := bits.Len64(x) * 1233 >> 12 // floor(log10(x)) or one more
	if x < pow10[t] {
		return t
	}
	return t + 1
}

// ackText returns the wire text of a, "" for AckNone, or an error for unknown bits.
func ackText(a AckType) (string, error) {
	if a == 0 {
		return "", nil
	}
	if a&^ackAll != 0 {
		return "", invalid("a", reasonAckBits)
	}
	return ackNames[a], nil
}

// kv is one optional string field: written as ,"key":"val" when val is not empty.
type kv struct{ key, val string }

func appendFields(dst []byte, fs []kv) ([]byte, error) {
	for i := range fs {
		if fs[i].val == "" {
			continue
		}
		dst = append(dst, ',', '"')
		dst = append(dst, fs[i].key...)
		dst = append(dst, '"', ':', '"')
		var ok bool
		if dst, ok = appendEscaped(dst, fs[i].val); !ok {
			return dst, invalid(fs[i].key, reasonControl)
		}
		dst = append(dst, '"')
	}
	return dst, nil
}

// begin reserves the length prefix and writes `{"c":"<cmd>"`.
func begin(dst []byte, cmd string) []byte {
	dst = append(dst, 0, 0, 0, 0, '{', '"', 'c', '"', ':', '"')
	dst = append(dst, cmd...)
	return append(dst, '"')
}

// finish fills the prefix at dst[start:] with the length of the body that follows it, or
// truncates dst to start if that body does not fit the prefix.
func finish(dst []byte, start int) ([]byte, error) {
	body := len(dst) - start - PrefixLen
	if uint64(body) > maxBody {
		return dst[:start], &FrameTooLargeError{Size: uint64(body), Max: maxBody}
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(body))
	return dst, nil
}

// PublishLen returns the exact total frame size (prefix included) that AppendPublish (or
// AppendPublishString) writes for h and payloadLen payload bytes, or the error it would return
// (empty topic, control character, unsupported command, unknown ack bits, negative or
// oversized length). It does not allocate unless it fails.
func PublishLen(h *Publish, payloadLen int) (int, error) {
	n := PrefixLen + len(pubPrefix) + 2 // the topic's closing quote and '}'
	switch h.Command {
	case CmdPublish, CmdUnknown:
	case CmdDeltaPublish:
		n += len(deltaPrefix) - len(pubPrefix)
	default:
		return 0, invalid("c", reasonCommand)
	}
	if h.Topic == "" {
		return 0, invalid("t", reasonEmpty)
	}
	l, ok := escapedLen(h.Topic)
	if !ok {
		return 0, invalid("t", reasonControl)
	}
	n += l
	if h.CommandID != "" {
		if l, ok = escapedLen(h.CommandID); !ok {
			return 0, invalid("cid", reasonControl)
		}
		n += len(keyCID) + l + 1
	}
	if h.Ack != 0 {
		if h.Ack&^ackAll != 0 {
			return 0, invalid("a", reasonAckBits)
		}
		n += len(keyA) + len(ackNames[h.Ack]) + 1
	}
	if h.HasExpiration || h.Expiration != 0 {
		n += len(keyE) + decLen(uint64(h.Expiration)) + 1
	}
	if h.CorrelationID != "" {
		if l, ok = escapedLen(h.CorrelationID); !ok {
			return 0, invalid("x", reasonControl)
		}
		n += len(keyX) + l + 1
	}
	if h.SowKey != "" {
		if l, ok = escapedLen(h.SowKey); !ok {
			return 0, invalid("k", reasonControl)
		}
		n += len(keyK) + l + 1
	}
	if h.Seq != 0 {
		n += len(keyS) + decLen(h.Seq)
	}
	if payloadLen < 0 {
		return 0, invalid("payload", reasonNegativeLen)
	}
	if body := uint64(n-PrefixLen) + uint64(payloadLen); body > maxBody {
		return 0, &FrameTooLargeError{Size: body, Max: maxBody}
	}
	return n + payloadLen, nil
}

// AppendPublish appends one complete publish (or delta_publish) frame: prefix, header, payload.
// On error dst is returned with its original length (bytes past it may have been written).
// It does not allocate when cap(dst)-len(dst) is at least PublishLen(h, len(payload)).
func AppendPublish(dst []byte, h *Publish, payload []byte) ([]byte, error) {
	start := len(dst)
	if cap(dst)-start < minPublish+len(h.Topic)+len(payload) {
		// Surely too small: grow once, by an upper bound, instead of several times.
		dst = slices.Grow(dst, publishFixedMax+len(payload)+2*(len(h.Topic)+len(h.CommandID)+
			len(h.CorrelationID)+len(h.SowKey)))
	}
	dst, err := appendPublishHeader(dst, h)
	if err != nil {
		return dst[:start], err
	}
	if body := uint64(len(dst)-start-PrefixLen) + uint64(len(payload)); body > maxBody {
		return dst[:start], &FrameTooLargeError{Size: body, Max: maxBody}
	}
	dst = append(dst, payload...)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-PrefixLen))
	return dst, nil
}

// AppendPublishString is AppendPublish with a string payload, which it reads
// in place (no copy to an intermediate []byte).
//
// AppendPublish is not generic over string and []byte on purpose: a call
// through a generic function's dictionary makes escape analysis treat h as
// escaping, which would cost the caller a heap allocation per publish.
func AppendPublishString(dst []byte, h *Publish, payload string) ([]byte, error) {
	return AppendPublish(dst, h, unsafe.Slice(unsafe.StringData(payload), len(payload)))
}

// AppendPublishHeader appends the start of a publish frame: a zero length prefix and the
// header, without the payload. The caller appends (or copies) the payload after it and then
// calls SetLength on the whole frame. It validates h exactly as PublishLen does, so a header
// encoded into scratch memory gives the frame's size without a second pass over the fields.
// On error dst is returned with its original length.
func AppendPublishHeader(dst []byte, h *Publish) ([]byte, error) {
	start := len(dst)
	out, err := appendPublishHeader(dst, h)
	if err != nil {
		return dst[:start], err
	}
	return out, nil
}

// SetLength writes len(frame)-PrefixLen into frame's 4-byte big-endian prefix. frame must be
// one whole frame, prefix included, of at least PrefixLen bytes and at most 4 GiB.
func SetLength(frame []byte) {
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-PrefixLen))
}

// Precomputed openings (zero prefix included) and `,"a":"<list>"` fields of the publish path.
const (
	pubOpen   = "\x00\x00\x00\x00" + pubPrefix
	deltaOpen = "\x00\x00\x00\x00" + deltaPrefix
)

var ackFields = func() (t [ackAll + 1]string) {
	for a := 1; a <= int(ackAll); a++ {
		t[a] = keyA + ackNames[a] + `"`
	}
	return t
}()

// appendPublishHeader writes a zero prefix and the header; the caller fills the prefix.
func appendPublishHeader(dst []byte, h *Publish) ([]byte, error) {
	switch h.Command {
	case CmdPublish, CmdUnknown:
		dst = append(dst, pubOpen...)
	case CmdDeltaPublish:
		dst = append(dst, deltaOpen...)
	default:
		return dst, invalid("c", reasonCommand)
	}
	if h.Topic == "" {
		return dst, invalid("t", reasonEmpty)
	}
	var ok bool
	if dst, ok = appendEscaped(dst, h.Topic); !ok {
		return dst, invalid("t", reasonControl)
	}
	dst = append(dst, '"')
	if h.CommandID != "" {
		dst = append(dst, keyCID...)
		if dst, ok = appendEscaped(dst, h.CommandID); !ok {
			return dst, invalid("cid", reasonControl)
		}
		dst = append(dst, '"')
	}
	if h.Ack != 0 {
		if h.Ack&^ackAll != 0 {
			return dst, invalid("a", reasonAckBits)
		}
		dst = append(dst, ackFields[h.Ack]...)
	}
	if h.HasExpiration || h.Expiration != 0 {
		dst = append(dst, keyE...)
		dst = appendUint(dst, uint64(h.Expiration))
		dst = append(dst, '"')
	}
	if h.CorrelationID != "" {
		dst = append(dst, keyX...)
		if dst, ok = appendEscaped(dst, h.CorrelationID); !ok {
			return dst, invalid("x", reasonControl)
		}
		dst = append(dst, '"')
	}
	if h.SowKey != "" {
		dst = append(dst, keyK...)
		if dst, ok = appendEscaped(dst, h.SowKey); !ok {
			return dst, invalid("k", reasonControl)
		}
		dst = append(dst, '"')
	}
	if h.Seq != 0 {
		dst = append(dst, keyS...)
		dst = appendUint(dst, h.Seq)
	}
	return append(dst, '}'), nil
}

// AppendLogon appends one complete logon frame (no payload). On error dst is returned with its
// original length; the error never contains a field's value.
func AppendLogon(dst []byte, l *Logon) ([]byte, error) {
	start := len(dst)
	a, err := ackText(l.Ack)
	if err != nil {
		return dst, err
	}
	fs := [...]kv{
		{"cid", l.CommandID},
		{"client_name", l.ClientName},
		{"user_id", l.UserID},
		{"mt", l.MessageType},
		{"a", a},
		{"version", l.Version},
		{"x", l.CorrelationID},
		{"pw", l.Password},
		{"o", l.Options},
	}
	dst = begin(dst, "logon")
	if dst, err = appendFields(dst, fs[:]); err != nil {
		return dst[:start], err
	}
	return finish(append(dst, '}'), start)
}

// AppendFlush appends one complete flush frame (no payload).
func AppendFlush(dst []byte, f *Flush) ([]byte, error) {
	start := len(dst)
	a, err := ackText(f.Ack)
	if err != nil {
		return dst, err
	}
	fs := [...]kv{
		{"cid", f.CommandID},
		{"client_name", f.ClientName},
		{"a", a},
	}
	dst = begin(dst, "flush")
	if dst, err = appendFields(dst, fs[:]); err != nil {
		return dst[:start], err
	}
	return finish(append(dst, '}'), start)
}

// AppendHeartbeatStart appends {"c":"heartbeat","o":"start,<seconds>"} (no cid, no ack, as
// the C++ client sends it).
func AppendHeartbeatStart(dst []byte, seconds uint32) []byte {
	start := len(dst)
	dst = begin(dst, "heartbeat")
	dst = append(dst, `,"o":"start,`...)
	dst = appendUint(dst, uint64(seconds))
	dst = append(dst, '"', '}')
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-PrefixLen))
	return dst
}

// AppendHeartbeatBeat appends the client's heartbeat refresh {"c":"heartbeat","o":"beat"}.
func AppendHeartbeatBeat(dst []byte) []byte {
	return append(dst, "\x00\x00\x00\x1c"+`{"c":"heartbeat","o":"beat"}`...)
}

// AppendServerHeartbeat appends the server's heartbeat {"c":"heartbeat"}.
func AppendServerHeartbeat(dst []byte) []byte {
	return append(dst, "\x00\x00\x00\x11"+`{"c":"heartbeat"}`...)
}

// AppendSubscribe appends one complete subscribe-like frame (no payload); see Subscribe.
func AppendSubscribe(dst []byte, s *Subscribe) ([]byte, error) {
	start := len(dst)
	cmd := s.Command
	switch cmd {
	case CmdUnknown:
		cmd = CmdSubscribe
	case CmdSubscribe, CmdUnsubscribe, CmdSOW, CmdSOWAndSubscribe, CmdDeltaSubscribe,
		CmdSOWAndDeltaSubscribe, CmdSOWDelete:
	default:
		return dst, invalid("c", reasonCommand)
	}
	if s.Topic == "" && cmd != CmdUnsubscribe {
		return dst, invalid("t", reasonEmpty)
	}
	a, err := ackText(s.Ack)
	if err != nil {
		return dst, err
	}
	fs := [...]kv{
		{"cid", s.CommandID},
		{"t", s.Topic},
		{"filter", s.Filter},
		{"a", a},
		{"sub_id", s.SubID},
		{"o", s.Options},
	}
	dst = begin(dst, cmd.wire())
	if dst, err = appendFields(dst, fs[:]); err != nil {
		return dst[:start], err
	}
	return finish(append(dst, '}'), start)
}
