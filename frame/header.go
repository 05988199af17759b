package frame

// Header is a parsed header. Every []byte field is a sub-slice of the body given to Parse
// (values with escapes are unescaped IN PLACE in that buffer), valid while that buffer is.
// nil means the key was absent; a present empty value is a non-nil empty slice.
type Header struct {
	Command    Command // from "c"/"cmd"; CmdUnknown when absent or not recognised
	CommandRaw []byte  // the "c" value as sent
	CommandID  []byte  // "cid", "cmd_id"
	Topic      []byte  // "t", "topic"

	// Ack holds the known words of "a"/"ack"/"ack_type"; unknown words are dropped here but
	// kept in AckRaw (use ParseAckType(AckRaw) for a strict reading).
	Ack    AckType
	AckRaw []byte

	Seq           uint64 // "s", "seq": quoted or bare
	HasSeq        bool
	Expiration    uint64 // "e", "expiration": quoted or bare
	HasExpiration bool

	CorrelationID []byte // "x"
	SowKey        []byte // "k"
	Options       []byte // "o", "opts"
	ClientName    []byte // "client_name"
	UserID        []byte // "user_id"
	Password      []byte // "pw", "auth_key"
	Version       []byte // "version"
	MessageType   []byte // "mt"
	Bookmark      []byte // "bm", "bookmark"
	Status        []byte // "status"
	Reason        []byte // "reason"
	Timestamp     []byte // "ts"
	SubID         []byte // "sub_id"
	SubIDs        []byte // "sids", "sub_ids"
	Filter        []byte // "filter"

	Length    uint64 // "l": quoted or bare
	HasLength bool
}

// Reset clears every field.
func (h *Header) Reset() { *h = Header{} }

// Byte classes for header strings (keys and values) in Parse.
const (
	strPlain   = 0
	strQuote   = 1 // closing '"'
	strEscape  = 2 // '\'
	strControl = 3 // < 0x20, 0x7f
)

var strClass = func() (t [256]uint8) {
	for c := 0; c < 0x20; c++ {
		t[c] = strControl
	}
	t[0x7f] = strControl
	t['"'] = strQuote
	t['\\'] = strEscape
	return t
}()

// bareByte marks the bytes that may form an unquoted value: number characters
// (0-9 - + . e E) and the letters of true, false, null.
var bareByte = func() (t [256]bool) {
	for _, c := range []byte("0123456789-+.eEtruefalsn") {
		t[c] = true
	}
	return t
}()

func headerErr(off int, reason string) error { return &HeaderError{Offset: off, Reason: reason} }

// Parse parses the header at the start of body (the frame after the 4-byte prefix) and returns
// the payload: every byte after the header's closing '}', possibly empty. h is reset first; on
// error it is reset again and payload is nil.
//
// Accepted: every spelling of amps-protocol.md §3 "Accepted names" (see the field comments);
// unknown keys are ignored (their values must still be well formed); for a duplicate key the
// last one wins; "s", "e" and "l" may be quoted or bare unsigned decimal numbers; any string
// field may also be a bare token (number characters, or true/false/null), kept as its text.
//
// Strict: see the package documentation for the complete list of rejected input. The error is
// *HeaderError with errors.Is(err, ErrMalformedHeader).
//
// Parse never panics and runs in time linear in the header length. It does not allocate
// unless it fails. Escaped strings are rewritten in place, so body is modified and must not be
// parsed a second time.
func (h *Header) Parse(body []byte) (payload []byte, err error) {
	*h = Header{}
	payload, err = h.parse(body)
	if err != nil {
		*h = Header{}
		return nil, err
	}
	return payload, nil
}

func (h *Header) parse(b []byte) ([]byte, error) {
	n := len(b)
	if n == 0 {
		return nil, headerErr(0, "empty frame")
	}
	if b[0] != '{' {
		return nil, headerErr(0, "expected '{'")
	}
	if n > 1 && b[1] == '}' {
		return nil, headerErr(1, "empty header")
	}
	i := 1
	for {
		// Key.
		if i >= n {
			return nil, headerErr(i, "unexpected end of header")
		}
		if b[i] != '"' {
			return nil, headerErr(i, "expected '\"' to start a key")
		}
		key, next, err := parseString(b, i+1)
		if err != nil {
			return nil, err
		}
		i = next
		if i >= n {
			return nil, headerErr(i, "unexpected end of header")
		}
		if b[i] != ':' {
			return nil, headerErr(i, "expected ':'")
		}
		i++
		if i >= n {
			return nil, headerErr(i, "unexpected end of header")
		}

		// Value.
		vstart := i
		var val []byte
		if b[i] == '"' {
			if val, i, err = parseString(b, i+1); err != nil {
				return nil, err
			}
		} else {
			for i < n && bareByte[b[i]] {
				i++
			}
			val = b[vstart:i]
			if !validBare(val) {
				return nil, headerErr(vstart, "invalid value")
			}
		}
		if err := h.set(key, val, vstart); err != nil {
			return nil, err
		}

		// Separator.
		if i >= n {
			return nil, headerErr(i, "missing '}'")
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			return b[i+1:], nil
		default:
			return nil, headerErr(i, "expected ',' or '}'")
		}
	}
}

// validBare reports whether v is a bare token: one or more number characters, or exactly
// true, false or null.
func validBare(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	switch string(v) {
	case "true", "false", "null":
		return true
	}
	for _, c := range v {
		if (c < '0' || c > '9') && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
			return false
		}
	}
	return true
}

// parseString scans the string starting at b[i] (just after its opening quote) and returns its
// content, unescaped in place, and the index just after the closing quote.
func parseString(b []byte, i int) (s []byte, next int, err error) {
	start := i
	for ; i < len(b); i++ {
		switch strClass[b[i]] {
		case strPlain:
			continue
		case strQuote:
			return b[start:i], i + 1, nil
		case strControl:
			return nil, 0, headerErr(i, "control character in string")
		}
		// Escape: validate all of them, then unescape in place.
		return unescape(b, start, i)
	}
	return nil, 0, headerErr(len(b), "unterminated string")
}

// unescape continues parseString from the first backslash at b[i]. Accepted escapes: `\"`,
// `\\`, `\/` and a backslash before any other printable byte (giving that byte), as the
// official parser does, except `\u` (the official parser silently drops it) and `\b \f \n \r
// \t` (they would put a control character in the value), which are rejected.
func unescape(b []byte, start, i int) ([]byte, int, error) {
	w := i
	for i < len(b) {
		c := b[i]
		switch strClass[c] {
		case strPlain:
			b[w] = c
			w++
			i++
			continue
		case strQuote:
			return b[start:w], i + 1, nil
		case strControl:
			return nil, 0, headerErr(i, "control character in string")
		}
		// Backslash.
		if i+1 >= len(b) {
			return nil, 0, headerErr(len(b), "unterminated string")
		}
		e := b[i+1]
		switch e {
		case 'u':
			return nil, 0, headerErr(i, `\u escape not supported`)
		case 'b', 'f', 'n', 'r', 't':
			return nil, 0, headerErr(i, "escape of a control character")
		}
		if strClass[e] == strControl {
			return nil, 0, headerErr(i+1, "control character in string")
		}
		b[w] = e
		w++
		i += 2
	}
	return nil, 0, headerErr(len(b), "unterminated string")
}

// parseUint parses an unsigned decimal number: one or more digits, no sign, no overflow.
func parseUint(v []byte) (uint64, bool) {
	if len(v) == 0 || len(v) > 20 {
		return 0, false
	}
	var x uint64
	for _, c := range v {
		d := uint64(c) - '0'
		if d > 9 {
			return 0, false
		}
		if x > (1<<64-1-d)/10 {
			return 0, false
		}
		x = x*10 + d
	}
	return x, true
}

// set stores one key's value; off is the value's offset for errors.
func (h *Header) set(key, val []byte, off int) error {
	switch string(key) {
	case "c", "cmd":
		h.CommandRaw = val
		h.Command = ParseCommand(val)
	case "cid", "cmd_id":
		h.CommandID = val
	case "t", "topic":
		h.Topic = val
	case "a", "ack", "ack_type":
		h.AckRaw = val
		h.Ack, _, _ = parseAckList(val)
	case "s", "seq":
		x, ok := parseUint(val)
		if !ok {
			return headerErr(off, "bad number for s")
		}
		h.Seq, h.HasSeq = x, true
	case "e", "expiration":
		x, ok := parseUint(val)
		if !ok {
			return headerErr(off, "bad number for e")
		}
		h.Expiration, h.HasExpiration = x, true
	case "l":
		x, ok := parseUint(val)
		if !ok {
			return headerErr(off, "bad number for l")
		}
		h.Length, h.HasLength = x, true
	case "x":
		h.CorrelationID = val
	case "k":
		h.SowKey = val
	case "o", "opts":
		h.Options = val
	case "client_name":
		h.ClientName = val
	case "user_id":
		h.UserID = val
	case "pw", "auth_key":
		h.Password = val
	case "version":
		h.Version = val
	case "mt":
		h.MessageType = val
	case "bm", "bookmark":
		h.Bookmark = val
	case "status":
		h.Status = val
	case "reason":
		h.Reason = val
	case "ts":
		h.Timestamp = val
	case "sub_id":
		h.SubID = val
	case "sids", "sub_ids":
		h.SubIDs = val
	case "filter":
		h.Filter = val
	}
	return nil
}
