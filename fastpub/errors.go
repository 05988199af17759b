package fastpub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/fastpub/fastpub/connstr"
	"github.com/fastpub/fastpub/frame"
)

// Sentinel errors. Every error a Client returns matches one of these with
// errors.Is; struct errors below carry the details and unwrap to the cause.
var (
	// ErrInvalidURI: the connection string does not parse. It is the same
	// value as connstr.ErrInvalidURI; errors.As reaches *connstr.Error for
	// the offending key.
	ErrInvalidURI = connstr.ErrInvalidURI
	// ErrNotConnected: Logon or a publish before a successful Connect.
	ErrNotConnected = errors.New("fastpub: not connected")
	// ErrNotLoggedOn: a publish before a successful Logon.
	ErrNotLoggedOn = errors.New("fastpub: not logged on")
	// ErrAlreadyConnected: Connect on a client that already has a connection.
	ErrAlreadyConnected = errors.New("fastpub: already connected")
	// ErrClosed: the client was closed by Close.
	ErrClosed = errors.New("fastpub: client closed")
	// ErrDisconnected: the connection failed or the server closed it. The
	// *ConnectionError that carries it unwraps to the operating system's error.
	ErrDisconnected = errors.New("fastpub: disconnected")
	// ErrConnect: Connect could not reach the server (refused, unreachable,
	// TLS handshake failed). The *ConnectionError unwraps to the cause.
	ErrConnect = errors.New("fastpub: connect failed")
	// ErrTimedOut: a context deadline passed before the server answered
	// (logon, flush). The *TimedOutError also matches the context's error.
	ErrTimedOut = errors.New("fastpub: timed out")
	// ErrBufferFull: TryPublish found the send buffer full.
	ErrBufferFull = errors.New("fastpub: send buffer full")
	// ErrMessageTooLarge: a message whose frame is larger than the
	// configured maximum (WithMaxMessageSize). Nothing was sent.
	ErrMessageTooLarge = errors.New("fastpub: message too large")
	// ErrInvalidTopic: an empty topic, one with a control character, or the
	// server's "invalid topic" reason.
	ErrInvalidTopic = errors.New("fastpub: invalid topic")
	// ErrInvalidValue: a value the client refuses before anything is sent:
	// a header value (correlation id, SOW key, client name, user, logon
	// option) with a control character, an expiration the wire cannot
	// carry, a nil *Message, or a client option out of its range (an
	// *OptionError names it).
	ErrInvalidValue = errors.New("fastpub: invalid value")
	// ErrProtocol: the server sent bytes that are not a valid AMPS frame.
	ErrProtocol = errors.New("fastpub: protocol error")
	// ErrStore: the publish store failed at the first logon (its Recover or
	// Begin returned an error, which the error also matches), or holds more
	// from an earlier process than the client's limits can load.
	ErrStore = errors.New("fastpub: publish store")

	// Failures reported by the server (amps-protocol.md §6). A *ServerError
	// matches exactly one of these.
	ErrAuthentication     = errors.New("fastpub: authentication failed")
	ErrNameInUse          = errors.New("fastpub: client name in use")
	ErrDuplicateLogon     = errors.New("fastpub: duplicate logon attempt")
	ErrLogonRequired      = errors.New("fastpub: logon required")
	ErrNotEntitled        = errors.New("fastpub: not entitled")
	ErrInvalidOptions     = errors.New("fastpub: invalid options")
	ErrInvalidMessageType = errors.New("fastpub: invalid message type")
	ErrMissingFields      = errors.New("fastpub: missing fields")
	ErrPublish            = errors.New("fastpub: publish failed")
	ErrCommand            = errors.New("fastpub: command failed")
)

// ServerError is a failure the server reported in an ack. errors.Is matches it
// against the sentinel for its reason (ErrAuthentication for "auth failure",
// ErrNameInUse for "name in use", ...); an unknown reason matches ErrCommand.
type ServerError struct {
	Command string // the command that failed: "logon", "flush", "publish"
	Status  string // "failure" (or "retry" past the retry limit)
	Reason  string // the server's reason text, verbatim
}

func (e *ServerError) Error() string {
	if e.Reason == "" {
		return "fastpub: " + e.Command + " failed: " + e.Status
	}
	return "fastpub: " + e.Command + " failed: " + e.Reason
}

// Unwrap returns the sentinel for the reason, so errors.Is works.
func (e *ServerError) Unwrap() error { return reasonSentinel(e.Reason) }

// reasonSentinel maps a server reason to its sentinel, following the official
// C++ client's mapping (Message.hpp throwFor).
func reasonSentinel(reason string) error {
	switch reason {
	case "auth failure", "authentication disabled":
		return ErrAuthentication
	case "name in use":
		return ErrNameInUse
	case "duplicate logon attempt":
		return ErrDuplicateLogon
	case "logon required":
		return ErrLogonRequired
	case "not entitled":
		return ErrNotEntitled
	case "invalid topic", "invalid topic or filter":
		return ErrInvalidTopic
	case "invalid options":
		return ErrInvalidOptions
	case "invalid message type":
		return ErrInvalidMessageType
	case "no client name", "no topic or filter", "no filter or bookmark", "orderby required":
		return ErrMissingFields
	case "tx store failure", "sow store failed":
		return ErrPublish
	}
	return ErrCommand
}

// ConnectionError is a transport failure: connect, read or write. It unwraps
// both to its kind (ErrConnect or ErrDisconnected) and to the operating
// system's error, so errors.As reaches the *net.OpError and syscall.Errno, as
// the official client's exception holds the inner socket exception.
//
// The password never appears in its text, in any fmt verb (%v, %+v, %#v,
// %s, %q) or in log/slog: the URI is redacted, and so is any occurrence of
// the password's text in the cause's text (an operating system's error names
// the host or the unix path, which may contain it). When the cause's text
// contains the password, Err is a wrapper with the redacted text that
// unwraps to the cause; errors.As still reaches the cause itself, whose own
// text is the operating system's.
type ConnectionError struct {
	Op  string // "connect", "read" (a heartbeat timeout too: see WithHeartbeat), "write"
	URI string // the connection string with the password redacted
	Err error  // the cause: *net.OpError, *os.SyscallError, io.EOF, ...
	// kind is ErrConnect or ErrDisconnected.
	kind error
	msg  string // the redacted text, when built by newConnErr
}

// newConnErr builds a *ConnectionError for u, redacting u's password from
// every text it holds.
func newConnErr(op string, u *connstr.URI, cause error, kind error) *ConnectionError {
	e := &ConnectionError{Op: op, Err: cause, kind: kind}
	if u == nil {
		e.msg = e.text()
		return e
	}
	e.URI = u.String()
	if pw := u.Password; pw != "" && cause != nil && strings.Contains(cause.Error(), pw) {
		e.Err = &redactedError{msg: connstr.RedactString(cause.Error(), pw), err: cause}
	}
	e.msg = connstr.RedactString(e.text(), u.Password)
	return e
}

// redactedError is a cause whose text had the password in it.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// Format prints the redacted text for every verb.
func (e *redactedError) Format(f fmt.State, verb rune) { formatText(f, verb, e.msg) }

// Error returns the redacted text.
func (e *ConnectionError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return e.text()
}

// Format prints the redacted text for every verb (%#v too, which would
// otherwise print the cause's fields).
func (e *ConnectionError) Format(f fmt.State, verb rune) { formatText(f, verb, e.Error()) }

// LogValue makes log/slog record the redacted text.
func (e *ConnectionError) LogValue() slog.Value { return slog.StringValue(e.Error()) }

func formatText(f fmt.State, verb rune, s string) {
	if verb == 'q' {
		s = strconv.Quote(s)
	}
	io.WriteString(f, s)
}

func (e *ConnectionError) text() string {
	msg := "fastpub: " + e.Op
	if e.URI != "" {
		msg += " " + e.URI
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the kind sentinel and the cause.
func (e *ConnectionError) Unwrap() []error { return []error{e.kind, e.Err} }

// TimedOutError is returned when a context ends before the server answered.
// It matches ErrTimedOut and the context's own error (context.DeadlineExceeded
// or context.Canceled); Timeout reports true for a deadline.
type TimedOutError struct {
	Op  string // "logon", "flush", "publish"
	Err error  // ctx.Err()
}

func (e *TimedOutError) Error() string { return "fastpub: " + e.Op + " timed out: " + e.Err.Error() }

// Unwrap returns ErrTimedOut and the context's error.
func (e *TimedOutError) Unwrap() []error { return []error{ErrTimedOut, e.Err} }

// Timeout reports whether the context's deadline passed (as net.Error does).
func (e *TimedOutError) Timeout() bool { return errors.Is(e.Err, context.DeadlineExceeded) }

// MessageTooLargeError reports a message over the configured maximum.
type MessageTooLargeError struct {
	Size int // the frame's size in bytes, header included
	Max  int // the limit (WithMaxMessageSize)
}

func (e *MessageTooLargeError) Error() string {
	return "fastpub: message too large: frame of " + strconv.Itoa(e.Size) + " bytes, limit " + strconv.Itoa(e.Max)
}

// Unwrap returns ErrMessageTooLarge.
func (e *MessageTooLargeError) Unwrap() error { return ErrMessageTooLarge }

// OptionError is a client option (NewClient) out of its range. It matches
// ErrInvalidValue.
type OptionError struct {
	Option string // "WithBufferSize", "WithHeartbeat", ...
	Value  string // the value given
	Reason string // the range it must be in
}

func (e *OptionError) Error() string {
	return "fastpub: invalid value: " + e.Option + "(" + e.Value + "): " + e.Reason
}

// Unwrap returns ErrInvalidValue.
func (e *OptionError) Unwrap() error { return ErrInvalidValue }

// CloseTimeoutError is returned by Close when the close timeout
// (WithCloseTimeout) passed before everything queued was written: the
// connection was dropped and Frames frames (messages, and any control
// frames queued with them; a frame cut by a partial write counts as not
// written) of Bytes bytes were lost. It matches ErrTimedOut and
// context.DeadlineExceeded; Timeout reports true.
type CloseTimeoutError struct {
	After  time.Duration // the close timeout
	Frames uint64        // frames queued and not written whole
	Bytes  uint64        // bytes queued and not written
}

func (e *CloseTimeoutError) Error() string {
	return "fastpub: close timed out after " + e.After.String() + ": " +
		strconv.FormatUint(e.Frames, 10) + " queued messages (" + strconv.FormatUint(e.Bytes, 10) + " bytes) not written"
}

// Unwrap returns ErrTimedOut and context.DeadlineExceeded.
func (e *CloseTimeoutError) Unwrap() []error { return []error{ErrTimedOut, context.DeadlineExceeded} }

// Timeout reports true (as net.Error does).
func (e *CloseTimeoutError) Timeout() bool { return true }

// fieldError wraps an encoder's complaint about one header field into the
// client's sentinel: the topic gets ErrInvalidTopic, anything else
// ErrInvalidValue.
type fieldError struct {
	sentinel error
	cause    error
}

func (e *fieldError) Error() string       { return fmt.Sprintf("%v: %v", e.sentinel, e.cause) }
func (e *fieldError) Unwrap() []error     { return []error{e.sentinel, e.cause} }
func ctxError(op string, err error) error { return &TimedOutError{Op: op, Err: err} }

// protocolErr marks a cause (an unparsable or oversized inbound frame) as
// ErrProtocol; the *ConnectionError that carries it adds ErrDisconnected.
func protocolErr(cause error) error { return &fieldError{sentinel: ErrProtocol, cause: cause} }

// storeErr marks a failure of the publish store at recovery as ErrStore.
func storeErr(cause error) error { return &fieldError{sentinel: ErrStore, cause: cause} }

// readErr classifies an error from the frame reader: an inbound frame over
// the limit is a protocol error, anything else the transport's.
func readErr(err error) error {
	if errors.Is(err, frame.ErrFrameTooLarge) {
		return protocolErr(err)
	}
	return err
}
func isCtxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// UndeliveredError is returned by Close on a client that was disconnected or
// reconnecting: the frames still queued (with a store: not yet persisted)
// are lost with the client. It unwraps to why the client was disconnected
// (a *ConnectionError, ErrDisconnected, ...).
type UndeliveredError struct {
	Frames uint64 // frames (messages and control frames) not delivered
	Bytes  uint64
	Err    error // the disconnect's cause
}

func (e *UndeliveredError) Error() string {
	return "fastpub: closed while disconnected: " + strconv.FormatUint(e.Frames, 10) +
		" queued messages (" + strconv.FormatUint(e.Bytes, 10) + " bytes) not delivered: " + e.Err.Error()
}

// Unwrap returns the disconnect's cause.
func (e *UndeliveredError) Unwrap() error { return e.Err }
