// Package frame implements AMPS TCP framing: allocation-free encoders for the commands a
// publisher sends (and the few a test server sends back), a strict zero-allocation header
// parser, and a streaming frame Reader.
//
// # Layout
//
// A frame is a 4-byte big-endian length N (PrefixLen; N excludes the prefix itself) followed
// by N bytes: a compact JSON-like header object and then the payload, which is every byte after
// the header's closing '}' (there is no payload length and no terminator):
//
//	00 00 00 35 {"c":"p","t":"orders","a":"persisted","s":43}{"id":1}
//
// The header is a flat object of "key":value pairs. Values are double-quoted strings or bare
// tokens (numbers, true, false, null). See the project's AMPS protocol notes
// (amps-protocol.md) §2 and §3.
//
// # Encoders
//
// Every AppendX function appends one complete frame (prefix, header, payload) to dst and
// returns the extended slice, in the style of strconv.AppendInt. Encoders:
//
//   - never allocate when dst has enough spare capacity (PublishLen gives the exact size of a
//     publish, so a caller can claim ring space first);
//   - write compact headers with no whitespace at all, keys only in their "sent as" spelling,
//     and fields in a fixed order (the official C client's, documented on each type);
//   - escape `\` as `\\` and `"` as `\"` in every string value, and refuse control characters
//     (bytes < 0x20 and 0x7f) with *InvalidValueError (errors.Is(err, ErrInvalidValue)); bytes
//     >= 0x80 are copied verbatim;
//   - write publish as "c":"p" and delta_publish unabbreviated; "s" as a bare number and "e"
//     quoted, as the official C client does;
//   - on error return dst truncated to its original length (bytes beyond it, inside its
//     capacity, may have been overwritten); errors never contain a field's value.
//
// Zero values mean "absent": empty strings, AckNone and Seq 0 are omitted (Expiration is
// written when non-zero or HasExpiration; Ack.Seq and Delivery.Seq when HasSeq).
//
// # Parser
//
// Header.Parse decodes a header without allocating: []byte fields are sub-slices of the frame,
// and strings with escapes are unescaped in place. It accepts every key spelling of
// amps-protocol.md §3 "Accepted names", ignores unknown keys, lets the last duplicate win, and
// accepts "s", "e" and "l" quoted or bare.
//
// Strict means Parse rejects (with *HeaderError, errors.Is(err, ErrMalformedHeader)) anything
// the official C parser would reject, mangle, spin on or abort on, so a test server built on
// it catches a client that sends such headers:
//
//   - an empty body, any byte before '{' (the C parser skips them; we do not), an empty
//     header {};
//   - any whitespace outside strings (after ':' or ',', before '}', inside numbers);
//   - a missing ':' or ',' or closing '}', a trailing comma, a non-string key, a missing value,
//     nested objects or arrays;
//   - an unterminated string; a raw control character (< 0x20, 0x7f) in a key or value;
//   - the escapes \uXXXX (silently dropped by the C parser) and \b \f \n \r \t (they decode
//     to control characters); a backslash before any other printable byte gives that byte;
//   - a bare value that is neither a run of number characters (0-9 - + . e E) nor true, false
//     or null;
//   - an "s", "e" or "l" value that is not an unsigned decimal uint64.
//
// Not rejected, unlike the C parser: unknown keys (ignored, as the AMPS protocol notes advise
// for receivers) and unknown ack-type words (dropped from Header.Ack, kept in Header.AckRaw).
// Keys are matched exactly, so the C parser's look-alike quirks ("zs" read as "ts",
// "password" as a bookmark) do not exist here: such keys are unknown and ignored.
//
// Parse never panics, and each call runs in time linear in the header length.
//
// # Reader
//
// Reader returns one frame body per Next call, reassembling frames split across reads and
// serving many frames from one read; it compacts its buffer before reading and grows it (never
// beyond the maximum frame size) only for a frame larger than any seen before. A body is valid
// until the next call to Next.
package frame
