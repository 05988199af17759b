package frame

import "strconv"

// Command identifies a header's "c" value.
type Command uint8

// Commands. The numeric values are internal to this package; only the names are stable.
const (
	CmdUnknown              Command = iota // absent or unrecognised "c"
	CmdPublish                             // wire "p" when sent; "publish" or "p" accepted
	CmdDeltaPublish                        // "delta_publish" (never abbreviated)
	CmdLogon                               // "logon"
	CmdFlush                               // "flush"
	CmdHeartbeat                           // "heartbeat"
	CmdAck                                 // "ack"
	CmdSubscribe                           // "subscribe"
	CmdUnsubscribe                         // "unsubscribe"
	CmdSOW                                 // "sow"
	CmdSOWAndSubscribe                     // "sow_and_subscribe"
	CmdDeltaSubscribe                      // "delta_subscribe"
	CmdSOWDelete                           // "sow_delete"
	CmdStopTimer                           // "stop_timer"
	CmdSOWAndDeltaSubscribe                // "sow_and_delta_subscribe"
	CmdGroupBegin                          // "group_begin" (SOW result framing)
	CmdGroupEnd                            // "group_end" (SOW result framing)
	CmdOOF                                 // "oof" (out-of-focus notification)
	numCommands
)

var commandNames = [numCommands]string{
	CmdUnknown:              "unknown",
	CmdPublish:              "publish",
	CmdDeltaPublish:         "delta_publish",
	CmdLogon:                "logon",
	CmdFlush:                "flush",
	CmdHeartbeat:            "heartbeat",
	CmdAck:                  "ack",
	CmdSubscribe:            "subscribe",
	CmdUnsubscribe:          "unsubscribe",
	CmdSOW:                  "sow",
	CmdSOWAndSubscribe:      "sow_and_subscribe",
	CmdDeltaSubscribe:       "delta_subscribe",
	CmdSOWDelete:            "sow_delete",
	CmdStopTimer:            "stop_timer",
	CmdSOWAndDeltaSubscribe: "sow_and_delta_subscribe",
	CmdGroupBegin:           "group_begin",
	CmdGroupEnd:             "group_end",
	CmdOOF:                  "oof",
}

// String returns the canonical long name ("publish", "delta_publish", "logon", ...). Note that
// encoders send CmdPublish as "p", not as its String.
func (c Command) String() string {
	if c < numCommands {
		return commandNames[c]
	}
	return "Command(" + strconv.Itoa(int(c)) + ")"
}

// wire returns the spelling an encoder sends.
func (c Command) wire() string {
	if c == CmdPublish {
		return "p"
	}
	return c.String()
}

// ParseCommand classifies a "c" value: "p" and "publish" give CmdPublish, every other
// command by its exact long name; anything else gives CmdUnknown. It does not allocate.
func ParseCommand(b []byte) Command {
	switch string(b) {
	case "p", "publish":
		return CmdPublish
	case "delta_publish":
		return CmdDeltaPublish
	case "logon":
		return CmdLogon
	case "flush":
		return CmdFlush
	case "heartbeat":
		return CmdHeartbeat
	case "ack":
		return CmdAck
	case "subscribe":
		return CmdSubscribe
	case "unsubscribe":
		return CmdUnsubscribe
	case "sow":
		return CmdSOW
	case "sow_and_subscribe":
		return CmdSOWAndSubscribe
	case "delta_subscribe":
		return CmdDeltaSubscribe
	case "sow_delete":
		return CmdSOWDelete
	case "stop_timer":
		return CmdStopTimer
	case "sow_and_delta_subscribe":
		return CmdSOWAndDeltaSubscribe
	case "group_begin":
		return CmdGroupBegin
	case "group_end":
		return CmdGroupEnd
	case "oof":
		return CmdOOF
	}
	return CmdUnknown
}

// AckType is a bit set of acknowledgement types; the wire carries a comma list in bit order
// ("processed,persisted"). The bit values match the official clients' internal ones.
type AckType uint8

// Ack types.
const (
	AckNone      AckType = 0
	AckReceived  AckType = 1
	AckParsed    AckType = 2
	AckProcessed AckType = 4
	AckPersisted AckType = 8
	AckCompleted AckType = 16
	AckStats     AckType = 32

	ackAll = AckReceived | AckParsed | AckProcessed | AckPersisted | AckCompleted | AckStats
)

var ackWords = [...]string{"received", "parsed", "processed", "persisted", "completed", "stats"}

// ackNames[a] is the wire text of every valid AckType, built once so that encoders append a
// single precomputed string.
var ackNames = func() (t [ackAll + 1]string) {
	t[0] = "none"
	for a := 1; a <= int(ackAll); a++ {
		var b []byte
		for i, w := range ackWords {
			if a&(1<<i) != 0 {
				if len(b) > 0 {
					b = append(b, ',')
				}
				b = append(b, w...)
			}
		}
		t[a] = string(b)
	}
	return t
}()

// Has reports whether every bit of x is set in a.
func (a AckType) Has(x AckType) bool { return a&x == x }

// String returns the wire text: "processed,persisted", or "none" for AckNone. A value with bits
// outside the six defined ones gives "AckType(0xNN)".
func (a AckType) String() string {
	if a&^ackAll != 0 {
		return "AckType(0x" + strconv.FormatUint(uint64(a), 16) + ")"
	}
	return ackNames[a]
}

// AppendAckType appends the wire text of a ("none" for AckNone) to dst. Bits outside the six
// defined ones are ignored.
func AppendAckType(dst []byte, a AckType) []byte {
	return append(dst, ackNames[a&ackAll]...)
}

// ackWord maps one word to its bit; ok is false for an unknown word. "none" maps to 0.
func ackWord(w []byte) (AckType, bool) {
	switch string(w) {
	case "received":
		return AckReceived, true
	case "parsed":
		return AckParsed, true
	case "processed":
		return AckProcessed, true
	case "persisted":
		return AckPersisted, true
	case "completed":
		return AckCompleted, true
	case "stats":
		return AckStats, true
	case "none":
		return AckNone, true
	}
	return 0, false
}

// ParseAckType parses a comma list of ack types in any order. An empty list and "none" give
// AckNone. An unknown or empty word gives *AckTypeError (errors.Is(err, ErrUnknownAckType)).
// It does not allocate unless it fails.
func ParseAckType(b []byte) (AckType, error) {
	a, bad, ok := parseAckList(b)
	if !ok {
		return 0, &AckTypeError{Word: string(bad)}
	}
	return a, nil
}

// parseAckList returns the bits of every known word; ok is false, and bad the first unknown
// word, if any word is unknown or empty. Known words are still accumulated in a.
func parseAckList(b []byte) (a AckType, bad []byte, ok bool) {
	if len(b) == 0 {
		return 0, nil, true
	}
	ok = true
	for start := 0; start <= len(b); {
		end := start
		for end < len(b) && b[end] != ',' {
			end++
		}
		w := b[start:end]
		if bit, known := ackWord(w); known {
			a |= bit
		} else if ok {
			ok, bad = false, w
		}
		start = end + 1
	}
	return a, bad, ok
}
